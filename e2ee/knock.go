package e2ee

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Knock proofs (FORMAT.md, "Knock proof"): a knocker shows the moderators that its link
// holds the meeting secret by answering a nonce the server drew for its knock with an
// HMAC under KI. The server passes nonce and proof on unjudged; only the moderators'
// browsers, which hold KI, can check it.

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

// KnockProof returns HMAC(KI, "conclave/v2 knock" || 0x00 || nonce).
func KnockProof(identityKey, nonce []byte) []byte {
	m := hmac.New(sha256.New, identityKey)
	m.Write([]byte(knockLabel + "\x00"))
	m.Write(nonce)
	return m.Sum(nil)
}

// VerifyKnockProof checks a knock's proof in constant time; false for a nonce or a
// proof of the wrong size.
func VerifyKnockProof(identityKey, nonce, proof []byte) bool {
	if len(nonce) != KnockNonceSize || len(proof) != KnockProofSize {
		return false
	}
	return hmac.Equal(KnockProof(identityKey, nonce), proof)
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
