package e2ee

import (
	"errors"
	"fmt"
)

// Room keys from a host's room master secret rk (README "Rooms"), the Go twin of
// web/static/js/rooms-keys.js: the host link carries #host=<host key>&rk=<rk>, and the
// keys of each room are derived from rk and the room id, so that the links can be shown
// again on any device while the server never holds a key:
//
//	meeting secret   = first 16 bytes of HKDF-SHA-256(rk, "conclave/v1", "room key" 0 id)
//	moderator secret = HKDF-SHA-256(rk, "conclave/v1", "room moderator" 0 id), 32 bytes
//
// both as unpadded base64url. The title is a name text (TextName) under the meeting
// secret's chat key. testdata/rooms.json holds vectors that both implementations check.

// RoomSecretSize is the size of rk in bytes (43 characters of base64url).
const RoomSecretSize = 32

// roomIDChars is the length of a room id: 128 bits of unpadded base64url.
const roomIDChars = 22

// ErrBadRoomSecret and ErrBadRoomID refuse an rk or a room id that the browser would
// refuse too.
var (
	ErrBadRoomSecret = errors.New("e2ee: the room master secret (rk) must be 43 characters of base64url (32 bytes)")
	ErrBadRoomID     = errors.New("e2ee: a room id is 22 characters of base64url")
)

// RoomKeys are a room's secrets, as they appear in its links (#k= and #mod=).
type RoomKeys struct {
	MeetingSecret   string
	ModeratorSecret string
}

// ParseRoomSecret decodes rk; like the browser it takes exactly 43 characters of
// unpadded base64url.
func ParseRoomSecret(s string) ([]byte, error) {
	if len(s) != 43 || !isB64URL(s) {
		return nil, ErrBadRoomSecret
	}
	b, err := b64.DecodeString(s)
	if err != nil || len(b) != RoomSecretSize {
		return nil, ErrBadRoomSecret
	}
	return b, nil
}

// ValidRoomID reports whether id has the form the browser accepts for a derived room.
func ValidRoomID(id string) bool { return len(id) == roomIDChars && isB64URL(id) }

// DeriveRoomKeys derives room id's secrets from rk.
func DeriveRoomKeys(rk []byte, id string) (RoomKeys, error) {
	if len(rk) != RoomSecretSize {
		return RoomKeys{}, ErrBadRoomSecret
	}
	if !ValidRoomID(id) {
		return RoomKeys{}, ErrBadRoomID
	}
	key := derive(rk, label, "room key\x00"+id)
	mod := derive(rk, label, "room moderator\x00"+id)
	return RoomKeys{MeetingSecret: b64.EncodeToString(key[:16]), ModeratorSecret: b64.EncodeToString(mod)}, nil
}

// chatKeyOf returns the chat key of a meeting secret as it appears in #k=.
func chatKeyOf(meetingSecret string) ([]byte, error) {
	s, err := b64.DecodeString(meetingSecret)
	if err != nil || len(s) < MinSecretSize {
		return nil, fmt.Errorf("%w: meeting secret", ErrMalformed)
	}
	_, chat := DeriveMeetingKeys(s)
	return chat, nil
}

// EncryptTitle seals a room title (trimmed by the caller) under the room's meeting
// secret; an empty title is sealed too, so that a title always tells whether an rk is
// the room's. A nil iv means a random one.
func EncryptTitle(meetingSecret, title string, iv []byte) (string, error) {
	chat, err := chatKeyOf(meetingSecret)
	if err != nil {
		return "", err
	}
	return EncryptText(chat, TextName, "", title, iv)
}

// DecryptTitle opens a title made by EncryptTitle (or the browser's encryptTitle).
func DecryptTitle(meetingSecret, cipher string) (string, error) {
	chat, err := chatKeyOf(meetingSecret)
	if err != nil {
		return "", err
	}
	return DecryptText(chat, TextName, "", cipher)
}

func isB64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
