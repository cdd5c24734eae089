package e2ee

// generate makes testdata/vectors.json's vectors from the implementation (go test
// ./e2ee -run TestVectors -update), with the cases of keys, rings and their drops.

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/binary"
	"strings"
)

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
