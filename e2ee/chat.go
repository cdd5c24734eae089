package e2ee

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

// Chat texts of version 3 (FORMAT.md, "Chat (version 3)"): encrypted under a key
// derived from the sender's own media key, which reaches only the members that
// verified it, so the link secret alone opens no chat text; each carries its
// sender's counter inside, so that a receiver refuses a text the server replays.
const (
	ChatPrefix = "e3."
	labelV2    = "conclave/v2"
	labelV3    = "conclave/v3"
	// chatCounterSize is the counter's size: 8 bytes, big-endian, 1 to MaxChatCounter.
	chatCounterSize = 8
	// MaxChatCounter is the largest counter (2^53 − 1, what a browser counts exactly).
	MaxChatCounter = 1<<53 - 1
	// chatMinSize is keyIndex || iv || counter || tag: an empty text.
	chatMinSize = 1 + IVSize + chatCounterSize + TagSize
)

// ChatKey derives KT = HKDF(ikm=R, salt="conclave/v3", info="chat") from a raw
// media key R.
func ChatKey(raw []byte) []byte { return derive(raw, labelV3, "chat") }

// chatAAD is "conclave/v3 chat" || 0x00 || senderID || 0x00 || keyIndex.
func chatAAD(senderID string, keyIndex byte) []byte {
	return append([]byte(labelV3+" chat\x00"+senderID+"\x00"), keyIndex)
}

// EncryptChat returns "e3." || base64url(keyIndex || iv || AES-GCM(KT, iv,
// counter || text, aad)) for the sender's media key raw at keyIndex; counter (1 to
// MaxChatCounter) goes up with each text of the sender (FORMAT.md: its clock in
// milliseconds, or one above its last). A nil iv means a random one.
func EncryptChat(raw []byte, keyIndex byte, senderID, text string, counter uint64, iv []byte) (string, error) {
	if !ValidID(senderID) {
		return "", ErrBadID
	}
	if len(raw) != KeySize || counter == 0 || counter > MaxChatCounter {
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
	plain := binary.BigEndian.AppendUint64(make([]byte, 0, chatCounterSize+len(text)), counter)
	out := append([]byte{keyIndex}, iv...)
	out = g.Seal(out, iv, append(plain, text...), chatAAD(senderID, keyIndex))
	return ChatPrefix + b64.EncodeToString(out), nil
}

// ParseChat splits an "e3." string into its key index and the rest (iv ||
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

// DecryptChat opens an "e3." string from senderID (the `from` the server gave)
// with that sender's raw media key at the string's key index, and returns the text
// and its sender's counter (the receiver refuses one not above the last it took
// from that sender). Errors: ErrBadID, ErrMalformed (also for invalid UTF-8 and a
// counter of 0 or above MaxChatCounter), ErrTooShort, ErrAuth.
func DecryptChat(raw []byte, senderID, s string) (string, uint64, error) {
	if len(raw) != KeySize {
		return "", 0, ErrMalformed
	}
	return DecryptChatUnder(ChatKey(raw), senderID, s)
}

// DecryptChatUnder opens an "e3." string with the chat key KT itself (not a raw
// media key to derive it from). Tests use it to try keys that are not media keys.
func DecryptChatUnder(kt []byte, senderID, s string) (string, uint64, error) {
	if !ValidID(senderID) {
		return "", 0, ErrBadID
	}
	idx, sealed, err := ParseChat(s)
	if err != nil {
		return "", 0, err
	}
	g, err := newGCM(kt)
	if err != nil {
		return "", 0, ErrMalformed
	}
	pt, err := g.Open(nil, sealed[:IVSize], sealed[IVSize:], chatAAD(senderID, idx))
	if err != nil {
		return "", 0, ErrAuth
	}
	counter, text := binary.BigEndian.Uint64(pt), pt[chatCounterSize:]
	if counter == 0 || counter > MaxChatCounter || !utf8.Valid(text) {
		return "", 0, ErrMalformed
	}
	return string(text), counter, nil
}

// LinkDerivableKeys returns every 32-byte key that the meeting secret alone gives
// under the format's labels (KI, KC, and the secret put through each media and chat
// derivation as if it were a media key), for tests that show the link secret opens
// no chat text: someone who finds the link after the meeting holds these and
// nothing else.
func LinkDerivableKeys(secret []byte) [][]byte {
	ki, kc := DeriveMeetingKeys(secret)
	keys := [][]byte{ki, kc}
	for _, salt := range []string{label, labelV2, labelV3} {
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
