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
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sizes fixed by the format.
const (
	KeySize       = 32                             // every derived key and raw media key
	IVSize        = 12                             // AES-GCM nonce
	TagSize       = 16                             // AES-GCM tag
	RingSize      = 16                             // keys a receiver keeps per sender: the last 16 indexes installed
	MaxRatchet    = 16                             // how many ratchet steps past its current key a ring follows
	MinSecretSize = 16                             // shortest meeting secret a client accepts
	WrappedSize   = IVSize + 1 + KeySize + TagSize // a key envelope without a name
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

// ValidID reports whether id may be used as a participant id in the format:
// non-empty, valid UTF-8 and without a 0x00 byte (the browser refuses lone surrogates,
// which its encoder would write as U+FFFD: FORMAT.md, "Participant ids").
func ValidID(id string) bool {
	return id != "" && utf8.ValidString(id) && !strings.Contains(id, "\x00")
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

func wrapAAD(senderID, recipientID string) []byte {
	return []byte(label + " media-key\x00" + senderID + "\x00" + recipientID)
}

// WrapKey wraps the raw media key with index keyIndex (any byte: indexes run
// 0–255 and wrap) and the sender's display name for recipientID:
// iv || AES-GCM(kw, iv, keyIndex || raw || utf8(name), aad). The name is at most
// MaxNameBytes of valid UTF-8 ("" sends none). A nil iv means a random one.
func WrapKey(kw []byte, senderID, recipientID string, keyIndex byte, raw []byte, name string, iv []byte) ([]byte, error) {
	if !ValidID(senderID) || !ValidID(recipientID) {
		return nil, ErrBadID
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("%w: raw key of %d bytes", ErrMalformed, len(raw))
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
	pt := append(append([]byte{keyIndex}, raw...), name...)
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

// UnwrapKey opens a key envelope sent by senderID to recipientID: the key index, the
// raw media key and the sender's display name ("" when it sent none).
func UnwrapKey(kw []byte, senderID, recipientID string, wrapped []byte) (keyIndex byte, raw []byte, name string, err error) {
	if !ValidID(senderID) || !ValidID(recipientID) {
		return 0, nil, "", ErrBadID
	}
	if len(wrapped) < WrappedSize || len(wrapped) > MaxWrappedSize {
		return 0, nil, "", ErrMalformed
	}
	g, err := newGCM(kw)
	if err != nil {
		return 0, nil, "", err
	}
	pt, err := g.Open(nil, wrapped[:IVSize], wrapped[IVSize:], wrapAAD(senderID, recipientID))
	if err != nil {
		return 0, nil, "", ErrAuth
	}
	name = string(pt[1+KeySize:])
	if !utf8.ValidString(name) {
		return 0, nil, "", ErrMalformed
	}
	return pt[0], pt[1 : 1+KeySize], name, nil
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
