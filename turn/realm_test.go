package turn_test

import (
	"testing"

	"github.com/pion/stun/v4"
)

// TestForeignRealmIsRefused: an Allocate with the right credentials, whose REALM and key
// (MD5 of username:realm:password, RFC 8489 section 9.2.2) name a realm other than the
// server's, is refused with a 401; the same request in the server's realm opens a
// relay.
func TestForeignRealmIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	user, pass := f.creds(t)
	c := listenUDP(t, "127.0.0.1:0")
	f.ask(t, c, bareAllocate(t))
	challenge := want401(t, c)
	var nonce stun.Nonce
	var realm stun.Realm
	if err := nonce.GetFrom(challenge); err != nil {
		t.Fatal(err)
	}
	if err := realm.GetFrom(challenge); err != nil {
		t.Fatal(err)
	}
	allocate := func(realm string) *stun.Message {
		t.Helper()
		f.ask(t, c, stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
			stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}},
			stun.NewUsername(user), stun.NewRealm(realm), nonce,
			stun.NewLongTermIntegrity(user, realm, pass)).Raw)
		return answer(t, c)
	}
	for _, foreign := range []string{"elsewhere", realm.String() + "x", ""} {
		m := allocate(foreign)
		var code stun.ErrorCodeAttribute
		if err := code.GetFrom(m); err != nil || code.Code != stun.CodeUnauthorized {
			t.Fatalf("realm %q: %v, want a 401", foreign, m)
		}
	}
	if n := f.srv.AllocationCount(); n != 0 {
		t.Fatalf("%d allocations in foreign realms", n)
	}
	if m := allocate(realm.String()); m.Type != stun.NewType(stun.MethodAllocate, stun.ClassSuccessResponse) {
		t.Fatalf("realm %q: %v, want a relay", realm, m)
	}
}
