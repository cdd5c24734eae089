package e2ee

import (
	"errors"
	"slices"
)

// Ring is a receiver's keys of one sender (FORMAT.md, "Media keys and the
// ratchet"): the last RingSize key indexes installed, one of them current. Key
// indexes are a full byte and wrap after 255, so an index says nothing about
// age; the ring keeps the newest installs, not a window of index values, and
// knows each key's counter: the envelope's for a key set, the counter of the key
// it was derived from plus the steps for a ratchet guess.
//
// A frame whose index is 1 to MaxRatchet steps past the current one (mod 256)
// and that no installed key opens is tried under the current key ratcheted
// that many times; the derived key is kept only if the frame authenticates.
// Anything else that fails (further ahead, a rotation whose wrapped key did not
// arrive, an old index reused after a wrap) is the receiver's cue to ask the
// sender for its key ("Key requests"). The zero value is empty and ready to use.
// A Ring is not safe for concurrent use.
type Ring struct {
	order   []byte           // installed indexes, oldest first
	keys    map[byte]ringKey // by index
	current int              // the current index; meaningless while order is empty
}

type ringKey struct {
	raw     []byte // R
	frame   []byte // KF
	counter uint64
}

// Set installs raw key R of the given counter (from the sender's envelope) at
// index counter mod 256 and makes it current: it is the sender's newest key
// (FORMAT.md, "The newest key", which JudgeKey decides). An install at an index
// already held replaces that key (an index reused after a wrap, or the sender's
// word for a counter a ratchet guess was made for). Every other key held for a
// higher counter is dropped: the sender's envelopes go up, so only ratchet guesses
// put one there, and a guess ahead of the sender's word is either derived again
// from it when the sender's frames come, or a ratchet of an older key that someone
// who left followed while the server held this key back. The oldest install
// beyond RingSize is dropped. A counter above MaxKeyCounter, which no envelope
// carries, is refused.
func (r *Ring) Set(counter uint64, raw []byte) error {
	if len(raw) != KeySize || counter > MaxKeyCounter {
		return ErrMalformed
	}
	index := byte(counter)
	r.order = slices.DeleteFunc(r.order, func(i byte) bool {
		if i != index && r.keys[i].counter <= counter {
			return false
		}
		delete(r.keys, i)
		return true
	})
	r.install(index, ringKey{slices.Clone(raw), FrameKey(raw), counter})
	return nil
}

// install puts k in at index as the newest install and makes it current.
func (r *Ring) install(index byte, k ringKey) {
	if r.keys == nil {
		r.keys = make(map[byte]ringKey)
	}
	r.order = slices.DeleteFunc(r.order, func(i byte) bool { return i == index })
	r.order = append(r.order, index)
	r.keys[index] = k
	for len(r.order) > RingSize {
		delete(r.keys, r.order[0])
		r.order = r.order[1:]
	}
	r.current = int(index)
}

// Current returns the current key index (ok false when the ring is empty).
func (r *Ring) Current() (index byte, ok bool) {
	if len(r.order) == 0 {
		return 0, false
	}
	return byte(r.current), true
}

// Has reports whether a key is installed at index.
func (r *Ring) Has(index byte) bool {
	_, ok := r.keys[index]
	return ok
}

// Counter returns the counter of the key installed at index (ok false when none is).
func (r *Ring) Counter(index byte) (counter uint64, ok bool) {
	k, ok := r.keys[index]
	return k.counter, ok
}

// Len is the number of keys installed.
func (r *Ring) Len() int { return len(r.order) }

// Decrypt opens a frame of senderID (DecryptFrame), following the sender's
// ratchet up to MaxRatchet steps as the type comment says; a key derived so gets
// the current key's counter plus the steps. Errors are DecryptFrame's;
// ErrUnknownKey and ErrAuth mean "ask the sender for its key".
//
// The browser's ring derives a guess asynchronously and keeps it only if no key
// was set meanwhile (a guess made from the key before a rotation, finished after
// the rotated key came, is not kept: FORMAT.md). Here a guess is made and kept
// within one call, and a Ring is not used concurrently, so no Set can fall
// between the two.
func (r *Ring) Decrypt(senderID string, frame []byte, kind Kind, source Source) ([]byte, error) {
	lookup := func(i byte) []byte { return r.keys[i].frame }
	pt, err := DecryptFrame(lookup, senderID, frame, kind, source)
	if err == nil || (!errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrAuth)) {
		return pt, err
	}
	idx, _ := KeyIndex(frame)
	cur, ok := r.Current()
	steps := int(idx - cur) // mod 256
	if !ok || steps == 0 || steps > MaxRatchet {
		return nil, err
	}
	base := r.keys[cur]
	raw := base.raw
	for range steps {
		raw = Ratchet(raw)
	}
	fk := FrameKey(raw)
	pt, err2 := DecryptFrame(func(byte) []byte { return fk }, senderID, frame, kind, source)
	if err2 != nil {
		return nil, err // not a ratchet: a rotation, junk, or too far
	}
	r.install(idx, ringKey{raw, fk, base.counter + uint64(steps)})
	return pt, nil
}
