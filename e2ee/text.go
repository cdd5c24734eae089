package e2ee

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Text kinds and the prefix of an encrypted text.
const (
	TextChat   = "chat"
	TextName   = "name"
	TextPrefix = "e1."
)

var b64 = base64.RawURLEncoding.Strict()

// textAAD checks kind and sender id and returns the AAD:
// "conclave/v1 " || kind || 0x00 || senderID. A chat message names its
// sender; a name does not (it is sent before the server assigns an id).
func textAAD(kind, senderID string) ([]byte, error) {
	switch kind {
	case TextChat:
		if !ValidID(senderID) {
			return nil, ErrBadID
		}
	case TextName:
		if senderID != "" {
			return nil, fmt.Errorf("%w: a name carries no sender id", ErrBadID)
		}
	default:
		return nil, fmt.Errorf("e2ee: unknown text kind %q", kind)
	}
	return []byte(label + " " + kind + "\x00" + senderID), nil
}

// EncryptText returns "e1." || base64url(iv || AES-GCM(KC, iv, text, aad)).
// A nil iv means a random one.
func EncryptText(chatKey []byte, kind, senderID, text string, iv []byte) (string, error) {
	aad, err := textAAD(kind, senderID)
	if err != nil {
		return "", err
	}
	iv, err = ivOrRandom(iv)
	if err != nil {
		return "", err
	}
	g, err := newGCM(chatKey)
	if err != nil {
		return "", err
	}
	sealed := g.Seal(append([]byte(nil), iv...), iv, []byte(text), aad)
	return TextPrefix + b64.EncodeToString(sealed), nil
}

// DecryptText opens a string made by EncryptText. Errors: ErrMalformed (no
// prefix, not canonical base64url, invalid UTF-8), ErrTooShort, ErrAuth,
// ErrBadID.
func DecryptText(chatKey []byte, kind, senderID, s string) (string, error) {
	aad, err := textAAD(kind, senderID)
	if err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(s, TextPrefix)
	if !ok || strings.ContainsAny(rest, "\r\n") { // the decoder skips CR and LF
		return "", ErrMalformed
	}
	sealed, err := b64.DecodeString(rest)
	if err != nil {
		return "", ErrMalformed
	}
	if len(sealed) < IVSize+TagSize {
		return "", ErrTooShort
	}
	g, err := newGCM(chatKey)
	if err != nil {
		return "", err
	}
	pt, err := g.Open(nil, sealed[:IVSize], sealed[IVSize:], aad)
	if err != nil {
		return "", ErrAuth
	}
	if !utf8.Valid(pt) {
		return "", ErrMalformed
	}
	return string(pt), nil
}
