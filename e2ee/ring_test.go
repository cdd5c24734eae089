package e2ee

import (
	"bytes"
	"errors"
	"testing"
)

// A sender that ratchets on every join and rotates on every leave, far past
// index 255, and a receiver that follows only through its ring and the keys it is
// given: the ring never holds more than RingSize keys, follows up to MaxRatchet
// joins by itself, and needs the sender's key (a key request's answer) beyond.
func TestRingFollowsAndWraps(t *testing.T) {
	raw := pattern(1, 32)
	idx := byte(0)
	var r Ring
	if err := r.Set(idx, raw); err != nil {
		t.Fatal(err)
	}
	frame := func() []byte {
		return mustEncryptFrame(t, FrameKey(raw), "p-s", idx, []byte{0x31, 1, 2, 3, 4, 5}, VP8)
	}
	requests := 0
	for step := 1; step <= 600; step++ {
		joins := step%7 + 1 // 2 to 8 joins between frames, sometimes more than MaxRatchet
		if step%50 == 0 {
			joins = MaxRatchet + 4 // a silent sender while 20 people join
		}
		for range joins {
			raw, idx = Ratchet(raw), idx+1
		}
		if step%11 == 0 {
			raw, idx = pattern(byte(step), 32), idx+1 // a rotation whose envelope was dropped
		}
		_, err := r.Decrypt("p-s", frame(), VP8, Camera)
		if err != nil {
			if !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrAuth) {
				t.Fatalf("step %d: %v", step, err)
			}
			requests++
			_ = r.Set(idx, raw) // the sender's answer to the key request
			if _, err := r.Decrypt("p-s", frame(), VP8, Camera); err != nil {
				t.Fatalf("step %d: after the answer: %v", step, err)
			}
		}
		if cur, _ := r.Current(); cur != idx || r.Len() > RingSize {
			t.Fatalf("step %d: ring at %d with %d keys, sender at %d", step, cur, r.Len(), idx)
		}
	}
	if requests == 0 {
		t.Fatal("no key was ever asked for")
	}
}

func TestRingKeepsLastSixteen(t *testing.T) {
	var r Ring
	for i := range 40 {
		if err := r.Set(byte(250+i), pattern(byte(i), 32)); err != nil { // wraps
			t.Fatal(err)
		}
	}
	if r.Len() != RingSize {
		t.Fatalf("%d keys", r.Len())
	}
	for i := range 40 {
		if want := i >= 40-RingSize; r.Has(byte(250+i)) != want {
			t.Errorf("index %d held: %v", byte(250+i), !want)
		}
	}
	// An index set again counts as new and replaces its key.
	if err := r.Set(byte(18), pattern(99, 32)); err != nil {
		t.Fatal(err)
	}
	fr := mustEncryptFrame(t, FrameKey(pattern(99, 32)), "p-s", byte(18), []byte{1, 2, 3, 4}, Opus)
	if pt, err := r.Decrypt("p-s", fr, Opus, Microphone); err != nil || !bytes.Equal(pt, []byte{1, 2, 3, 4}) {
		t.Fatalf("replaced key: %x %v", pt, err)
	}
	if err := r.Set(0, make([]byte, 31)); !errors.Is(err, ErrMalformed) {
		t.Errorf("31-byte key: %v", err)
	}
	var empty Ring
	if _, err := empty.Decrypt("p-s", fr, Opus, Microphone); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("empty ring: %v", err)
	}
}
