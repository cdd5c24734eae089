package e2ee

import (
	"bytes"
	"errors"
	"testing"
)

// A sender that ratchets on every join and rotates on every leave, far past
// index 255, and a receiver that follows only through its ring and the keys it is
// given: the ring never holds more than RingSize keys, follows up to MaxRatchet
// joins by itself, needs the sender's key (a key request's answer) beyond, and
// knows the sender's counter for the key it followed to.
func TestRingFollowsAndWraps(t *testing.T) {
	raw := pattern(1, 32)
	counter := uint64(0)
	idx := func() byte { return byte(counter) }
	var r Ring
	if err := r.Set(counter, raw); err != nil {
		t.Fatal(err)
	}
	frame := func() []byte {
		return mustEncryptFrame(t, FrameKey(raw), "p-s", idx(), []byte{0x31, 1, 2, 3, 4, 5}, VP8)
	}
	requests := 0
	for step := 1; step <= 600; step++ {
		joins := step%7 + 1 // 2 to 8 joins between frames, sometimes more than MaxRatchet
		if step%50 == 0 {
			joins = MaxRatchet + 4 // a silent sender while 20 people join
		}
		for range joins {
			raw, counter = Ratchet(raw), counter+1
		}
		if step%11 == 0 {
			raw, counter = pattern(byte(step), 32), counter+1 // a rotation whose envelope was dropped
		}
		_, err := r.Decrypt("p-s", frame(), VP8, Camera)
		if err != nil {
			if !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrAuth) {
				t.Fatalf("step %d: %v", step, err)
			}
			requests++
			_ = r.Set(counter, raw) // the sender's answer to the key request
			if _, err := r.Decrypt("p-s", frame(), VP8, Camera); err != nil {
				t.Fatalf("step %d: after the answer: %v", step, err)
			}
		}
		cur, _ := r.Current()
		if c, _ := r.Counter(cur); cur != idx() || c != counter || r.Len() > RingSize {
			t.Fatalf("step %d: ring at %d (counter %d) with %d keys, sender at %d (counter %d)", step, cur, c, r.Len(), idx(), counter)
		}
	}
	if requests == 0 {
		t.Fatal("no key was ever asked for")
	}
}

func TestRingKeepsLastSixteen(t *testing.T) {
	var r Ring
	for i := range 40 {
		if err := r.Set(uint64(250+i), pattern(byte(i), 32)); err != nil { // the index wraps
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
	// An index set again (counter 274 held there, 256 changes on) counts as new and
	// replaces its key.
	if err := r.Set(274+256, pattern(99, 32)); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.Counter(18); r.Len() != RingSize || c != 274+256 {
		t.Fatalf("%d keys, counter %d at index 18", r.Len(), c)
	}
	fr := mustEncryptFrame(t, FrameKey(pattern(99, 32)), "p-s", byte(18), []byte{1, 2, 3, 4}, Opus)
	if pt, err := r.Decrypt("p-s", fr, Opus, Microphone); err != nil || !bytes.Equal(pt, []byte{1, 2, 3, 4}) {
		t.Fatalf("replaced key: %x %v", pt, err)
	}
	if err := r.Set(1000, make([]byte, 31)); !errors.Is(err, ErrMalformed) {
		t.Errorf("31-byte key: %v", err)
	}
	if err := r.Set(MaxKeyCounter+1, pattern(7, 32)); !errors.Is(err, ErrMalformed) {
		t.Errorf("counter above MaxKeyCounter: %v", err)
	}
	if r.Len() != RingSize || !r.Has(18) {
		t.Errorf("a refused key changed the ring: %d keys", r.Len())
	}
	var empty Ring
	if _, err := empty.Decrypt("p-s", fr, Opus, Microphone); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("empty ring: %v", err)
	}
}

// The one who left writes frames under ratchets of the sender's key K while the
// server holds back the sender's rotation F; the receiver follows them (each guess
// knowing its counter: K's plus the steps, a guess's plus the further steps). When
// F comes, the guesses above F's counter go, so nothing written under K's ratchets
// opens any more; K itself stays for the frames still in flight, and F's own
// ratchets are followed from F's counter.
func TestRingDropsGuessesAboveTheSendersKey(t *testing.T) {
	k0 := uint64(300) // index 44
	k, f := pattern(0x10, 32), pattern(0x50, 32)
	ratchets := func(raw []byte, n int) []byte {
		for range n {
			raw = Ratchet(raw)
		}
		return raw
	}
	frame := func(raw []byte, counter uint64) []byte {
		return mustEncryptFrame(t, FrameKey(raw), "p-s", byte(counter), []byte{0x31, 1, 2, 3}, VP8)
	}
	var r Ring
	if err := r.Set(k0, k); err != nil {
		t.Fatal(err)
	}
	for _, steps := range []uint64{2, 5} { // the second guess is made from the first
		if _, err := r.Decrypt("p-s", frame(ratchets(k, int(steps)), k0+steps), VP8, Camera); err != nil {
			t.Fatalf("K's ratchet %d steps on: %v", steps, err)
		}
		if c, ok := r.Counter(byte(k0 + steps)); !ok || c != k0+steps {
			t.Fatalf("the guess %d steps on has counter %d (held %v), want %d", steps, c, ok, k0+steps)
		}
	}
	if err := r.Set(k0+1, f); err != nil {
		t.Fatal(err)
	}
	if cur, _ := r.Current(); cur != byte(k0+1) || r.Len() != 2 || !r.Has(byte(k0)) {
		t.Fatalf("after F: current %d, %d keys", cur, r.Len())
	}
	for _, steps := range []uint64{2, 5, 3} {
		if _, err := r.Decrypt("p-s", frame(ratchets(k, int(steps)), k0+steps), VP8, Camera); err == nil {
			t.Errorf("K's ratchet %d steps on opens after F", steps)
		}
	}
	if _, err := r.Decrypt("p-s", frame(k, k0), VP8, Camera); err != nil {
		t.Errorf("a frame under K after F: %v", err)
	}
	if _, err := r.Decrypt("p-s", frame(ratchets(f, 1), k0+2), VP8, Camera); err != nil {
		t.Fatalf("F's ratchet: %v", err)
	}
	if c, _ := r.Counter(byte(k0 + 2)); c != k0+2 {
		t.Errorf("F's ratchet has counter %d, want %d", c, k0+2)
	}
}
