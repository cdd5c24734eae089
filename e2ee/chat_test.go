package e2ee

import (
	"errors"
	"strings"
	"testing"
)

const chatVectorsPath = "testdata/chat.json"

// chatVectors are the chat text vectors of version 3 both implementations check: this
// package (TestChatVectors) and web/jstest/chat-keys.test.mjs. Regenerate with
// go test ./e2ee -run TestChatVectors -update.
type chatVectors struct {
	Comment string          `json:"comment"`
	Texts   []chatVector    `json:"texts"`
	Refused []badChatVector `json:"refused"`
	// KeyDrops take one sender's chat keys through keys set and texts opened
	// (chatring_test.go): ChatRing here, ChatKeys in web/jstest/chat-keys.test.mjs.
	KeyDrops []chatKeyDropCase `json:"keyDrops"`
}

type chatVector struct {
	SenderID string `json:"senderId"`
	RawKey   string `json:"rawKey"`
	ChatKey  string `json:"chatKey"`
	KeyIndex byte   `json:"keyIndex"`
	Counter  uint64 `json:"counter"`
	IV       string `json:"iv"`
	AAD      string `json:"aad"` // "conclave/v3 chat" 0 senderId 0 keyIndex
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

func mustChat(t *testing.T, raw []byte, idx byte, sender, text string, counter uint64, iv []byte) string {
	t.Helper()
	s, err := EncryptChat(raw, idx, sender, text, counter, iv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func generateChat(t *testing.T) chatVectors {
	t.Helper()
	v := chatVectors{Comment: "Chat texts of version 3 (e2ee/FORMAT.md, \"Chat (version 3)\"; e2ee/chat.go, " +
		"web/static/js/e2ee/chat-keys.js); keyDrops: e2ee/chatring.go, ChatKeys, results written by hand in e2ee/chatring_test.go. " +
		"Byte strings are unpadded base64url. Regenerate: go test ./e2ee -run TestChatVectors -update"}
	alice := seq(32, 0x10)
	bob := seq(32, 0x60)
	cases := []struct {
		sender  string
		raw     []byte
		idx     byte
		counter uint64
		text    string
	}{
		{"p-alice", alice, 0, 1, "Hello, Bob!"},
		{"p-alice", alice, 255, 2, ""},
		{"p-bob", bob, 7, 1796428800123, "Grüße 😀 \u202e\ufeff"}, // a clock in ms
		{"p-ü€😀", bob, 128, MaxChatCounter, strings.Repeat("x", 300)},
		{"p-bob", bob, 8, 1<<32 + 5, "\ufeffa leading byte order mark is text"}, // a counter above 32 bits
	}
	for i, c := range cases {
		iv := seq(IVSize, byte(0x30+i))
		v.Texts = append(v.Texts, chatVector{SenderID: c.sender, RawKey: b64.EncodeToString(c.raw),
			ChatKey: b64.EncodeToString(ChatKey(c.raw)), KeyIndex: c.idx, Counter: c.counter, IV: b64.EncodeToString(iv),
			AAD: b64.EncodeToString(chatAAD(c.sender, c.idx)), Text: c.text, Cipher: mustChat(t, c.raw, c.idx, c.sender, c.text, c.counter, iv)})
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
	underKC := mustChat(t, kc, 0, "p-alice", "Hello, Bob!", 1, iv)
	// Invalid UTF-8 that authenticates, and a counter of 0.
	g, _ := newGCM(ChatKey(alice))
	bad := g.Seal(append([]byte{0}, iv...), iv, []byte{0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xfe}, chatAAD("p-alice", 0))
	zero := g.Seal(append([]byte{0}, iv...), iv, []byte("\x00\x00\x00\x00\x00\x00\x00\x00Hello, Bob!"), chatAAD("p-alice", 0))
	huge := g.Seal(append([]byte{0}, iv...), iv, []byte("\x00\x20\x00\x00\x00\x00\x00\x00Hello, Bob!"), chatAAD("p-alice", 0))
	// Version 2: no counter, under the v2 chat key and label.
	g2, _ := newGCM(derive(alice, labelV2, "chat"))
	v2 := "e2." + b64.EncodeToString(g2.Seal(append([]byte{0}, iv...), iv, []byte("Hello, Bob!"), append([]byte(labelV2+" chat\x00p-alice\x00"), 0)))
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
		{Why: "a counter of 0", SenderID: "p-alice", RawKey: a, Cipher: enc(zero), Error: "malformed"},
		{Why: "a counter of 2^53", SenderID: "p-alice", RawKey: a, Cipher: enc(huge), Error: "malformed"},
		{Why: "a version 2 text", SenderID: "p-alice", RawKey: a, Cipher: v2, Error: "malformed"},
		{Why: "a version 2 text under the version 3 prefix", SenderID: "p-alice", RawKey: a, Cipher: ChatPrefix + v2[3:], Error: "auth"},
		{Why: "a version 1 text", SenderID: "p-alice", RawKey: a, Cipher: v1, Error: "malformed"},
		{Why: "no prefix", SenderID: "p-alice", RawKey: a, Cipher: good[len(ChatPrefix):], Error: "malformed"},
		{Why: "padded base64", SenderID: "p-alice", RawKey: a, Cipher: good + "=", Error: "malformed"},
		{Why: "standard base64 alphabet", SenderID: "p-alice", RawKey: a, Cipher: ChatPrefix + "+" + good[len(ChatPrefix)+1:], Error: "malformed"},
		{Why: "one byte short of an empty text", SenderID: "p-alice", RawKey: a, Cipher: enc(sealed[:chatMinSize-1]), Error: "too-short"},
		{Why: "empty", SenderID: "p-alice", RawKey: a, Cipher: ChatPrefix, Error: "too-short"},
	}
	v.KeyDrops = chatKeyDrops(t)
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
		got, counter, err := DecryptChat(raw, c.SenderID, c.Cipher)
		if err != nil || got != c.Text || counter != c.Counter {
			t.Errorf("%s/%d: %q %d, %v", c.SenderID, c.KeyIndex, got, counter, err)
		}
		if got := b64.EncodeToString(chatAAD(c.SenderID, c.KeyIndex)); got != c.AAD {
			t.Errorf("%s/%d: aad %s, want %s", c.SenderID, c.KeyIndex, got, c.AAD)
		}
		if idx, _, err := ParseChat(c.Cipher); err != nil || idx != c.KeyIndex {
			t.Errorf("key index %d, want %d (%v)", idx, c.KeyIndex, err)
		}
	}
	for _, r := range file.Refused {
		raw, _ := b64.DecodeString(r.RawKey)
		got, _, err := DecryptChat(raw, r.SenderID, r.Cipher)
		if err == nil || chatErrorKind(err) != r.Error {
			t.Errorf("%s: %q, %v (want %s)", r.Why, got, err, r.Error)
		}
	}
	checkChatKeyDrops(t, file.KeyDrops)
}

// TestChatLinkSecretOpensNothing: every key the link secret gives (KI, KC, and the
// secret itself, also as the ikm of the chat key derivation) fails on a chat text.
func TestChatLinkSecretOpensNothing(t *testing.T) {
	secret := seq(16, 0xa0)
	raw := seq(32, 0x10)
	s := mustChat(t, raw, 3, "p-alice", "the plan", 1, nil)
	for i, k := range LinkDerivableKeys(secret) {
		if _, _, err := DecryptChat(k, "p-alice", s); !errors.Is(err, ErrAuth) {
			t.Errorf("link key %d as R: %v", i, err)
		}
		if _, _, err := DecryptChatUnder(k, "p-alice", s); !errors.Is(err, ErrAuth) {
			t.Errorf("link key %d as KT: %v", i, err)
		}
	}
	if _, _, err := DecryptChatUnder(ChatKey(raw), "p-alice", s); err != nil {
		t.Fatal(err) // the test would prove nothing if the right key failed too
	}
}

func TestChatBadInput(t *testing.T) {
	raw := seq(32, 0x10)
	if _, err := EncryptChat(raw, 0, "", "x", 1, nil); !errors.Is(err, ErrBadID) {
		t.Error(err)
	}
	if _, err := EncryptChat(raw[:31], 0, "p", "x", 1, nil); !errors.Is(err, ErrMalformed) {
		t.Error(err)
	}
	if _, err := EncryptChat(raw, 0, "p", "x", 0, nil); !errors.Is(err, ErrMalformed) {
		t.Error("a counter of 0:", err)
	}
	if _, err := EncryptChat(raw, 0, "p", "x", MaxChatCounter+1, nil); !errors.Is(err, ErrMalformed) {
		t.Error("a counter of 2^53:", err)
	}
	s := mustChat(t, raw, 0, "p", "x", 1, nil)
	if _, _, err := DecryptChat(raw, "a\x00b", s); !errors.Is(err, ErrBadID) {
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
		text, counter, err := DecryptChat(raw, "p-alice", s)
		if err != nil {
			if k := chatErrorKind(err); k == "other" || k == "bad-id" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		idx, sealed, _ := ParseChat(s)
		if again := mustChat(t, raw, idx, "p-alice", text, counter, sealed[:IVSize]); again != s {
			t.Fatalf("accepted %q does not re-encrypt to itself", s)
		}
	})
}
