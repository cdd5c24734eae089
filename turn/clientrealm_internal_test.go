package turn

import (
	"bytes"
	"net"
	"testing"

	"github.com/pion/stun/v4"
)

// FuzzWithRealm: whatever the bytes, withRealm does not panic, and what it makes of a
// message is that message with its REALM replaced: the same type, transaction and
// other attributes in order, a FINGERPRINT (last, and correct) where it had one; it
// leaves alone what does not decode, holds no REALM or holds MESSAGE-INTEGRITY.
func FuzzWithRealm(f *testing.F) {
	f.Add(stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassErrorResponse),
		stun.CodeUnauthorized, stun.NewNonce("abc"), stun.NewRealm("conclave")).Raw)
	f.Add(stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodRefresh, stun.ClassErrorResponse),
		stun.CodeStaleNonce, stun.NewRealm("conclave"), stun.NewNonce("abc"), stun.Fingerprint).Raw)
	f.Add(stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassErrorResponse),
		stun.CodeUnauthorized, stun.NewRealm("conclave"), stun.NewShortTermIntegrity("key")).Raw)
	f.Add(stun.MustBuild(stun.TransactionID, stun.BindingSuccess, &stun.XORMappedAddress{IP: net.IPv4(192, 0, 2, 1), Port: 9}).Raw)
	f.Add([]byte{0x01, 0x13, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42})
	const realm = "AAAAAAAAAAAA"
	f.Fuzz(func(t *testing.T, b []byte) {
		in := append([]byte(nil), b...)
		out, ok := withRealm(b, realm)
		if !bytes.Equal(in, b) {
			t.Fatal("withRealm changed its input")
		}
		m := &stun.Message{Raw: in}
		decodes := m.Decode() == nil
		if !decodes || !m.Contains(stun.AttrRealm) || m.Contains(stun.AttrMessageIntegrity) || m.Contains(stun.AttrMessageIntegritySHA256) {
			if ok {
				t.Fatalf("%x rewritten: %x", b, out)
			}
			return
		}
		if !ok {
			t.Fatalf("%x (%v) not rewritten", b, m)
		}
		got := &stun.Message{Raw: out}
		if err := got.Decode(); err != nil {
			t.Fatalf("%x rewritten into %x, which does not decode: %v", b, out, err)
		}
		if got.Type != m.Type || got.TransactionID != m.TransactionID {
			t.Fatalf("%v rewritten into %v", m, got)
		}
		var want []stun.RawAttribute
		for _, a := range m.Attributes {
			switch a.Type {
			case stun.AttrRealm:
				want = append(want, stun.RawAttribute{Type: a.Type, Value: []byte(realm)})
			case stun.AttrFingerprint:
			default:
				want = append(want, a)
			}
		}
		attrs := got.Attributes
		if m.Contains(stun.AttrFingerprint) {
			if len(attrs) == 0 || attrs[len(attrs)-1].Type != stun.AttrFingerprint || stun.Fingerprint.Check(got) != nil {
				t.Fatalf("%v rewritten into %v: no valid FINGERPRINT last", m, got)
			}
			attrs = attrs[:len(attrs)-1]
		}
		if len(attrs) != len(want) {
			t.Fatalf("%v rewritten into %v", m, got)
		}
		for i := range want {
			if attrs[i].Type != want[i].Type || !bytes.Equal(attrs[i].Value, want[i].Value) {
				t.Fatalf("%v rewritten into %v: attribute %d is %v, want %v", m, got, i, attrs[i], want[i])
			}
		}
	})
}
