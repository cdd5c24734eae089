package e2ee

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Regenerate with: go test ./e2ee -run TestVectors -update
var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the implementation")

const vectorsPath = "testdata/vectors.json"

// bin is a byte string, unpadded base64url in JSON.
type bin []byte

func (b bin) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

func (b *bin) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := base64.RawURLEncoding.Strict().DecodeString(s)
	*b = v
	return err
}

type vectors struct {
	Format     string           `json:"format"`
	Meeting    meetingVector    `json:"meeting"`
	Identities []identityVector `json:"identities"`
	Pairwise   []pairVector     `json:"pairwise"`
	Wraps      []wrapVector     `json:"wraps"`
	BadWraps   []badWrapVector  `json:"badWraps"`
	Ratchet    []ratchetStep    `json:"ratchet"`
	Frames     []frameVector    `json:"frames"`
	BadFrames  []badFrame       `json:"badFrames"`
	RingCases  []ringCase       `json:"ringCases"`
	RingDrops  []ringDropCase   `json:"ringDrops"`
	KeyCases   []keyCase        `json:"keyCases"`
	Texts      []textVector     `json:"texts"`
	BadTexts   []badText        `json:"badTexts"`
}

type meetingVector struct {
	Secret      bin `json:"secret"`
	IdentityKey bin `json:"identityKey"`
	ChatKey     bin `json:"chatKey"`
}

type identityVector struct {
	ParticipantID string `json:"participantId"`
	PrivateKey    bin    `json:"privateKey"`
	PublicKey     bin    `json:"publicKey"`
	Tag           bin    `json:"tag"` // under meeting.identityKey
}

// pairVector: identities[0]'s private key with identities[1]'s public key,
// under the ids given here (they need not be the identities' ids).
type pairVector struct {
	IDA     string `json:"idA"`
	IDB     string `json:"idB"`
	Shared  bin    `json:"shared"`
	WrapKey bin    `json:"wrapKey"`
}

type wrapVector struct {
	WrapKey     bin    `json:"wrapKey"`
	SenderID    string `json:"senderId"`
	RecipientID string `json:"recipientId"`
	Counter     uint64 `json:"counter"`  // the key's counter (at most 2^53 − 1)
	Past        bool   `json:"past"`     // given as a past key
	KeyIndex    byte   `json:"keyIndex"` // counter mod 256
	RawKey      bin    `json:"rawKey"`
	Name        string `json:"name"` // the sender's display name carried in the envelope
	IV          bin    `json:"iv"`
	AAD         bin    `json:"aad"`       // "conclave/v3 media-key" 0 senderId 0 recipientId
	Plaintext   bin    `json:"plaintext"` // counter || past || rawKey || utf8(name)
	Wrapped     bin    `json:"wrapped"`
}

// keyCase: a receiver holds, from one sender's verified identity, the newest key
// `current` at counter `newest` (-1: none yet); the envelope brings `rawKey` at
// `counter` (marked `past` or not), and `seen` says whether that raw key came from
// this sender before in the session. `verdict` is JudgeKey's (FORMAT.md, "The
// newest key"): newest, again, past, stale, replay or conflict.
type keyCase struct {
	Name    string `json:"name"`
	Newest  int64  `json:"newest"`
	Current bin    `json:"current"`
	Counter uint64 `json:"counter"`
	Past    bool   `json:"past"`
	RawKey  bin    `json:"rawKey"`
	Seen    bool   `json:"seen"`
	Verdict string `json:"verdict"`
}

type badWrapVector struct {
	Name        string `json:"name"`
	WrapKey     bin    `json:"wrapKey"`
	SenderID    string `json:"senderId"`
	RecipientID string `json:"recipientId"`
	Wrapped     bin    `json:"wrapped"`
	Error       string `json:"error"`
}

type ratchetStep struct {
	KeyIndex byte `json:"keyIndex"`
	RawKey   bin  `json:"rawKey"`
	FrameKey bin  `json:"frameKey"`
}

type frameVector struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Source     Source `json:"source"`
	SenderID   string `json:"senderId"`
	KeyIndex   byte   `json:"keyIndex"`
	RawKey     bin    `json:"rawKey"`
	FrameKey   bin    `json:"frameKey"`
	IV         bin    `json:"iv"`
	Plaintext  bin    `json:"plaintext"`
	ClearBytes int    `json:"clearBytes"`
	AAD        bin    `json:"aad"` // "conclave/v3 frame" 0 senderId 0 kind 0 source 0 keyIndex clear
	Encrypted  bin    `json:"encrypted"`
}

// badFrame: the receiver's ring holds only rawKey at keyIndex, and it takes
// the frame to be senderId's.
type badFrame struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Source   Source `json:"source"`
	SenderID string `json:"senderId"`
	KeyIndex byte   `json:"keyIndex"`
	RawKey   bin    `json:"rawKey"`
	Frame    bin    `json:"frame"`
	Error    string `json:"error"`
}

// ringCase: a receiver's ring holds only rawKey at keyIndex (current) and
// takes the frame to be senderId's; result is "ok" (the frame opens, through
// the ratchet where the index is ahead) or the error code.
type ringCase struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Source    Source `json:"source"`
	SenderID  string `json:"senderId"`
	KeyIndex  byte   `json:"keyIndex"`
	RawKey    bin    `json:"rawKey"`
	Frame     bin    `json:"frame"`
	Result    string `json:"result"`
	Plaintext bin    `json:"plaintext,omitempty"`
}

// ringDropCase: one sender's ring at a receiver, empty at first, taken through steps
// in order. A step is either "set" (a key the sender's envelope makes its newest:
// rawKey at counter, index counter mod 256) or "frame" (the frame taken to be
// senderId's, with result "ok" and its plaintext or the error code); after it the
// ring's current index is current and it holds keys at exactly the indexes in held
// (ascending). The cases check the rule of FORMAT.md, "Media keys and the ratchet": a
// key set drops the keys held for a higher counter, a ratchet guess's counter being
// the counter of the key it came from plus the steps.
type ringDropCase struct {
	Name     string     `json:"name"`
	Kind     string     `json:"kind"`
	Source   Source     `json:"source"`
	SenderID string     `json:"senderId"`
	Steps    []ringStep `json:"steps"`
}

type ringStep struct {
	Op        string `json:"op"` // "set" or "frame"
	Counter   uint64 `json:"counter,omitempty"`
	RawKey    bin    `json:"rawKey,omitempty"`
	Frame     bin    `json:"frame,omitempty"`
	Result    string `json:"result,omitempty"`
	Plaintext bin    `json:"plaintext,omitempty"`
	Current   byte   `json:"current"`
	Held      []int  `json:"held"`
}

type textVector struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	SenderID  string `json:"senderId"`
	ChatKey   bin    `json:"chatKey"`
	IV        bin    `json:"iv"`
	Text      string `json:"text"`
	Encrypted string `json:"encrypted"`
}

type badText struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	SenderID  string `json:"senderId"`
	ChatKey   bin    `json:"chatKey"`
	Encrypted string `json:"encrypted"`
	Error     string `json:"error"`
}

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

// generate computes every vector from fixed inputs with this package.
func generate() *vectors {
	v := &vectors{Format: "Conclave E2EE v1 known-answer vectors (e2ee/FORMAT.md). Byte strings are " +
		"unpadded base64url. Regenerate: go test ./e2ee -run TestVectors -update"}

	secret := pattern(0xa0, 16)
	ki, kc := DeriveMeetingKeys(secret)
	v.Meeting = meetingVector{secret, ki, kc}

	keys := []struct {
		id   string
		priv []byte
	}{{"p-alice", rfcAlicePriv}, {"p-bob", rfcBobPriv}}
	for _, k := range keys {
		pub := mustPriv(k.priv).PublicKey().Bytes()
		v.Identities = append(v.Identities, identityVector{k.id, k.priv, pub, IdentityTag(ki, k.id, pub)})
	}
	alice := mustPriv(rfcAlicePriv)
	// The second pair of ids sorts differently by UTF-8 bytes (U+FF21 < U+1F600)
	// than by UTF-16 code units (0xD83D < 0xFF21): the format means bytes.
	for _, ids := range [][2]string{{"p-alice", "p-bob"}, {"p-\U0001F600", "p-\uFF21"}} {
		shared := must(alice.ECDH(must(ecdh.X25519().NewPublicKey(rfcBobPub))))
		kw := must(PairwiseKey(alice, rfcBobPub, ids[0], ids[1]))
		v.Pairwise = append(v.Pairwise, pairVector{ids[0], ids[1], shared, kw})
	}
	kw := v.Pairwise[0].WrapKey

	raw := pattern(0x10, 32)
	idx := byte(254) // the chain wraps past 255
	for range 4 {
		v.Ratchet = append(v.Ratchet, ratchetStep{idx, raw, FrameKey(raw)})
		raw, idx = Ratchet(raw), idx+1
	}

	wrapIV := pattern(0x30, 12)
	longest := strings.Repeat("Zoë ", 39) + "Zoë!" // 200 bytes, the most a name may have
	for _, c := range []struct {
		from, to, name string
		counter        uint64
		past           bool
	}{
		{"p-alice", "p-bob", "Alice", 254, false}, {"p-bob", "p-alice", "Bob 🎻", 254 + 256, false},
		{"p-alice", "p-bob", "", 0, false}, {"p-bob", "p-alice", longest, 253, true},
		{"p-alice", "p-bob", "Alice", MaxKeyCounter, false}, {"p-alice", "p-bob", "Alice", 1<<32 + 7, true},
	} {
		r := v.Ratchet[0]
		k := MediaKey{Counter: c.counter, Past: c.past, Raw: r.RawKey, Name: c.name}
		w := must(WrapKey(kw, c.from, c.to, k, wrapIV))
		v.Wraps = append(v.Wraps, wrapVector{kw, c.from, c.to, c.counter, c.past, k.Index(), r.RawKey, c.name, wrapIV,
			wrapAAD(c.from, c.to), envelopePlaintext(c.counter, pastByte(c.past), r.RawKey, []byte(c.name)), w})
	}
	// Envelopes WrapKey refuses to make, sealed by hand.
	sealed := func(pt []byte) []byte {
		return must(newGCM(kw)).Seal(bytes.Clone(wrapIV), wrapIV, pt, wrapAAD("p-alice", "p-bob"))
	}
	badUTF8 := sealed(envelopePlaintext(1, 0, raw, []byte{0xff, 0xfe}))
	tooLong := sealed(envelopePlaintext(1, 0, raw, bytes.Repeat([]byte("a"), MaxNameBytes+1)))
	bigCounter := sealed(envelopePlaintext(MaxKeyCounter+1, 0, raw, []byte("ok")))
	pastTwo := sealed(envelopePlaintext(1, 2, raw, []byte("ok")))
	// Version 2's envelope (index byte, "conclave/v1 media-key"): refused.
	v2 := must(newGCM(kw)).Seal(bytes.Clone(wrapIV), wrapIV, append(append([]byte{1}, raw...), "ok"...),
		[]byte("conclave/v1 media-key\x00p-alice\x00p-bob"))
	v2long := must(newGCM(kw)).Seal(bytes.Clone(wrapIV), wrapIV, append(append([]byte{1}, raw...), "Alice Liddell"...),
		[]byte("conclave/v1 media-key\x00p-alice\x00p-bob"))
	w := v.Wraps[0].Wrapped
	flipped := bytes.Clone(w)
	flipped[20] ^= 1
	v.BadWraps = []badWrapVector{
		{"swapped direction", kw, "p-bob", "p-alice", w, "auth"},
		{"flipped ciphertext bit", kw, "p-alice", "p-bob", flipped, "auth"},
		{"one byte short", kw, "p-alice", "p-bob", v.Wraps[2].Wrapped[:WrappedSize-1], "malformed"},
		{"one byte long", kw, "p-alice", "p-bob", append(bytes.Clone(w), 0), "auth"},
		{"name longer than 200 bytes", kw, "p-alice", "p-bob", tooLong, "malformed"},
		{"name not UTF-8", kw, "p-alice", "p-bob", badUTF8, "malformed"},
		{"counter above 2^53 − 1", kw, "p-alice", "p-bob", bigCounter, "malformed"},
		{"past byte 2", kw, "p-alice", "p-bob", pastTwo, "malformed"},
		{"version 2 envelope (key index, conclave/v1 label): too short", kw, "p-alice", "p-bob", v2, "malformed"},
		{"version 2 envelope with a longer name: the old label", kw, "p-alice", "p-bob", v2long, "auth"},
		{"wrong key", v.Pairwise[1].WrapKey, "p-alice", "p-bob", w, "auth"},
	}

	vp8Key := append([]byte{0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}, pattern(0x60, 30)...)
	vp8Delta := append([]byte{0x31, 0x05, 0x00}, pattern(0x80, 25)...)
	opus := append([]byte{0xfc}, pattern(0xc0, 19)...)
	frames := []struct {
		name, kind string
		source     Source
		sender     string
		step       int
		pt         []byte
	}{
		{"vp8 keyframe", "vp8", Camera, "p-alice", 0, vp8Key},
		{"vp8 delta frame", "vp8", Camera, "p-alice", 1, vp8Delta},
		{"opus frame", "opus", Microphone, "p-bob", 2, opus},
		{"vp8 keyframe shorter than its clear part", "vp8", Screen, "Zoë-3", 3, []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}},
		{"vp8 delta frame shorter than its clear part", "vp8", Camera, "p-alice", 3, []byte{0x01, 0x02}},
		{"empty opus frame", "opus", Microphone, "p-bob", 3, []byte{}},
		{"screen share delta frame", "vp8", Screen, "p-alice", 1, vp8Delta},
	}
	for i, f := range frames {
		r := v.Ratchet[f.step]
		iv := pattern(byte(0x40+16*i), 12)
		enc, err := EncryptFrame(r.FrameKey, f.sender, r.KeyIndex, f.pt, kindOf(f.kind), f.source, iv)
		if err != nil {
			panic(err)
		}
		c := clearLen(kindOf(f.kind), f.pt)
		v.Frames = append(v.Frames, frameVector{f.name, f.kind, f.source, f.sender, r.KeyIndex, r.RawKey, r.FrameKey, iv,
			f.pt, c, frameAAD(f.sender, kindOf(f.kind), f.source, r.KeyIndex, f.pt[:c]), enc})
	}

	d := v.Frames[1]
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(d.Encrypted)) }
	n := len(d.Encrypted)
	bad := func(name string, frame []byte, code string) badFrame {
		return badFrame{name, d.Kind, d.Source, d.SenderID, d.KeyIndex, d.RawKey, frame, code}
	}
	v.BadFrames = []badFrame{
		bad("29 bytes", d.Encrypted[n-29:], "too-short"),
		bad("empty", []byte{}, "too-short"),
		bad("ivLength 16", mod(func(b []byte) []byte { b[n-2] = 16; return b }), "malformed"),
		bad("key index of an empty slot", mod(func(b []byte) []byte { b[n-1] = d.KeyIndex + 1; return b }), "unknown-key"),
		bad("key index 16", mod(func(b []byte) []byte { b[n-1] = 16; return b }), "unknown-key"),
		bad("flipped clear byte", mod(func(b []byte) []byte { b[1] ^= 0x80; return b }), "auth"),
		bad("keyframe bit cleared", mod(func(b []byte) []byte { b[0] &^= 1; return b }), "auth"),
		bad("flipped ciphertext byte", mod(func(b []byte) []byte { b[5] ^= 1; return b }), "auth"),
		bad("flipped tag byte", mod(func(b []byte) []byte { b[n-15] ^= 1; return b }), "auth"),
		bad("flipped iv byte", mod(func(b []byte) []byte { b[n-3] ^= 1; return b }), "auth"),
		bad("one body byte removed", append(bytes.Clone(d.Encrypted[:3]), d.Encrypted[4:]...), "auth"),
		bad("decrypted as opus", d.Encrypted, "auth"),
	}
	v.BadFrames[len(v.BadFrames)-1].Kind = "opus"
	// The server forwards Alice's frame under Bob's track; Bob's ring holds the
	// very same key at the same index, and still the frame opens nowhere but as Alice's.
	other := bad("another sender's frame (same key and index)", d.Encrypted, "auth")
	other.SenderID = "p-bob"
	noID := bad("empty sender id", d.Encrypted, "bad-id")
	noID.SenderID = ""
	nulID := bad("sender id with a NUL", d.Encrypted, "bad-id")
	nulID.SenderID = "p-alice\x00"
	// The server forwards Alice's camera as her screen share (same sender, same key
	// and index): the frame opens only as what she sent it as.
	asScreen := bad("the sender's camera frame taken as its screen share", d.Encrypted, "auth")
	asScreen.Source = Screen
	sc := v.Frames[6]
	asCamera := badFrame{"the sender's screen share frame taken as its camera", sc.Kind, Camera, sc.SenderID, sc.KeyIndex, sc.RawKey, sc.Encrypted, "auth"}
	v.BadFrames = append(v.BadFrames, other, noID, nulID, asScreen, asCamera)
	v.RingCases = ringCases()
	v.RingDrops = ringDrops()
	v.KeyCases = keyCases()

	texts := []struct{ name, kind, sender, text string }{
		{"chat", TextChat, "p-alice", "Hello, Bob! Grüße 👋 <b>&amp;</b>"},
		{"empty chat", TextChat, "p-bob", ""},
		{"name", TextName, "", "Alice Müller"},
		{"name with a byte order mark", TextName, "", "\uFEFFBOM"},
	}
	for i, t := range texts {
		iv := pattern(byte(0x70+16*i), 12)
		v.Texts = append(v.Texts, textVector{t.name, t.kind, t.sender, kc, iv, t.text,
			must(EncryptText(kc, t.kind, t.sender, t.text, iv))})
	}
	c := v.Texts[0]
	badT := func(name, kind, sender, s, code string) badText {
		return badText{name, kind, sender, kc, s, code}
	}
	raw64 := c.Encrypted[len(TextPrefix):]
	// 28 bytes encode to 38 characters whose last one has 4 unused bits; setting
	// one makes a non-canonical encoding that a lenient decoder would accept.
	canonical := base64.RawURLEncoding.EncodeToString(pattern(0, 28))
	nonCanonical := TextPrefix + canonical[:len(canonical)-1] + string(alphabet[indexOf(canonical[len(canonical)-1])+1])
	invalidUTF8 := TextPrefix + base64.RawURLEncoding.EncodeToString(
		sealRaw(kc, c.IV, []byte{'h', 'i', 0xff}, []byte(label+" chat\x00p-alice")))
	v.BadTexts = []badText{
		badT("other sender", TextChat, "p-bob", c.Encrypted, "auth"),
		badT("chat read as a name", TextName, "", c.Encrypted, "auth"),
		badT("name read as chat", TextChat, "p-alice", v.Texts[2].Encrypted, "auth"),
		badT("no prefix", TextChat, "p-alice", raw64, "malformed"),
		badT("prefix e2.", TextChat, "p-alice", "e2."+raw64, "malformed"),
		badT("padded", TextChat, "p-alice", c.Encrypted+"=", "malformed"),
		badT("'+' of the standard alphabet", TextChat, "p-alice", c.Encrypted[:8]+"+"+c.Encrypted[9:], "malformed"),
		badT("canonical 28 bytes", TextChat, "p-alice", TextPrefix+canonical, "auth"),
		badT("non-canonical last character", TextChat, "p-alice", nonCanonical, "malformed"),
		badT("line break inside", TextChat, "p-alice", c.Encrypted[:10]+"\n"+c.Encrypted[10:], "malformed"),
		badT("27 bytes", TextChat, "p-alice", TextPrefix+base64.RawURLEncoding.EncodeToString(pattern(0, 27)), "too-short"),
		badT("flipped bit", TextChat, "p-alice", TextPrefix+base64.RawURLEncoding.EncodeToString(
			flip(must(b64.DecodeString(raw64)), 14)), "auth"),
		badT("invalid UTF-8 inside", TextChat, "p-alice", invalidUTF8, "malformed"),
		badT("chat without a sender id", TextChat, "", c.Encrypted, "bad-id"),
		badT("name with a sender id", TextName, "p-alice", v.Texts[2].Encrypted, "bad-id"),
	}
	return v
}

// envelopePlaintext is what a key envelope seals: counter(8) || past(1) || raw || name.
func envelopePlaintext(counter uint64, past byte, raw, name []byte) []byte {
	pt := binary.BigEndian.AppendUint64(nil, counter)
	return append(append(append(pt, past), raw...), name...)
}

func pastByte(past bool) byte {
	if past {
		return 1
	}
	return 0
}

// keyCases: what a receiver does with an envelope, for each rule of JudgeKey.
func keyCases() []keyCase {
	cur, other := pattern(0x70, 32), pattern(0x90, 32)
	c := func(name string, newest int64, counter uint64, past bool, raw []byte, seen bool) keyCase {
		return keyCase{name, newest, cur, counter, past, raw, seen, JudgeKey(newest, cur, seen, MediaKey{Counter: counter, Past: past, Raw: raw}).String()}
	}
	return []keyCase{
		{"the first key", -1, nil, 0, false, other, false, JudgeKey(-1, nil, false, MediaKey{Raw: other}).String()},
		c("the next key (a rotation)", 5, 6, false, other, false),
		c("a key 300 changes on (its index wraps)", 5, 305, false, other, false),
		c("the largest counter", 5, MaxKeyCounter, false, other, false),
		c("the newest sent again (a key request's answer)", 5, 5, false, cur, true),
		c("the newest sent again, marked past", 5, 5, true, cur, true),
		c("the newest key under another counter", 5, 6, false, cur, true),
		c("another key at the newest counter", 5, 5, false, other, false),
		c("another key at the newest counter, marked past", 5, 5, true, other, false),
		c("an envelope held back past a rotation (not marked past)", 5, 4, false, other, false),
		c("a past key at the newest counter minus one, the current key replayed", 5, 4, true, cur, true),
		c("a past key one below the newest", 5, 4, true, other, false),
		c("a past key MaxRatchet below the newest", 20, 4, true, other, false),
		c("a past key MaxRatchet+1 below the newest", 21, 4, true, other, false),
		c("an envelope held back MaxRatchet+1 changes", 21, 4, false, other, false),
		c("a past key above the newest (delivered before the newest)", 5, 6, true, other, false),
		{"a past key before any newest", -1, nil, 3, true, other, false, JudgeKey(-1, nil, false, MediaKey{Counter: 3, Past: true, Raw: other}).String()},
		c("a key sent before, replayed as the next", 5, 6, false, other, true),
		c("a key sent before, replayed as past", 5, 4, true, other, true),
	}
}

// ringCases: a sender's frames after some joins (ratchet steps) or a key change,
// against a receiver that holds only the sender's key at start.
func ringCases() []ringCase {
	const sender = "p-alice"
	pt := append([]byte{0x31, 0x05, 0x00}, pattern(0x90, 13)...)
	other := pattern(0x20, 32)
	mk := func(name string, start byte, startRaw []byte, steps int, frameRaw []byte, result string) ringCase {
		raw, idx := frameRaw, start
		if raw == nil {
			raw = startRaw
			for range steps {
				raw, idx = Ratchet(raw), idx+1
			}
		} else {
			idx = start + byte(steps)
		}
		frame := must(EncryptFrame(FrameKey(raw), sender, idx, pt, VP8, Camera, pattern(byte(0xd0+steps), 12)))
		c := ringCase{name, "vp8", Camera, sender, start, startRaw, frame, result, nil}
		if result == "ok" {
			c.Plaintext = pt
		}
		return c
	}
	r := pattern(0x10, 32)
	return []ringCase{
		mk("one ratchet step, 255 to 0", 255, r, 1, nil, "ok"),
		mk("16 ratchet steps, 250 to 10", 250, r, 16, nil, "ok"),
		mk("17 ratchet steps: too far, ask the sender", 250, r, 17, nil, "unknown-key"),
		mk("a rotation's fresh key at the next index", 7, r, 1, other, "unknown-key"),
		mk("the held index reused after a wrap, another key", 7, r, 0, other, "auth"),
		mk("the held key itself", 7, r, 0, nil, "ok"),
	}
}

// ringDrops: a sender's key K, ratchet guesses the receiver followed from it (a
// member who left writing under them while the server held the sender's rotation
// F back), then F, with the current index and the held indexes after each step
// written out by hand, so that both implementations are checked against them.
func ringDrops() []ringDropCase {
	const sender = "p-alice"
	pt := append([]byte{0x31, 0x05, 0x00}, pattern(0xa0, 9)...)
	k, f := pattern(0x10, 32), pattern(0x50, 32)
	ratchets := func(raw []byte, n int) []byte {
		for range n {
			raw = Ratchet(raw)
		}
		return raw
	}
	ivs := byte(0)
	set := func(counter uint64, raw []byte, current byte, held ...int) ringStep {
		return ringStep{Op: "set", Counter: counter, RawKey: raw, Current: current, Held: held}
	}
	// frame: under raw at index, and what the ring does with it.
	frame := func(raw []byte, index byte, result string, current byte, held ...int) ringStep {
		ivs++
		s := ringStep{Op: "frame", Frame: must(EncryptFrame(FrameKey(raw), sender, index, pt, VP8, Camera, pattern(ivs, 12))),
			Result: result, Current: current, Held: held}
		if result == "ok" {
			s.Plaintext = pt
		}
		return s
	}
	c := func(name string, steps ...ringStep) ringDropCase {
		return ringDropCase{name, "vp8", Camera, sender, steps}
	}
	return []ringDropCase{
		c("ratchets followed while the rotation was held back go when it comes; the keys below it stay",
			set(10, k, 10, 10),
			frame(ratchets(k, 2), 12, "ok", 12, 10, 12),
			frame(ratchets(k, 3), 13, "ok", 13, 10, 12, 13),
			set(11, f, 11, 10, 11),
			frame(ratchets(k, 2), 12, "unknown-key", 11, 10, 11),
			frame(ratchets(k, 3), 13, "unknown-key", 11, 10, 11),
			frame(k, 10, "ok", 11, 10, 11),
			frame(ratchets(f, 1), 12, "ok", 12, 10, 11, 12)),
		c("the rotated key at the index a guess took replaces it",
			set(10, k, 10, 10),
			frame(ratchets(k, 1), 11, "ok", 11, 10, 11),
			frame(ratchets(k, 2), 12, "ok", 12, 10, 11, 12),
			set(11, f, 11, 10, 11),
			frame(ratchets(k, 1), 11, "auth", 11, 10, 11),
			frame(ratchets(k, 2), 12, "unknown-key", 11, 10, 11),
			frame(ratchets(f, 1), 12, "ok", 12, 10, 11, 12)),
		c("a guess made from a guess has both steps: the one above the key set goes, the one below stays",
			set(10, k, 10, 10),
			frame(ratchets(k, 3), 13, "ok", 13, 10, 13),
			frame(ratchets(k, 5), 15, "ok", 15, 10, 13, 15),
			set(14, f, 14, 10, 13, 14),
			frame(ratchets(k, 5), 15, "unknown-key", 14, 10, 13, 14),
			frame(ratchets(k, 3), 13, "ok", 14, 10, 13, 14)),
		c("counters decide, not indexes: a guess at index 4 (counter 516) goes for a key at index 254 (counter 510)",
			set(506, k, 250, 250),
			frame(ratchets(k, 10), 4, "ok", 4, 4, 250),
			set(510, f, 254, 250, 254),
			frame(ratchets(k, 10), 4, "unknown-key", 254, 250, 254)),
		c("counters decide, not indexes: keys at indexes 250 and 252 (counters 250, 252) stay for a key at index 4 (counter 260)",
			set(250, k, 250, 250),
			frame(ratchets(k, 2), 252, "ok", 252, 250, 252),
			set(260, f, 4, 4, 250, 252),
			frame(ratchets(k, 2), 252, "ok", 4, 4, 250, 252),
			frame(k, 250, "ok", 4, 4, 250, 252)),
		c("a key set below one set before drops it too (the ring takes the caller's word: JudgeKey decides what reaches it)",
			set(20, k, 20, 20),
			set(15, f, 15, 15),
			frame(k, 20, "unknown-key", 15, 15)),
	}
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
