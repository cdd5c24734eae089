package e2ee

import (
	"errors"
	"slices"
)

// Ring is a receiver's keys of one sender (FORMAT.md, "Media keys and the
// ratchet"): the last RingSize key indexes installed, one of them current. Key
// indexes are a full byte and wrap after 255, so an index says nothing about
// age; the ring keeps the newest installs, not a window of index values.
//
// A frame whose index is 1 to MaxRatchet steps past the current one (mod 256)
// and that no installed key opens is tried under the current key ratcheted
// that many times; the derived key is kept only if the frame authenticates.
// Anything else that fails (further ahead, a rotation whose wrapped key did not
// arrive, an old index reused after a wrap) is the receiver's cue to ask the
// sender for its key ("Key requests"). The zero value is empty and ready to use.
// A Ring is not safe for concurrent use.
type Ring struct {
	order   []byte          // installed indexes, oldest first
	keys    map[byte][]byte // index -> raw key R
	frames  map[byte][]byte // index -> frame key KF
	current int             // the current index; meaningless while order is empty
}

// Set installs raw key R at index and makes it current. An install at an index
// already held replaces that key (an index reused after a wrap). The oldest
// install beyond RingSize is dropped.
func (r *Ring) Set(index byte, raw []byte) error {
	if len(raw) != KeySize {
		return ErrMalformed
	}
	if r.keys == nil {
		r.keys, r.frames = make(map[byte][]byte), make(map[byte][]byte)
	}
	r.order = slices.DeleteFunc(r.order, func(i byte) bool { return i == index })
	r.order = append(r.order, index)
	r.keys[index] = slices.Clone(raw)
	r.frames[index] = FrameKey(raw)
	for len(r.order) > RingSize {
		delete(r.keys, r.order[0])
		delete(r.frames, r.order[0])
		r.order = r.order[1:]
	}
	r.current = int(index)
	return nil
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

// Len is the number of keys installed.
func (r *Ring) Len() int { return len(r.order) }

// Decrypt opens a frame of senderID (DecryptFrame), following the sender's
// ratchet up to MaxRatchet steps as the type comment says. Errors are
// DecryptFrame's; ErrUnknownKey and ErrAuth mean "ask the sender for its key".
func (r *Ring) Decrypt(senderID string, frame []byte, kind Kind, source Source) ([]byte, error) {
	lookup := func(i byte) []byte { return r.frames[i] }
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
	raw := r.keys[cur]
	for range steps {
		raw = Ratchet(raw)
	}
	fk := FrameKey(raw)
	pt, err2 := DecryptFrame(func(byte) []byte { return fk }, senderID, frame, kind, source)
	if err2 != nil {
		return nil, err // not a ratchet: a rotation, junk, or too far
	}
	_ = r.Set(idx, raw)
	return pt, nil
}
