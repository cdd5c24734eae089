package e2ee

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Knock proofs (FORMAT.md, "Knock proof"): a knocker shows the moderators that its link
// holds the meeting secret by answering a nonce the server drew for its knock with an
// HMAC under KI over the nonce and an ephemeral X25519 public key of its own. The server
// passes nonce, key and proof on unjudged; only the moderators' browsers, which hold KI,
// can check it. With that ephemeral key the knocker seals its display name to each
// moderator's lobby key (SealKnockName), so only those moderators read who knocks.

// Sizes of a knock's nonce and proof.
const (
	KnockNonceSize = 32
	KnockProofSize = 32
	// KnockFieldChars is the length of either as unpadded base64url.
	KnockFieldChars = 43
)

const knockLabel = "conclave/v2 knock"

// ErrKnockField is a knock nonce or proof that is not 32 bytes of canonical unpadded
// base64url.
var ErrKnockField = errors.New("e2ee: a knock nonce or proof must be 32 bytes of unpadded base64url")

// KnockProof returns HMAC(KI, "conclave/v2 knock" || 0x00 || nonce || 0x00 || ephPub),
// ephPub being the knock's ephemeral X25519 public key.
func KnockProof(identityKey, nonce, ephPub []byte) []byte {
	m := hmac.New(sha256.New, identityKey)
	m.Write([]byte(knockLabel + "\x00"))
	m.Write(nonce)
	m.Write([]byte{0})
	m.Write(ephPub)
	return m.Sum(nil)
}

// VerifyKnockProof checks a knock's proof in constant time; false for a nonce, key or
// proof of the wrong size.
func VerifyKnockProof(identityKey, nonce, ephPub, proof []byte) bool {
	if len(nonce) != KnockNonceSize || len(ephPub) != 32 || len(proof) != KnockProofSize {
		return false
	}
	return hmac.Equal(KnockProof(identityKey, nonce, ephPub), proof)
}

// Knock names (FORMAT.md, "Names"): the knocker seals its display name to one
// moderator's lobby key P under
//
//	K      = HKDF(ikm = X25519(eph, P), salt = nonce, info = "conclave/v2 knock" 0 moderatorId)
//	sealed = iv || AES-GCM(K, iv, utf8(name), aad = "conclave/v2 knock name")
//
// so only that moderator's session opens it, for this knock only.

// Sizes of a sealed knock name: iv and tag around 0 to MaxNameBytes of name.
const (
	MinSealedNameSize = IVSize + TagSize
	MaxSealedNameSize = MinSealedNameSize + MaxNameBytes
)

const knockNameAAD = knockLabel + " name"

func knockNameKey(priv *ecdh.PrivateKey, peerPub, nonce []byte, moderatorID string) ([]byte, error) {
	if !ValidID(moderatorID) {
		return nil, ErrBadID
	}
	if len(nonce) != KnockNonceSize {
		return nil, fmt.Errorf("%w: nonce of %d bytes", ErrMalformed, len(nonce))
	}
	if priv.Curve() != ecdh.X25519() {
		return nil, errors.New("e2ee: a knock name needs an X25519 private key")
	}
	pub, err := ecdh.X25519().NewPublicKey(peerPub)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	shared, err := priv.ECDH(pub) // refuses an all-zero result
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	k, err := hkdf.Key(sha256.New, shared, nonce, knockLabel+"\x00"+moderatorID, KeySize)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// SealKnockName seals name (at most MaxNameBytes of UTF-8) with the knock's ephemeral
// private key to the lobby key modPub of moderatorID, for the knock's nonce. A nil iv
// means a random one.
func SealKnockName(eph *ecdh.PrivateKey, modPub, nonce []byte, moderatorID, name string, iv []byte) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	k, err := knockNameKey(eph, modPub, nonce, moderatorID)
	if err != nil {
		return nil, err
	}
	iv, err = ivOrRandom(iv)
	if err != nil {
		return nil, err
	}
	g, err := newGCM(k)
	if err != nil {
		return nil, err
	}
	return g.Seal(append([]byte(nil), iv...), iv, []byte(name), []byte(knockNameAAD)), nil
}

// OpenKnockName opens a sealed knock name with the moderator's private key (the one of
// its lobby key), the knock's ephemeral public key and nonce, and its own id.
func OpenKnockName(mod *ecdh.PrivateKey, ephPub, nonce []byte, moderatorID string, sealed []byte) (string, error) {
	if len(sealed) < MinSealedNameSize || len(sealed) > MaxSealedNameSize {
		return "", ErrMalformed
	}
	k, err := knockNameKey(mod, ephPub, nonce, moderatorID)
	if err != nil {
		return "", err
	}
	g, err := newGCM(k)
	if err != nil {
		return "", err
	}
	pt, err := g.Open(nil, sealed[:IVSize], sealed[IVSize:], []byte(knockNameAAD))
	if err != nil {
		return "", ErrAuth
	}
	if !utf8.Valid(pt) {
		return "", ErrMalformed
	}
	return string(pt), nil
}

// ParseKnockField decodes a knock nonce or proof as it travels in signaling messages:
// exactly 43 characters of canonical unpadded base64url for 32 bytes. It never panics;
// every refusal wraps ErrKnockField.
func ParseKnockField(s string) ([]byte, error) {
	if len(s) != KnockFieldChars {
		return nil, fmt.Errorf("%w (%d characters)", ErrKnockField, len(s))
	}
	b, err := b64.DecodeString(s)
	if err != nil || len(b) != KnockProofSize {
		return nil, ErrKnockField
	}
	return b, nil
}

// EncodeKnockField writes a nonce or proof as it travels: unpadded base64url.
func EncodeKnockField(b []byte) string { return b64.EncodeToString(b) }

// Lobby keys (FORMAT.md, "Lobby keys"): each present moderator publishes an X25519
// public key with a tag under KI, which the server shows every knocker, so that a
// knocker can check its own link before anyone admits it.

const lobbyKeyLabel = "conclave/v2 lobby key"

// LobbyKeyTag returns HMAC(KI, "conclave/v2 lobby key" || 0 || moderatorId || 0 || pub).
func LobbyKeyTag(identityKey []byte, moderatorID string, pub []byte) []byte {
	m := hmac.New(sha256.New, identityKey)
	m.Write([]byte(lobbyKeyLabel + "\x00" + moderatorID + "\x00"))
	m.Write(pub)
	return m.Sum(nil)
}

// VerifyLobbyKey checks a lobby key's tag in constant time; false for an invalid id or
// a key or tag that is not 32 bytes.
func VerifyLobbyKey(identityKey []byte, moderatorID string, pub, tag []byte) bool {
	if !ValidID(moderatorID) || len(pub) != 32 || len(tag) != 32 {
		return false
	}
	return hmac.Equal(LobbyKeyTag(identityKey, moderatorID, pub), tag)
}
