// Package e2ee is the Go reference implementation of Conclave's end-to-end
// encryption format (FORMAT.md): the key schedule, the frame and text formats,
// a receiver's key ring per sender (ring.go), the safety code (safetycode.go), and VP8 RTP helpers that let a server-side
// test hook reassemble the encrypted frames it forwards. Browsers do the real
// work (web/static/js/e2ee/); this package exists so tests can check both sides
// against the same vectors, and so that a host's `conclave room -link …`
// commands derive room keys and seal titles exactly as the browser does
// (rooms.go).
//
// It imports only the standard library.
package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sizes fixed by the format.
const (
	KeySize       = 32                                           // every derived key and raw media key
	IVSize        = 12                                           // AES-GCM nonce
	TagSize       = 16                                           // AES-GCM tag
	RingSize      = 16                                           // keys a receiver keeps per sender: the last 16 indexes installed
	MaxRatchet    = 16                                           // how many ratchet steps past its current key a ring follows
	MinSecretSize = 16                                           // shortest meeting secret a client accepts
	CounterSize   = 8                                            // a key envelope's counter, big-endian
	WrappedSize   = IVSize + CounterSize + 1 + KeySize + TagSize // a key envelope without a name
	// MaxKeyCounter is the largest key counter (2^53 − 1, what a browser counts exactly).
	MaxKeyCounter = 1<<53 - 1
	// MaxNameBytes is the longest display name a key envelope carries, in UTF-8 bytes
	// (FORMAT.md, "Names"); MaxWrappedSize is the envelope with such a name.
	MaxNameBytes   = 200
	MaxWrappedSize = WrappedSize + MaxNameBytes
)

const label = "conclave/v1"

// Errors. Every parser returns one of these (possibly wrapped), never panics.
var (
	ErrTooShort   = errors.New("e2ee: too short")
	ErrUnknownKey = errors.New("e2ee: unknown key index")
	ErrAuth       = errors.New("e2ee: authentication failed")
	ErrMalformed  = errors.New("e2ee: malformed input")
	ErrBadID      = errors.New("e2ee: invalid participant id")
)

func derive(ikm []byte, salt, info string) []byte {
	k, err := hkdf.Key(sha256.New, ikm, []byte(salt), info, KeySize)
	if err != nil {
		panic(err) // only for lengths over 255*32
	}
	return k
}

// DeriveMeetingKeys derives the identity key KI and the chat key KC from the
// meeting secret S. Callers refuse secrets shorter than MinSecretSize first.
func DeriveMeetingKeys(secret []byte) (identity, chat []byte) {
	return derive(secret, label, "identity"), derive(secret, label, "chat")
}

// MaxIDBytes is the longest participant id, in bytes (FORMAT.md, "Participant ids"):
// the server makes "p-" and 16 hex digits and takes no longer id in anything a client
// sends (signaling/PROTOCOL.md), so a longer one is a lying server's. It bounds what a
// client keeps per id it must remember, the ids that left above all.
const MaxIDBytes = 64

// ValidID reports whether id may be used as a participant id in the format:
// non-empty, at most MaxIDBytes bytes, valid UTF-8 and without a 0x00 byte (the browser
// refuses lone surrogates, which its encoder would write as U+FFFD: FORMAT.md,
// "Participant ids").
func ValidID(id string) bool {
	return id != "" && len(id) <= MaxIDBytes && utf8.ValidString(id) && !strings.Contains(id, "\x00")
}

// IdentityTag returns HMAC(KI, "conclave/v1 identity" || 0 || id || 0 || pub).
func IdentityTag(identityKey []byte, participantID string, pub []byte) []byte {
	m := hmac.New(sha256.New, identityKey)
	m.Write([]byte(label + " identity\x00" + participantID + "\x00"))
	m.Write(pub)
	return m.Sum(nil)
}

// VerifyIdentity checks a public key's tag in constant time. It is false for
// an invalid id or a public key that is not 32 bytes.
func VerifyIdentity(identityKey []byte, participantID string, pub, tag []byte) bool {
	if !ValidID(participantID) || len(pub) != 32 {
		return false
	}
	return hmac.Equal(IdentityTag(identityKey, participantID, pub), tag)
}

// PairwiseKey derives the wrapping key KW shared by the owners of priv and
// peerPub, whose participant ids are idA and idB (in either order).
func PairwiseKey(priv *ecdh.PrivateKey, peerPub []byte, idA, idB string) ([]byte, error) {
	if !ValidID(idA) || !ValidID(idB) || idA == idB {
		return nil, ErrBadID
	}
	if priv.Curve() != ecdh.X25519() {
		return nil, errors.New("e2ee: pairwise key needs an X25519 private key")
	}
	pub, err := ecdh.X25519().NewPublicKey(peerPub)
	if err != nil {
		return nil, fmt.Errorf("%w: peer public key: %v", ErrMalformed, err)
	}
	shared, err := priv.ECDH(pub) // refuses an all-zero result
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if idB < idA {
		idA, idB = idB, idA
	}
	return derive(shared, idA+"\x00"+idB, label+" wrap"), nil
}

// wrapLabel is the key envelope's AAD label: version 3 of the envelope (FORMAT.md,
// "Pairwise wrapping key"; version 2, "conclave/v1 media-key", carried a key index only).
const wrapLabel = "conclave/v3 media-key"

func wrapAAD(senderID, recipientID string) []byte {
	return []byte(wrapLabel + "\x00" + senderID + "\x00" + recipientID)
}

// MediaKey is what a key envelope carries (FORMAT.md, "Pairwise wrapping key"): the
// sender's key counter (its key index is the counter mod 256), whether the sender gives
// the key as a past key (an earlier key of its chat texts, never its newest), the raw
// media key and the sender's display name.
type MediaKey struct {
	Counter uint64
	Past    bool
	Raw     []byte
	Name    string
}

// Index is the key's index in frames and chat texts: its counter mod 256.
func (k MediaKey) Index() byte { return byte(k.Counter) }

// WrapKey wraps media key k for recipientID:
// iv || AES-GCM(kw, iv, counter(8, big-endian) || past(1) || raw || utf8(name), aad).
// The counter is at most MaxKeyCounter, the name at most MaxNameBytes of valid
// UTF-8 ("" sends none). A nil iv means a random one.
func WrapKey(kw []byte, senderID, recipientID string, k MediaKey, iv []byte) ([]byte, error) {
	if !ValidID(senderID) || !ValidID(recipientID) {
		return nil, ErrBadID
	}
	raw, name := k.Raw, k.Name
	if len(raw) != KeySize {
		return nil, fmt.Errorf("%w: raw key of %d bytes", ErrMalformed, len(raw))
	}
	if k.Counter > MaxKeyCounter {
		return nil, fmt.Errorf("%w: key counter above 2^53 − 1", ErrMalformed)
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	iv, err := ivOrRandom(iv)
	if err != nil {
		return nil, err
	}
	g, err := newGCM(kw)
	if err != nil {
		return nil, err
	}
	pt := binary.BigEndian.AppendUint64(make([]byte, 0, CounterSize+1+KeySize+len(name)), k.Counter)
	pt = append(pt, 0)
	if k.Past {
		pt[CounterSize] = 1
	}
	pt = append(append(pt, raw...), name...)
	return g.Seal(append([]byte(nil), iv...), iv, pt, wrapAAD(senderID, recipientID)), nil
}

// checkName refuses a name the envelope cannot carry.
func checkName(name string) error {
	if len(name) > MaxNameBytes {
		return fmt.Errorf("%w: name of %d bytes, at most %d", ErrMalformed, len(name), MaxNameBytes)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: name is not valid UTF-8", ErrMalformed)
	}
	return nil
}

// UnwrapKey opens a key envelope sent by senderID to recipientID: the key's counter,
// whether it is a past key, the raw media key and the sender's display name ("" when
// it sent none). A counter above MaxKeyCounter, a past byte other than 0 or 1 and a
// name that is not UTF-8 are refused (ErrMalformed).
func UnwrapKey(kw []byte, senderID, recipientID string, wrapped []byte) (MediaKey, error) {
	if !ValidID(senderID) || !ValidID(recipientID) {
		return MediaKey{}, ErrBadID
	}
	if len(wrapped) < WrappedSize || len(wrapped) > MaxWrappedSize {
		return MediaKey{}, ErrMalformed
	}
	g, err := newGCM(kw)
	if err != nil {
		return MediaKey{}, err
	}
	pt, err := g.Open(nil, wrapped[:IVSize], wrapped[IVSize:], wrapAAD(senderID, recipientID))
	if err != nil {
		return MediaKey{}, ErrAuth
	}
	counter := binary.BigEndian.Uint64(pt)
	past := pt[CounterSize]
	name := string(pt[CounterSize+1+KeySize:])
	if counter > MaxKeyCounter || past > 1 || !utf8.ValidString(name) {
		return MediaKey{}, ErrMalformed
	}
	return MediaKey{Counter: counter, Past: past == 1, Raw: pt[CounterSize+1 : CounterSize+1+KeySize], Name: name}, nil
}

// KeyVerdict is what a receiver does with a sender's key envelope (FORMAT.md, "Media
// keys and the ratchet", "The newest key").
type KeyVerdict int

const (
	// KeyNewest: the sender's newest key, for frames and chat; ratchet guesses start there.
	KeyNewest KeyVerdict = iota
	// KeyAgain: the newest key sent again (an answer to a key request); nothing changes.
	KeyAgain
	// KeyPast: an earlier key of the sender's: it opens chat texts at its index, nothing else.
	KeyPast
	// KeyStale: dropped unused: an envelope not marked past below the newest (held back
	// by the server), a past key more than MaxRatchet changes before the newest, or a
	// past key while no newer key of the sender is held.
	KeyStale
	// KeyReplay: dropped: a key this sender sent before in the session (other than KeyAgain).
	KeyReplay
	// KeyConflict: refused and counted as a warning: another key at the newest counter.
	KeyConflict
)

var verdictNames = [...]string{"newest", "again", "past", "stale", "replay", "conflict"}

func (v KeyVerdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("KeyVerdict(%d)", int(v))
}

// JudgeKey decides what a receiver does with envelope k from a sender, given the
// counter of the newest key it holds from that sender's verified identity (newest < 0:
// none yet), that key (current) and whether k's raw key is one the receiver keeps from
// that sender's envelopes (seen; current counts too: FORMAT.md lets a receiver forget
// the keys of an identity before a resume, and those more than MaxRatchet below newest,
// whose replay is then stale).
// The rule of FORMAT.md, "The newest key", in order:
//   - a key seen before is the newest sent again if it is current with the newest
//     counter and not marked past, else a replay;
//   - another key at the newest counter is a conflict;
//   - a key not marked past with a counter above the newest is the newest;
//   - a key marked past with a counter 1 to MaxRatchet below the newest is a past key;
//   - anything else is stale (an envelope not marked past below the newest is one the
//     server held back: the sender sends its keys in the order of their counters).
func JudgeKey(newest int64, current []byte, seen bool, k MediaKey) KeyVerdict {
	c := int64(k.Counter) // at most MaxKeyCounter
	if seen {
		if newest >= 0 && c == newest && !k.Past && hmac.Equal(k.Raw, current) {
			return KeyAgain
		}
		return KeyReplay
	}
	switch {
	case newest >= 0 && c == newest:
		return KeyConflict
	case !k.Past && c > newest:
		return KeyNewest
	case k.Past && newest >= 0 && c < newest && newest-c <= MaxRatchet:
		return KeyPast
	}
	return KeyStale
}

// FrameKey derives the AES-GCM frame key KF from a raw media key.
func FrameKey(raw []byte) []byte { return derive(raw, label, "frame") }

// Ratchet derives the next raw media key R' from R.
func Ratchet(raw []byte) []byte { return derive(raw, label, "ratchet") }

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("e2ee: key of %d bytes, want %d", len(key), KeySize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func ivOrRandom(iv []byte) ([]byte, error) {
	if iv == nil {
		iv = make([]byte, IVSize)
		rand.Read(iv)
		return iv, nil
	}
	if len(iv) != IVSize {
		return nil, fmt.Errorf("e2ee: iv of %d bytes, want %d", len(iv), IVSize)
	}
	return iv, nil
}
