package e2ee

import (
	"bytes"
	"crypto/ecdh"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"testing"
)

// Regenerate with: go test ./e2ee -run TestVectors -update
var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the implementation")

const vectorsPath = "testdata/vectors.json"

// errCode names an error the way the JavaScript modules do (E2EEError.code).
func errCode(err error) string {
	for _, c := range []struct {
		err  error
		code string
	}{
		{ErrTooShort, "too-short"}, {ErrUnknownKey, "unknown-key"}, {ErrAuth, "auth"},
		{ErrMalformed, "malformed"}, {ErrBadID, "bad-id"},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	if err == nil {
		return "ok"
	}
	return "other: " + err.Error()
}

func kindOf(s string) Kind {
	if s == "opus" {
		return Opus
	}
	return VP8
}

// pattern returns n bytes start, start+1, … (mod 256): readable fixed inputs.
func pattern(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// RFC 7748 section 6.1: Alice's and Bob's X25519 keys and their shared secret.
var (
	rfcAlicePriv = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	rfcAlicePub  = unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
	rfcBobPriv   = unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
	rfcBobPub    = unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
	rfcShared    = unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
)

func mustPriv(b []byte) *ecdh.PrivateKey {
	k, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		panic(err)
	}
	return k
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func indexOf(c byte) int { return bytes.IndexByte([]byte(alphabet), c) }

func flip(b []byte, i int) []byte { b[i] ^= 1; return b }

// sealRaw is AES-GCM with iv prepended, for inputs the API refuses to make.
func sealRaw(key, iv, pt, aad []byte) []byte {
	g := must(newGCM(key))
	return g.Seal(bytes.Clone(iv), iv, pt, aad)
}

// check verifies every vector from its inputs, in both directions.
func check(t *testing.T, v *vectors) {
	t.Helper()
	eq := func(what string, got, want []byte) {
		t.Helper()
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %x\nwant %x", what, got, want)
		}
	}
	ki, kc := DeriveMeetingKeys(v.Meeting.Secret)
	eq("meeting identityKey", ki, v.Meeting.IdentityKey)
	eq("meeting chatKey", kc, v.Meeting.ChatKey)

	if len(v.Identities) != 2 || len(v.Pairwise) == 0 {
		t.Fatal("vectors need two identities and a pair")
	}
	for _, id := range v.Identities {
		priv := mustPriv(id.PrivateKey)
		eq("public key of "+id.ParticipantID, priv.PublicKey().Bytes(), id.PublicKey)
		eq("tag of "+id.ParticipantID, IdentityTag(ki, id.ParticipantID, id.PublicKey), id.Tag)
		if !VerifyIdentity(ki, id.ParticipantID, id.PublicKey, id.Tag) {
			t.Errorf("VerifyIdentity(%s) = false", id.ParticipantID)
		}
		if VerifyIdentity(ki, id.ParticipantID+"x", id.PublicKey, id.Tag) {
			t.Errorf("VerifyIdentity accepts the tag of %s for another id", id.ParticipantID)
		}
	}
	a, b := v.Identities[0], v.Identities[1]
	for _, p := range v.Pairwise {
		shared := must(mustPriv(a.PrivateKey).ECDH(must(ecdh.X25519().NewPublicKey(b.PublicKey))))
		eq("shared secret", shared, p.Shared)
		for _, dir := range []struct {
			priv, pub []byte
			x, y      string
		}{{a.PrivateKey, b.PublicKey, p.IDA, p.IDB}, {b.PrivateKey, a.PublicKey, p.IDB, p.IDA}} {
			kw, err := PairwiseKey(mustPriv(dir.priv), dir.pub, dir.x, dir.y)
			if err != nil {
				t.Fatal(err)
			}
			eq("pairwise key "+p.IDA+"/"+p.IDB, kw, p.WrapKey)
		}
	}
	for _, w := range v.Wraps {
		k := MediaKey{Counter: w.Counter, Past: w.Past, Raw: w.RawKey, Name: w.Name}
		got, err := WrapKey(w.WrapKey, w.SenderID, w.RecipientID, k, w.IV)
		if err != nil {
			t.Fatal(err)
		}
		eq("wrap "+w.SenderID+"→"+w.RecipientID, got, w.Wrapped)
		eq("wrap aad "+w.SenderID+"→"+w.RecipientID, wrapAAD(w.SenderID, w.RecipientID), w.AAD)
		pt := must(must(newGCM(w.WrapKey)).Open(nil, w.IV, w.Wrapped[IVSize:], w.AAD))
		eq("wrap plaintext "+w.SenderID+"→"+w.RecipientID, pt, w.Plaintext)
		u, err := UnwrapKey(w.WrapKey, w.SenderID, w.RecipientID, w.Wrapped)
		if err != nil || u.Counter != w.Counter || u.Past != w.Past || u.Index() != w.KeyIndex || !bytes.Equal(u.Raw, w.RawKey) || u.Name != w.Name {
			t.Errorf("unwrap %s→%s: %+v %v", w.SenderID, w.RecipientID, u, err)
		}
	}
	for _, c := range v.KeyCases {
		got := JudgeKey(c.Newest, c.Current, c.Seen, MediaKey{Counter: c.Counter, Past: c.Past, Raw: c.RawKey})
		if got.String() != c.Verdict {
			t.Errorf("key case %q: %s, want %s", c.Name, got, c.Verdict)
		}
	}
	for _, w := range v.BadWraps {
		_, err := UnwrapKey(w.WrapKey, w.SenderID, w.RecipientID, w.Wrapped)
		if got := errCode(err); got != w.Error {
			t.Errorf("bad wrap %q: %s, want %s", w.Name, got, w.Error)
		}
	}
	for i, r := range v.Ratchet {
		eq("frame key of ratchet step", FrameKey(r.RawKey), r.FrameKey)
		if i > 0 {
			prev := v.Ratchet[i-1]
			eq("ratchet step", Ratchet(prev.RawKey), r.RawKey)
			if r.KeyIndex != prev.KeyIndex+1 {
				t.Errorf("ratchet step %d: key index %d after %d", i, r.KeyIndex, prev.KeyIndex)
			}
		}
	}
	for _, f := range v.Frames {
		eq(f.Name+": frame key", FrameKey(f.RawKey), f.FrameKey)
		enc, err := EncryptFrame(f.FrameKey, f.SenderID, f.KeyIndex, f.Plaintext, kindOf(f.Kind), f.Source, f.IV)
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
		eq(f.Name+": encrypted", enc, f.Encrypted)
		if c := min(f.ClearBytes, len(f.Plaintext)); len(f.Plaintext) >= c {
			eq(f.Name+": aad", frameAAD(f.SenderID, kindOf(f.Kind), f.Source, f.KeyIndex, f.Plaintext[:c]), f.AAD)
		}
		if got := clearLen(kindOf(f.Kind), f.Plaintext); got != f.ClearBytes || !bytes.Equal(f.Encrypted[:got], f.Plaintext[:got]) {
			t.Errorf("%s: %d clear bytes, vector says %d", f.Name, got, f.ClearBytes)
		}
		ring := func(i byte) []byte {
			if i == f.KeyIndex {
				return f.FrameKey
			}
			return nil
		}
		pt, err := DecryptFrame(ring, f.SenderID, f.Encrypted, kindOf(f.Kind), f.Source)
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
		eq(f.Name+": decrypted", pt, f.Plaintext)
	}
	for _, f := range v.BadFrames {
		ring := func(i byte) []byte {
			if i == f.KeyIndex {
				return FrameKey(f.RawKey)
			}
			return nil
		}
		_, err := DecryptFrame(ring, f.SenderID, f.Frame, kindOf(f.Kind), f.Source)
		if got := errCode(err); got != f.Error {
			t.Errorf("bad frame %q: %s, want %s", f.Name, got, f.Error)
		}
	}
	for _, c := range v.RingCases {
		var ring Ring
		if err := ring.Set(uint64(c.KeyIndex), c.RawKey); err != nil { // a key of counter keyIndex
			t.Fatal(err)
		}
		pt, err := ring.Decrypt(c.SenderID, c.Frame, kindOf(c.Kind), Source(c.Source))
		if got := errCode(err); got != c.Result {
			t.Errorf("ring case %q: %s, want %s", c.Name, got, c.Result)
		}
		if c.Result == "ok" {
			eq(c.Name+": decrypted", pt, c.Plaintext)
			if idx, _ := KeyIndex(c.Frame); !ring.Has(idx) {
				t.Errorf("ring case %q: the followed key is not kept", c.Name)
			}
		}
	}
	for _, c := range v.RingDrops {
		var ring Ring
		for i, s := range c.Steps {
			what := fmt.Sprintf("ring drops %q, step %d (%s)", c.Name, i, s.Op)
			switch s.Op {
			case "set":
				if err := ring.Set(s.Counter, s.RawKey); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			case "frame":
				pt, err := ring.Decrypt(c.SenderID, s.Frame, kindOf(c.Kind), c.Source)
				if got := errCode(err); got != s.Result {
					t.Errorf("%s: %s, want %s", what, got, s.Result)
				} else if err == nil {
					eq(what+": decrypted", pt, s.Plaintext)
				}
			default:
				t.Fatalf("%s: unknown op", what)
			}
			var held []int
			for i := range 256 {
				if ring.Has(byte(i)) {
					held = append(held, i)
				}
			}
			if cur, _ := ring.Current(); cur != s.Current || !slices.Equal(held, s.Held) || ring.Len() != len(s.Held) {
				t.Errorf("%s: current %d, held %v, want %d, %v", what, cur, held, s.Current, s.Held)
			}
		}
	}
	for _, x := range v.Texts {
		got, err := EncryptText(x.ChatKey, x.Kind, x.SenderID, x.Text, x.IV)
		if err != nil || got != x.Encrypted {
			t.Errorf("text %q: %q %v, want %q", x.Name, got, err, x.Encrypted)
		}
		back, err := DecryptText(x.ChatKey, x.Kind, x.SenderID, x.Encrypted)
		if err != nil || back != x.Text {
			t.Errorf("text %q decrypts to %q %v", x.Name, back, err)
		}
	}
	for _, x := range v.BadTexts {
		_, err := DecryptText(x.ChatKey, x.Kind, x.SenderID, x.Encrypted)
		if got := errCode(err); got != x.Error {
			t.Errorf("bad text %q: %s, want %s", x.Name, got, x.Error)
		}
	}
}

func TestVectors(t *testing.T) {
	gen := generate()
	check(t, gen)
	// Independent of this package: RFC 7748's keys and shared secret.
	if !bytes.Equal(gen.Identities[0].PublicKey, rfcAlicePub) || !bytes.Equal(gen.Identities[1].PublicKey, rfcBobPub) ||
		!bytes.Equal(gen.Pairwise[0].Shared, rfcShared) {
		t.Fatal("X25519 results differ from RFC 7748 section 6.1")
	}
	if *update {
		out, err := json.MarshalIndent(gen, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", vectorsPath)
	}
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./e2ee -run TestVectors -update)", err)
	}
	var file vectors
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	check(t, &file)
	if !reflect.DeepEqual(normalize(t, &file), normalize(t, gen)) {
		t.Error("testdata/vectors.json differs from what the generator makes; if that is intended, run: go test ./e2ee -run TestVectors -update")
	}
}

// normalize round-trips through JSON so nil and empty byte strings compare equal.
func normalize(t *testing.T, v *vectors) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
