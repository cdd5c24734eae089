package e2ee

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"unicode/utf8"
)

// Every parser of network input: any bytes give a result or a typed error,
// never a panic, and whatever is accepted is consistent with the encoder.

func FuzzDecryptFrame(f *testing.F) {
	v := generate()
	for _, x := range v.Frames {
		f.Add([]byte(x.Encrypted), x.Kind == "opus")
	}
	for _, x := range v.BadFrames {
		f.Add([]byte(x.Frame), x.Kind == "opus")
	}
	f.Add([]byte{}, false)
	f.Add(make([]byte, 30), true)
	kf := FrameKey(v.Frames[0].RawKey) // Frames[0] is p-alice's
	ring := func(i byte) []byte {
		if i < 8 || i >= 250 { // the vectors' indexes wrap past 255
			return kf
		}
		return nil
	}
	f.Fuzz(func(t *testing.T, frame []byte, opus bool) {
		kind := VP8
		if opus {
			kind = Opus
		}
		pt, err := DecryptFrame(ring, "p-alice", frame, kind, sourceFor(kind))
		if err != nil {
			if !errors.Is(err, ErrTooShort) && !errors.Is(err, ErrMalformed) &&
				!errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrAuth) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		iv := frame[len(frame)-14 : len(frame)-2]
		again, err := EncryptFrame(kf, "p-alice", frame[len(frame)-1], pt, kind, sourceFor(kind), iv)
		if err != nil || !bytes.Equal(again, frame) {
			t.Fatalf("accepted frame does not re-encrypt to itself")
		}
	})
}

// FuzzRingDecrypt: whatever arrives, a ring opens only what its key or a
// ratchet of it made, keeps at most RingSize keys, and moves only forward by a
// frame that authenticated, to a key whose counter is the start's plus the steps.
func FuzzRingDecrypt(f *testing.F) {
	v := generate()
	for _, c := range v.RingCases {
		f.Add([]byte(c.Frame))
	}
	f.Add([]byte{})
	f.Add(make([]byte, 40))
	start := v.RingCases[0]
	f.Fuzz(func(t *testing.T, frame []byte) {
		var r Ring
		if err := r.Set(uint64(start.KeyIndex), start.RawKey); err != nil {
			t.Fatal(err)
		}
		_, err := r.Decrypt(start.SenderID, frame, VP8, Camera)
		cur, _ := r.Current()
		if err != nil {
			if !errors.Is(err, ErrTooShort) && !errors.Is(err, ErrMalformed) &&
				!errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrAuth) {
				t.Fatalf("untyped error %v", err)
			}
			if cur != start.KeyIndex || r.Len() != 1 {
				t.Fatalf("a refused frame moved the ring to %d (%d keys)", cur, r.Len())
			}
			return
		}
		if idx, _ := KeyIndex(frame); idx != cur || r.Len() > 2 {
			t.Fatalf("ring at %d with %d keys after a frame at %d", cur, r.Len(), idx)
		}
		if c, _ := r.Counter(cur); c != uint64(start.KeyIndex)+uint64(cur-start.KeyIndex) {
			t.Fatalf("the key at %d has counter %d", cur, c)
		}
	})
}

func FuzzDecryptText(f *testing.F) {
	v := generate()
	for _, x := range v.Texts {
		f.Add(x.Encrypted, x.Kind == TextName)
	}
	for _, x := range v.BadTexts {
		f.Add(x.Encrypted, x.Kind == TextName)
	}
	f.Add("e1.", false)
	f.Add("", true)
	kc := v.Meeting.ChatKey
	f.Fuzz(func(t *testing.T, s string, name bool) {
		kind, sender := TextChat, "p-alice"
		if name {
			kind, sender = TextName, ""
		}
		text, err := DecryptText(kc, kind, sender, s)
		if err != nil {
			return
		}
		sealed, _ := b64.DecodeString(s[3:])
		if again, _ := EncryptText(kc, kind, sender, text, sealed[:IVSize]); again != s {
			t.Fatalf("accepted %q does not re-encrypt to itself (%q)", s, again)
		}
	})
}

func FuzzUnwrapKey(f *testing.F) {
	v := generate()
	for _, w := range v.Wraps {
		f.Add([]byte(w.Wrapped), w.SenderID, w.RecipientID)
	}
	for _, w := range v.BadWraps {
		f.Add([]byte(w.Wrapped), w.SenderID, w.RecipientID)
	}
	f.Add([]byte{}, "", "\x00")
	kw := v.Pairwise[0].WrapKey
	f.Fuzz(func(t *testing.T, wrapped []byte, sender, recipient string) {
		k, err := UnwrapKey(kw, sender, recipient, wrapped)
		if err != nil {
			return
		}
		if len(k.Raw) != 32 || len(k.Name) > MaxNameBytes || !utf8.ValidString(k.Name) || k.Counter > MaxKeyCounter {
			t.Fatalf("accepted counter %d, %d-byte key, name %q", k.Counter, len(k.Raw), k.Name)
		}
		if again, _ := WrapKey(kw, sender, recipient, k, wrapped[:IVSize]); !bytes.Equal(again, wrapped) {
			t.Fatal("accepted envelope does not re-wrap to itself")
		}
	})
}

func FuzzVP8PayloadDescriptorLen(f *testing.F) {
	for _, s := range [][]byte{{0x10, 1}, {0x90, 0xe0, 0x80, 0x01, 0x05, 0x20, 1}, {0x90, 0xf0, 0xff}, {0x90}, {}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		n, err := VP8PayloadDescriptorLen(p)
		if err == nil && (n < 1 || n > 6 || n >= len(p)) {
			t.Fatalf("length %d of %d bytes", n, len(p))
		}
	})
}

// FuzzFrameAssembler reads the input as packets: seq(2) ts(4) flags(1)
// length(1) payload(length). Emitted frames must be made of the packets'
// payloads and within the size limit.
func FuzzFrameAssembler(f *testing.F) {
	enc := func(ps []pkt) []byte {
		var b []byte
		for _, p := range ps {
			b = binary.BigEndian.AppendUint16(b, p.seq)
			b = binary.BigEndian.AppendUint32(b, p.ts)
			flag := byte(0)
			if p.marker {
				flag = 1
			}
			b = append(b, flag, byte(len(p.payload)))
			b = append(b, p.payload...)
		}
		return b
	}
	f.Add(enc(packetize(pattern(0, 500), 65534, 10, 100, 1)))
	p := packetize(pattern(7, 300), 9, 20, 90, 2)
	p[0], p[2] = p[2], p[0]
	f.Add(enc(append(p, packetize(pattern(1, 50), 13, 10, 20, 3)...)))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 1, 2, 0x10, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		a := FrameAssembler{MaxFrameSize: 1000}
		total := 0
		for len(data) >= 8 {
			seq := binary.BigEndian.Uint16(data)
			ts := binary.BigEndian.Uint32(data[2:])
			marker := data[6]&1 != 0
			n := min(int(data[7]), len(data)-8)
			payload := data[8 : 8+n]
			data = data[8+n:]
			total += len(payload)
			frame, ok := a.Push(seq, ts, marker, payload)
			if ok && (len(frame) > 1000 || len(frame) > total) {
				t.Fatalf("frame of %d bytes from %d payload bytes", len(frame), total)
			}
		}
	})
}
