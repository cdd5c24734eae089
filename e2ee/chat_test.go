package e2ee

import (
	"errors"
	"strings"
	"testing"
)

const chatVectorsPath = "testdata/chat.json"

// chatVectors are the chat text vectors of version 2 both implementations check: this
// package (TestChatVectors) and web/jstest/chat-keys.test.mjs. Regenerate with
// go test ./e2ee -run TestChatVectors -update.
type chatVectors struct {
	Comment string          `json:"comment"`
	Texts   []chatVector    `json:"texts"`
	Refused []badChatVector `json:"refused"`
}

type chatVector struct {
	SenderID string `json:"senderId"`
	RawKey   string `json:"rawKey"`
	ChatKey  string `json:"chatKey"`
	KeyIndex byte   `json:"keyIndex"`
	IV       string `json:"iv"`
	Text     string `json:"text"`
	Cipher   string `json:"cipher"`
}

// badChatVector must not open as SenderID's under RawKey; Error is the kind of refusal
// ("malformed", "too-short", "auth").
type badChatVector struct {
	Why      string `json:"why"`
	SenderID string `json:"senderId"`
	RawKey   string `json:"rawKey"`
	Cipher   string `json:"cipher"`
	Error    string `json:"error"`
}

func mustChat(t *testing.T, raw []byte, idx byte, sender, text string, iv []byte) string {
	t.Helper()
	s, err := EncryptChat(raw, idx, sender, text, iv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func generateChat(t *testing.T) chatVectors {
	t.Helper()
	v := chatVectors{Comment: "Chat texts of version 2 (e2ee/FORMAT.md, \"Chat (version 2)\"; e2ee/chat.go, " +
		"web/static/js/e2ee/chat-keys.js). Byte strings are unpadded base64url. Regenerate: go test ./e2ee -run TestChatVectors -update"}
	alice := seq(32, 0x10)
	bob := seq(32, 0x60)
	cases := []struct {
		sender string
		raw    []byte
		idx    byte
		text   string
	}{
		{"p-alice", alice, 0, "Hello, Bob!"},
		{"p-alice", alice, 255, ""},
		{"p-bob", bob, 7, "Grüße 😀 \u202e\ufeff"},
		{"p-ü€😀", bob, 128, strings.Repeat("x", 300)},
	}
	for i, c := range cases {
		iv := seq(IVSize, byte(0x30+i))
		v.Texts = append(v.Texts, chatVector{SenderID: c.sender, RawKey: b64.EncodeToString(c.raw),
			ChatKey: b64.EncodeToString(ChatKey(c.raw)), KeyIndex: c.idx, IV: b64.EncodeToString(iv),
			Text: c.text, Cipher: mustChat(t, c.raw, c.idx, c.sender, c.text, iv)})
	}
	good := v.Texts[0].Cipher
	iv := seq(IVSize, 0x30)
	sealed, _ := b64.DecodeString(good[len(ChatPrefix):])
	otherIdx := append([]byte(nil), sealed...)
	otherIdx[0] = 1
	flipped := append([]byte(nil), sealed...)
	flipped[len(flipped)-1] ^= 1
	// The link secret's keys open nothing: KC and KI of the secret as if they were R.
	secret := seq(16, 0xa0)
	ki, kc := DeriveMeetingKeys(secret)
	underKC := mustChat(t, kc, 0, "p-alice", "Hello, Bob!", iv)
	// Invalid UTF-8 that authenticates.
	g, _ := newGCM(ChatKey(alice))
	bad := g.Seal(append([]byte{0}, iv...), iv, []byte{0xff, 0xfe}, chatAAD("p-alice", 0))
	v1, _ := EncryptText(ChatKey(alice), TextChat, "p-alice", "Hello, Bob!", iv)
	enc := func(b []byte) string { return ChatPrefix + b64.EncodeToString(b) }
	a := b64.EncodeToString(alice)
	v.Refused = []badChatVector{
		{Why: "re-attributed to another sender", SenderID: "p-bob", RawKey: a, Cipher: good, Error: "auth"},
		{Why: "key index changed", SenderID: "p-alice", RawKey: a, Cipher: enc(otherIdx), Error: "auth"},
		{Why: "one bit of the tag changed", SenderID: "p-alice", RawKey: a, Cipher: enc(flipped), Error: "auth"},
		{Why: "sealed under the link's chat key KC", SenderID: "p-alice", RawKey: b64.EncodeToString(kc), Cipher: good, Error: "auth"},
		{Why: "sealed under the link's identity key KI", SenderID: "p-alice", RawKey: b64.EncodeToString(ki), Cipher: good, Error: "auth"},
		{Why: "made with KC as R, opened with R", SenderID: "p-alice", RawKey: a, Cipher: underKC, Error: "auth"},
		{Why: "invalid UTF-8", SenderID: "p-alice", RawKey: a, Cipher: enc(bad), Error: "malformed"},
		{Why: "a version 1 text", SenderID: "p-alice", RawKey: a, Cipher: v1, Error: "malformed"},
		{Why: "no prefix", SenderID: "p-alice", RawKey: a, Cipher: good[len(ChatPrefix):], Error: "malformed"},
		{Why: "padded base64", SenderID: "p-alice", RawKey: a, Cipher: good + "=", Error: "malformed"},
		{Why: "standard base64 alphabet", SenderID: "p-alice", RawKey: a, Cipher: ChatPrefix + "+" + good[len(ChatPrefix)+1:], Error: "malformed"},
		{Why: "one byte short of an empty text", SenderID: "p-alice", RawKey: a, Cipher: enc(sealed[:chatMinSize-1]), Error: "too-short"},
		{Why: "empty", SenderID: "p-alice", RawKey: a, Cipher: ChatPrefix, Error: "too-short"},
	}
	return v
}

func chatErrorKind(err error) string {
	switch {
	case errors.Is(err, ErrAuth):
		return "auth"
	case errors.Is(err, ErrTooShort):
		return "too-short"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrBadID):
		return "bad-id"
	}
	return "other"
}

// TestChatVectors: the vector file is what the generator makes, every text opens as
// its sender's, and every refused one is refused with its kind of error.
func TestChatVectors(t *testing.T) {
	gen := generateChat(t)
	file := golden(t, chatVectorsPath, "TestChatVectors", gen)
	for _, c := range file.Texts {
		raw, _ := b64.DecodeString(c.RawKey)
		got, err := DecryptChat(raw, c.SenderID, c.Cipher)
		if err != nil || got != c.Text {
			t.Errorf("%s/%d: %q, %v", c.SenderID, c.KeyIndex, got, err)
		}
		if idx, _, err := ParseChat(c.Cipher); err != nil || idx != c.KeyIndex {
			t.Errorf("key index %d, want %d (%v)", idx, c.KeyIndex, err)
		}
	}
	for _, r := range file.Refused {
		raw, _ := b64.DecodeString(r.RawKey)
		got, err := DecryptChat(raw, r.SenderID, r.Cipher)
		if err == nil || chatErrorKind(err) != r.Error {
			t.Errorf("%s: %q, %v (want %s)", r.Why, got, err, r.Error)
		}
	}
}

// TestChatLinkSecretOpensNothing: every key the link secret gives (KI, KC, and the
// secret itself, also as the ikm of the chat key derivation) fails on a chat text.
func TestChatLinkSecretOpensNothing(t *testing.T) {
	secret := seq(16, 0xa0)
	raw := seq(32, 0x10)
	s := mustChat(t, raw, 3, "p-alice", "the plan", nil)
	for i, k := range LinkDerivableKeys(secret) {
		if _, err := DecryptChat(k, "p-alice", s); !errors.Is(err, ErrAuth) {
			t.Errorf("link key %d as R: %v", i, err)
		}
		if _, err := DecryptChatUnder(k, "p-alice", s); !errors.Is(err, ErrAuth) {
			t.Errorf("link key %d as KT: %v", i, err)
		}
	}
	if _, err := DecryptChatUnder(ChatKey(raw), "p-alice", s); err != nil {
		t.Fatal(err) // the test would prove nothing if the right key failed too
	}
}

func TestChatBadInput(t *testing.T) {
	raw := seq(32, 0x10)
	if _, err := EncryptChat(raw, 0, "", "x", nil); !errors.Is(err, ErrBadID) {
		t.Error(err)
	}
	if _, err := EncryptChat(raw[:31], 0, "p", "x", nil); !errors.Is(err, ErrMalformed) {
		t.Error(err)
	}
	s := mustChat(t, raw, 0, "p", "x", nil)
	if _, err := DecryptChat(raw, "a\x00b", s); !errors.Is(err, ErrBadID) {
		t.Error(err)
	}
}

// FuzzDecryptChat: any string gives a text or a typed error, and an accepted string
// re-encrypts to itself.
func FuzzDecryptChat(f *testing.F) {
	v := generateChat(&testing.T{})
	for _, c := range v.Texts {
		f.Add(c.Cipher)
	}
	for _, r := range v.Refused {
		f.Add(r.Cipher)
	}
	raw := seq(32, 0x10)
	f.Fuzz(func(t *testing.T, s string) {
		text, err := DecryptChat(raw, "p-alice", s)
		if err != nil {
			if k := chatErrorKind(err); k == "other" || k == "bad-id" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		idx, sealed, _ := ParseChat(s)
		if again := mustChat(t, raw, idx, "p-alice", text, sealed[:IVSize]); again != s {
			t.Fatalf("accepted %q does not re-encrypt to itself", s)
		}
	})
}
