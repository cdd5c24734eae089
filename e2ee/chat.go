package e2ee

import (
	"strings"
	"unicode/utf8"
)

// Chat texts of version 2 (FORMAT.md, "Chat (version 2)"): encrypted under a key
// derived from the sender's own media key, which reaches only the members that
// verified it, so the link secret alone opens no chat text.
const (
	ChatPrefix = "e2."
	labelV2    = "conclave/v2"
	// chatMinSize is keyIndex || iv || tag: an empty text.
	chatMinSize = 1 + IVSize + TagSize
)

// ChatKey derives KT = HKDF(ikm=R, salt="conclave/v2", info="chat") from a raw
// media key R.
func ChatKey(raw []byte) []byte { return derive(raw, labelV2, "chat") }

// chatAAD is "conclave/v2 chat" || 0x00 || senderID || 0x00 || keyIndex.
func chatAAD(senderID string, keyIndex byte) []byte {
	return append([]byte(labelV2+" chat\x00"+senderID+"\x00"), keyIndex)
}

// EncryptChat returns "e2." || base64url(keyIndex || iv || AES-GCM(KT, iv, text,
// aad)) for the sender's media key raw at keyIndex. A nil iv means a random one.
func EncryptChat(raw []byte, keyIndex byte, senderID, text string, iv []byte) (string, error) {
	if !ValidID(senderID) {
		return "", ErrBadID
	}
	if len(raw) != KeySize {
		return "", ErrMalformed
	}
	iv, err := ivOrRandom(iv)
	if err != nil {
		return "", err
	}
	g, err := newGCM(ChatKey(raw))
	if err != nil {
		return "", err
	}
	out := append([]byte{keyIndex}, iv...)
	out = g.Seal(out, iv, []byte(text), chatAAD(senderID, keyIndex))
	return ChatPrefix + b64.EncodeToString(out), nil
}

// ParseChat splits an "e2." string into its key index and the rest (iv ||
// ciphertext), so that a receiver can pick the sender's key before opening it.
// Errors: ErrMalformed (no prefix, not canonical base64url), ErrTooShort.
func ParseChat(s string) (keyIndex byte, sealed []byte, err error) {
	rest, ok := strings.CutPrefix(s, ChatPrefix)
	if !ok || strings.ContainsAny(rest, "\r\n") { // the decoder skips CR and LF
		return 0, nil, ErrMalformed
	}
	b, err := b64.DecodeString(rest)
	if err != nil {
		return 0, nil, ErrMalformed
	}
	if len(b) < chatMinSize {
		return 0, nil, ErrTooShort
	}
	return b[0], b[1:], nil
}

// DecryptChat opens an "e2." string from senderID (the `from` the server gave)
// with that sender's raw media key at the string's key index. Errors:
// ErrBadID, ErrMalformed (also for invalid UTF-8), ErrTooShort, ErrAuth.
func DecryptChat(raw []byte, senderID, s string) (string, error) {
	if len(raw) != KeySize {
		return "", ErrMalformed
	}
	return DecryptChatUnder(ChatKey(raw), senderID, s)
}

// DecryptChatUnder opens an "e2." string with the chat key KT itself (not a raw
// media key to derive it from). Tests use it to try keys that are not media keys.
func DecryptChatUnder(kt []byte, senderID, s string) (string, error) {
	if !ValidID(senderID) {
		return "", ErrBadID
	}
	idx, sealed, err := ParseChat(s)
	if err != nil {
		return "", err
	}
	g, err := newGCM(kt)
	if err != nil {
		return "", ErrMalformed
	}
	pt, err := g.Open(nil, sealed[:IVSize], sealed[IVSize:], chatAAD(senderID, idx))
	if err != nil {
		return "", ErrAuth
	}
	if !utf8.Valid(pt) {
		return "", ErrMalformed
	}
	return string(pt), nil
}

// LinkDerivableKeys returns every 32-byte key that the meeting secret alone gives
// under the format's labels (KI, KC, and the secret put through each media and chat
// derivation as if it were a media key), for tests that show the link secret opens
// no chat text: someone who finds the link after the meeting holds these and
// nothing else.
func LinkDerivableKeys(secret []byte) [][]byte {
	ki, kc := DeriveMeetingKeys(secret)
	keys := [][]byte{ki, kc}
	for _, salt := range []string{label, labelV2} {
		for _, info := range []string{"chat", "frame", "ratchet", "identity", "name"} {
			keys = append(keys, derive(secret, salt, info))
		}
	}
	more := [][]byte{}
	for _, k := range keys { // each also taken as a media key R, and one ratchet on
		more = append(more, ChatKey(k), FrameKey(k), ChatKey(Ratchet(k)))
	}
	return append(keys, more...)
}
