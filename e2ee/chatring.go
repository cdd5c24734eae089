package e2ee

import (
	"bytes"
	"errors"
	"slices"
)

// ChatRing is a receiver's chat keys of one sender (FORMAT.md, "Chat (version 3)"),
// the reference for what the browser's ChatKeys (chat-keys.js) holds: the last
// RingSize key indexes installed, one of them the sender's newest (where ratchet
// guesses start), each with its counter (the envelope's, or for a ratchet guess the
// counter of the key it came from plus the steps). Unlike Ring it takes past keys,
// which open texts at their own index only. The texts' own counters (the last one
// taken from the sender) are the caller's. The zero value is empty and ready to use;
// a ChatRing is not safe for concurrent use.
//
// Where ChatKeys differs, the vectors do not reach. It also holds the page's own keys
// (for its own texts the server echoes), which are not part of the format and have no
// place here: they come from no envelope, and the page sets each when it uses it, not
// in the order of their counters (a rotated key goes in use for frames ROTATE_DELAY_MS
// after it was made, maybe after a newer own key sealed a text), so it sets them
// without a counter (one drops nothing, is never dropped for a counter, and a guess made
// from it gets none): with counters, the older key put in use would drop the newer one
// (FORMAT.md, "Chat (version 3)", its vectors; web/jstest/chat-counter.test.mjs). And
// it derives a guess asynchronously, keeping it only if the key it came from is still
// the newest (not after a newer key of the sender came meanwhile, as Ring.Decrypt says
// of KeyRing); here a guess is made and kept within one call.
type ChatRing struct {
	order  []byte           // installed indexes, oldest first
	keys   map[byte]chatKey // by index
	newest int              // the newest's index; meaningless while hasNew is false
	hasNew bool
}

type chatKey struct {
	raw     []byte
	counter uint64
}

// Set installs raw key R of the given counter (from the sender's envelope) at index
// counter mod 256. A key not marked past is the sender's newest (FORMAT.md, "The
// newest key", which JudgeKey decides): every other key held for a higher counter is
// dropped (only ratchet guesses put one there, as in Ring.Set), and it becomes the
// newest. A past key opens texts at its index and nothing else: it drops nothing,
// never becomes the newest, and never replaces the newest. The newest sent again
// changes nothing. The oldest install beyond RingSize is dropped, never the newest.
// A counter above MaxKeyCounter, which no envelope carries, is refused.
func (r *ChatRing) Set(counter uint64, raw []byte, past bool) error {
	if len(raw) != KeySize || counter > MaxKeyCounter {
		return ErrMalformed
	}
	index := byte(counter)
	if held, ok := r.keys[index]; ok && r.hasNew && r.newest == int(index) && (past || bytes.Equal(held.raw, raw)) {
		return nil
	}
	if !past {
		r.order = slices.DeleteFunc(r.order, func(i byte) bool {
			if i == index || r.keys[i].counter <= counter {
				return false
			}
			delete(r.keys, i)
			return true
		})
	}
	r.install(index, chatKey{slices.Clone(raw), counter})
	if !past {
		r.newest, r.hasNew = int(index), true
	}
	return nil
}

// install puts k in at index as the newest install (an index held already too, as
// in Ring) and drops the oldest installs beyond RingSize, never the newest.
func (r *ChatRing) install(index byte, k chatKey) {
	if r.keys == nil {
		r.keys = make(map[byte]chatKey)
	}
	r.order = slices.DeleteFunc(r.order, func(i byte) bool { return i == index })
	r.order = append(r.order, index)
	r.keys[index] = k
	for len(r.order) > RingSize {
		at := 0
		if r.hasNew && int(r.order[0]) == r.newest {
			at = 1
		}
		delete(r.keys, r.order[at])
		r.order = slices.Delete(r.order, at, at+1)
	}
}

// Newest returns the newest key's index (ok false before a key not marked past came).
func (r *ChatRing) Newest() (index byte, ok bool) { return byte(r.newest), r.hasNew }

// Has reports whether a key is held at index.
func (r *ChatRing) Has(index byte) bool {
	_, ok := r.keys[index]
	return ok
}

// Len is the number of keys held.
func (r *ChatRing) Len() int { return len(r.order) }

// Open opens an "e3." string of senderID (DecryptChat) with the key held at its
// index or, when none is, with the newest key ratcheted 1 to MaxRatchet steps on; a
// key derived so is kept, with the newest's counter plus the steps, and becomes the
// newest. Errors are DecryptChat's; ErrAuth when the key at the text's index does not
// open it, ErrUnknownKey when no key is held for it (it waits for the sender's key).
func (r *ChatRing) Open(senderID, s string) (string, uint64, error) {
	idx, _, err := ParseChat(s)
	if err != nil {
		return "", 0, err
	}
	if k, ok := r.keys[idx]; ok {
		return DecryptChat(k.raw, senderID, s)
	}
	steps := int(idx - byte(r.newest)) // mod 256
	if !r.hasNew || steps < 1 || steps > MaxRatchet {
		return "", 0, ErrUnknownKey
	}
	base := r.keys[byte(r.newest)]
	raw := base.raw
	for range steps {
		raw = Ratchet(raw)
	}
	text, counter, err := DecryptChat(raw, senderID, s)
	if errors.Is(err, ErrAuth) {
		return "", 0, ErrUnknownKey // not a ratchet: a rotation whose key has not come (or junk)
	}
	if err != nil {
		return "", 0, err
	}
	r.install(idx, chatKey{raw, base.counter + uint64(steps)})
	r.newest = int(idx)
	return text, counter, nil
}
