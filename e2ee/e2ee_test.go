package e2ee

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	raw := pattern(1, 32)
	kf := FrameKey(raw)
	ring := func(i byte) []byte {
		if i == 5 {
			return kf
		}
		return nil
	}
	for _, c := range []struct {
		kind  Kind
		frame []byte
		clear int
	}{
		{VP8, append([]byte{0x10}, pattern(0, 99)...), 10},
		{VP8, append([]byte{0x11}, pattern(0, 99)...), 3},
		{Opus, pattern(0xf8, 60), 1},
		{VP8, []byte{0x00}, 1},
		{VP8, nil, 0},
		{Opus, nil, 0},
	} {
		enc := mustEncryptFrame(t, kf, "p-a", 5, c.frame, c.kind)
		if len(enc) != len(c.frame)+30 {
			t.Errorf("%v: %d bytes for %d", c.kind, len(enc), len(c.frame))
		}
		if !bytes.Equal(enc[:c.clear], c.frame[:c.clear]) {
			t.Errorf("%v: clear part changed", c.kind)
		}
		if c.clear < len(c.frame) && bytes.Equal(enc[c.clear:len(c.frame)], c.frame[c.clear:]) {
			t.Errorf("%v: rest not encrypted", c.kind)
		}
		if enc[len(enc)-2] != 12 || enc[len(enc)-1] != 5 {
			t.Errorf("%v: trailer %x", c.kind, enc[len(enc)-2:])
		}
		if i, ok := KeyIndex(enc); !ok || i != 5 {
			t.Errorf("KeyIndex = %d %v", i, ok)
		}
		got, err := DecryptFrame(ring, "p-a", enc, c.kind, sourceFor(c.kind))
		if err != nil || !bytes.Equal(got, c.frame) {
			t.Errorf("%v: decrypt: %x %v", c.kind, got, err)
		}
		// Every single-bit change is refused.
		for i := range enc {
			bad := bytes.Clone(enc)
			bad[i] ^= 0x04
			if _, err := DecryptFrame(ring, "p-a", bad, c.kind, sourceFor(c.kind)); err == nil {
				t.Fatalf("%v: bit flip at %d accepted", c.kind, i)
			}
		}
		// A wrong key is refused.
		other := FrameKey(pattern(2, 32))
		if _, err := DecryptFrame(func(byte) []byte { return other }, "p-a", enc, c.kind, sourceFor(c.kind)); !errors.Is(err, ErrAuth) {
			t.Errorf("%v: wrong key: %v", c.kind, err)
		}
	}
	if _, err := DecryptFrame(ring, "p-a", make([]byte, 40), Kind(7), sourceFor(Kind(7))); err == nil {
		t.Error("unknown kind accepted")
	}
}

// sourceFor is a source of a track of kind: the microphone's for Opus, the camera's for VP8.
func sourceFor(kind Kind) Source {
	if kind == Opus {
		return Microphone
	}
	return Camera
}

func mustEncryptFrame(t *testing.T, kf []byte, sender string, index byte, frame []byte, kind Kind) []byte {
	t.Helper()
	enc, err := EncryptFrame(kf, sender, index, frame, kind, sourceFor(kind), nil)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// A frame is bound to its sender: the server forwarding Alice's frame under
// Bob's track gets it refused there, even where Bob's ring holds the same raw
// key at the same index; one decryption attempt, no search across senders.
func TestFrameReattributedFails(t *testing.T) {
	kf := FrameKey(pattern(3, 32))
	same := func(i byte) []byte {
		if i == 4 {
			return kf
		}
		return nil
	}
	for _, kind := range []Kind{VP8, Opus} {
		enc := mustEncryptFrame(t, kf, "p-alice", 4, append([]byte{0x11}, pattern(7, 50)...), kind)
		if _, err := DecryptFrame(same, "p-alice", enc, kind, sourceFor(kind)); err != nil {
			t.Fatalf("%v: as Alice's: %v", kind, err)
		}
		for _, other := range []string{"p-bob", "p-alic", "p-alice ", "P-alice"} {
			if _, err := DecryptFrame(same, other, enc, kind, sourceFor(kind)); !errors.Is(err, ErrAuth) {
				t.Errorf("%v: Alice's frame as %q's: %v", kind, other, err)
			}
		}
	}
	for _, id := range []string{"", "p\x00a"} {
		if _, err := EncryptFrame(kf, id, 0, []byte{1, 2, 3}, VP8, Camera, nil); !errors.Is(err, ErrBadID) {
			t.Errorf("encrypt as %q: %v", id, err)
		}
		if _, err := DecryptFrame(same, id, make([]byte, 40), VP8, Camera); !errors.Is(err, ErrBadID) {
			t.Errorf("decrypt as %q: %v", id, err)
		}
	}
}

func TestIdentityAndWrap(t *testing.T) {
	ki, kc := DeriveMeetingKeys(pattern(9, 16))
	if bytes.Equal(ki, kc) || len(ki) != 32 {
		t.Fatal("meeting keys")
	}
	a, _ := ecdh.X25519().GenerateKey(rand.Reader)
	b, _ := ecdh.X25519().GenerateKey(rand.Reader)
	otherKI, _ := DeriveMeetingKeys(pattern(8, 16))
	tag := IdentityTag(ki, "p-a", a.PublicKey().Bytes())
	if !VerifyIdentity(ki, "p-a", a.PublicKey().Bytes(), tag) {
		t.Fatal("own tag refused")
	}
	for name, ok := range map[string]bool{
		"other id":   VerifyIdentity(ki, "p-b", a.PublicKey().Bytes(), tag),
		"other key":  VerifyIdentity(ki, "p-a", b.PublicKey().Bytes(), tag),
		"other KI":   VerifyIdentity(kc, "p-a", a.PublicKey().Bytes(), tag),
		"short tag":  VerifyIdentity(ki, "p-a", a.PublicKey().Bytes(), tag[:31]),
		"empty id":   VerifyIdentity(ki, "", a.PublicKey().Bytes(), IdentityTag(ki, "", a.PublicKey().Bytes())),
		"NUL in id":  VerifyIdentity(ki, "p\x00a", a.PublicKey().Bytes(), IdentityTag(ki, "p\x00a", a.PublicKey().Bytes())),
		"short key":  VerifyIdentity(ki, "p-a", a.PublicKey().Bytes()[:31], IdentityTag(ki, "p-a", a.PublicKey().Bytes()[:31])),
		"empty tag":  VerifyIdentity(ki, "p-a", a.PublicKey().Bytes(), nil),
		"other meet": VerifyIdentity(otherKI, "p-a", a.PublicKey().Bytes(), tag),
	} {
		if ok {
			t.Errorf("%s: accepted", name)
		}
	}

	kwA := must(PairwiseKey(a, b.PublicKey().Bytes(), "p-a", "p-b"))
	kwB := must(PairwiseKey(b, a.PublicKey().Bytes(), "p-b", "p-a"))
	if !bytes.Equal(kwA, kwB) {
		t.Fatal("pairwise keys differ")
	}
	for _, ids := range [][2]string{{"p-a", "p-a"}, {"", "p-b"}, {"p-a", "p\x00b"}} {
		if _, err := PairwiseKey(a, b.PublicKey().Bytes(), ids[0], ids[1]); !errors.Is(err, ErrBadID) {
			t.Errorf("ids %q: %v", ids, err)
		}
	}
	if _, err := PairwiseKey(a, make([]byte, 32), "p-a", "p-b"); !errors.Is(err, ErrMalformed) {
		t.Errorf("all-zero public key: %v", err)
	}
	if _, err := PairwiseKey(a, make([]byte, 31), "p-a", "p-b"); !errors.Is(err, ErrMalformed) {
		t.Errorf("short public key: %v", err)
	}

	raw := pattern(3, 32)
	w := must(WrapKey(kwA, "p-a", "p-b", MediaKey{Counter: 7, Raw: raw, Name: "Ann"}, nil))
	if len(w) != WrappedSize+3 {
		t.Fatalf("wrapped: %d bytes", len(w))
	}
	got, err := UnwrapKey(kwB, "p-a", "p-b", w)
	if err != nil || got.Counter != 7 || got.Past || got.Index() != 7 || !bytes.Equal(got.Raw, raw) || got.Name != "Ann" {
		t.Fatalf("unwrap: %+v %v", got, err)
	}
	if _, err := WrapKey(kwA, "p-a", "p-b", MediaKey{Counter: 7, Raw: raw, Name: strings.Repeat("x", MaxNameBytes+1)}, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("name of 201 bytes: %v", err)
	}
	if _, err := WrapKey(kwA, "p-a", "p-b", MediaKey{Counter: 7, Raw: raw, Name: "\xff"}, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("name not UTF-8: %v", err)
	}
	if _, err := WrapKey(kwA, "p-a", "p-b", MediaKey{Counter: MaxKeyCounter + 1, Raw: raw}, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("counter above 2^53 − 1: %v", err)
	}
	if _, err := UnwrapKey(kwB, "p-b", "p-a", w); !errors.Is(err, ErrAuth) {
		t.Errorf("reflected envelope: %v", err)
	}
	// The key index is the counter mod 256 (version 3); a past key says so.
	if w, err := WrapKey(kwA, "p-a", "p-b", MediaKey{Counter: 456, Past: true, Raw: raw}, nil); err != nil {
		t.Errorf("counter 456: %v", err)
	} else if k, err := UnwrapKey(kwB, "p-a", "p-b", w); err != nil || k.Counter != 456 || k.Index() != 200 || !k.Past {
		t.Errorf("counter 456 unwraps as %+v %v", k, err)
	}
	if _, err := WrapKey(kwA, "p-a", "p-b", MediaKey{Counter: 1, Raw: raw[:31]}, nil); err == nil {
		t.Error("short raw key wrapped")
	}
	if _, err := WrapKey(kwA, "p-a", "", MediaKey{Counter: 1, Raw: raw}, nil); !errors.Is(err, ErrBadID) {
		t.Errorf("empty recipient: %v", err)
	}
	if _, err := WrapKey(kwA, "p-a", "p-b", MediaKey{Counter: 1, Raw: raw}, make([]byte, 8)); err == nil {
		t.Error("8-byte iv accepted")
	}
}

func TestRatchetForwardOnly(t *testing.T) {
	r0 := pattern(0x42, 32)
	r1 := Ratchet(r0)
	if bytes.Equal(r0, r1) || bytes.Equal(FrameKey(r0), FrameKey(r1)) || bytes.Equal(r1, FrameKey(r0)) {
		t.Fatal("ratchet or frame key is not a new key")
	}
	// A newcomer holding (1, R1) reads frames under index 1, not under index 0.
	old := mustEncryptFrame(t, FrameKey(r0), "p-a", 0, []byte{0x11, 2, 3, 4, 5}, VP8)
	newer := mustEncryptFrame(t, FrameKey(r1), "p-a", 1, []byte{0x11, 2, 3, 4, 5}, VP8)
	newcomer := func(i byte) []byte {
		if i == 1 {
			return FrameKey(r1)
		}
		return nil
	}
	if _, err := DecryptFrame(newcomer, "p-a", newer, VP8, Camera); err != nil {
		t.Error(err)
	}
	if _, err := DecryptFrame(newcomer, "p-a", old, VP8, Camera); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("newcomer read the past: %v", err)
	}
	// Even labelled with the old index, its keys cannot open the old frame.
	for _, k := range [][]byte{FrameKey(r1), FrameKey(Ratchet(r1)), r1} {
		if _, err := DecryptFrame(func(byte) []byte { return k }, "p-a", old, VP8, Camera); !errors.Is(err, ErrAuth) {
			t.Errorf("old frame opened: %v", err)
		}
	}
}

func TestText(t *testing.T) {
	_, kc := DeriveMeetingKeys(pattern(9, 16))
	for _, text := range []string{"", "hi", strings.Repeat("ä€😀", 700), "\uFEFF"} {
		s, err := EncryptText(kc, TextChat, "p-a", text, nil)
		if err != nil || !strings.HasPrefix(s, "e1.") {
			t.Fatal(s, err)
		}
		got, err := DecryptText(kc, TextChat, "p-a", s)
		if err != nil || got != text {
			t.Errorf("round trip of %q: %q %v", text, got, err)
		}
		if _, err := DecryptText(kc, TextChat, "p-b", s); !errors.Is(err, ErrAuth) {
			t.Errorf("other sender: %v", err)
		}
	}
	if _, err := EncryptText(kc, "title", "", "x", nil); err == nil {
		t.Error("unknown kind accepted")
	}
	if _, err := EncryptText(kc[:16], TextName, "", "x", nil); err == nil {
		t.Error("16-byte chat key accepted")
	}
}

// TestValidIDRefusesInvalidUTF8: ids are bound as their bytes; the browser refuses ids
// with lone surrogates (which its encoder writes as U+FFFD), and the Go twin refuses the
// byte strings that are not UTF-8 (which a JSON encoder would write as U+FFFD), so two
// ids one side tells apart are never one id to the other (FORMAT.md, "Participant ids").
// Both refuse an id longer than MaxIDBytes, which no server makes.
func TestValidIDRefusesInvalidUTF8(t *testing.T) {
	for id, want := range map[string]bool{
		"p-0123456789abcdef": true,
		"p-x\uFFFD":          true,
		"p-\U0001F600":       true,
		"":                   false,
		"p-\x00":             false,
		"p-x\xed\xa0\x80":    false, // a surrogate, encoded as if it were a character
		"p-x\xff":            false,
		// At most MaxIDBytes bytes, however many characters (FORMAT.md, "Participant ids").
		"p-" + strings.Repeat("a", 62):     true,
		"p-" + strings.Repeat("a", 63):     false,
		strings.Repeat("\u00e4", 32):       true,
		strings.Repeat("\u00e4", 32) + "a": false,
		strings.Repeat("\U0001F98A", 16):   true,
		strings.Repeat("\U0001F98A", 17):   false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}
