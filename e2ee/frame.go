package e2ee

import "fmt"

// Kind says how many bytes of a frame stay clear.
type Kind int

const (
	VP8  Kind = iota // 10 clear bytes on keyframes, 3 otherwise
	Opus             // 1 clear byte
)

func (k Kind) String() string {
	switch k {
	case VP8:
		return "vp8"
	case Opus:
		return "opus"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Source is what a track carries. A frame is bound to its source as to its sender, so
// that the server cannot show one of a member's tracks as another: its camera as its
// screen share, or the reverse (FORMAT.md, "Frame format", version 3).
type Source string

const (
	Microphone Source = "microphone"
	Camera     Source = "camera"
	Screen     Source = "screen"
)

// valid says whether s is one of the sources a frame can have.
func (s Source) valid() bool { return s == Microphone || s == Camera || s == Screen }

const (
	trailerSize = IVSize + 2            // iv || ivLength || keyIndex
	minFrame    = trailerSize + TagSize // an encrypted empty frame
	ivLengthTag = byte(IVSize)          // the ivLength byte
)

// ClearBytes is how many leading bytes of an n-byte encoded frame whose first
// byte is first stay clear (before capping at n).
func ClearBytes(kind Kind, first byte) int {
	switch kind {
	case VP8:
		if first&1 == 0 {
			return 10 // keyframe
		}
		return 3
	case Opus:
		return 1
	}
	panic("e2ee: unknown kind " + kind.String())
}

func clearLen(kind Kind, frame []byte) int {
	if len(frame) == 0 {
		return 0
	}
	return min(ClearBytes(kind, frame[0]), len(frame))
}

// frameAAD is what a frame's AES-GCM tag covers besides its ciphertext:
// label || 0x00 || senderID || 0x00 || kind || 0x00 || source || 0x00 || keyIndex || clear.
// The sender's id makes a frame the server forwards under another participant's
// track fail authentication there, even under the same raw key and index; the source
// does the same for another of the sender's own tracks.
func frameAAD(senderID string, kind Kind, source Source, keyIndex byte, clear []byte) []byte {
	aad := make([]byte, 0, len(frameLabel)+len(senderID)+len(source)+len(clear)+12)
	aad = append(aad, frameLabel...)
	aad = append(aad, 0)
	aad = append(aad, senderID...)
	aad = append(aad, 0)
	aad = append(aad, kind.String()...)
	aad = append(aad, 0)
	aad = append(aad, source...)
	aad = append(aad, 0, keyIndex)
	return append(aad, clear...)
}

// frameLabel starts every frame's AAD (FORMAT.md, "Frame format", version 3).
const frameLabel = "conclave/v3 frame"

// EncryptFrame encrypts one encoded frame of senderID's track of source under the
// frame key (FrameKey(R)): clear || AES-GCM(rest, aad=frameAAD) || iv || 0x0c || keyIndex.
// A nil iv means a random one. An invalid sender id is refused with ErrBadID.
// It panics on a frame key that is not 32 bytes, an iv that is not 12 bytes,
// an unknown kind or source: those are the caller's mistakes. Every byte is a key index.
func EncryptFrame(frameKey []byte, senderID string, keyIndex byte, frame []byte, kind Kind, source Source, iv []byte) ([]byte, error) {
	if !ValidID(senderID) {
		return nil, ErrBadID
	}
	if !source.valid() {
		panic(fmt.Sprintf("e2ee: unknown source %q", source))
	}
	iv, err := ivOrRandom(iv)
	if err != nil {
		panic(err)
	}
	g, err := newGCM(frameKey)
	if err != nil {
		panic(err)
	}
	c := clearLen(kind, frame)
	out := make([]byte, 0, len(frame)+minFrame)
	out = append(out, frame[:c]...)
	out = g.Seal(out, iv, frame[c:], frameAAD(senderID, kind, source, keyIndex, frame[:c]))
	out = append(out, iv...)
	return append(out, ivLengthTag, keyIndex), nil
}

// KeyIndex returns the key index in a frame's trailer (ok false when the
// frame is too short to have one).
func KeyIndex(frame []byte) (index byte, ok bool) {
	if len(frame) < minFrame {
		return 0, false
	}
	return frame[len(frame)-1], true
}

// DecryptFrame opens a frame that senderID made with EncryptFrame for its track of
// source. ring returns the 32-byte frame key of that sender for a key index, or nil if
// it has none. An unknown kind or source is the caller's error, refused first; then
// ErrBadID, ErrTooShort, ErrMalformed (ivLength is not 12), ErrUnknownKey, ErrAuth
// (also for a frame of another sender, or of another of its sources).
func DecryptFrame(ring func(index byte) []byte, senderID string, frame []byte, kind Kind, source Source) ([]byte, error) {
	if kind != VP8 && kind != Opus {
		return nil, fmt.Errorf("e2ee: unknown kind %v", kind)
	}
	if !source.valid() {
		return nil, fmt.Errorf("e2ee: unknown source %q", source)
	}
	if !ValidID(senderID) {
		return nil, ErrBadID
	}
	n := len(frame)
	if n < minFrame {
		return nil, ErrTooShort
	}
	if frame[n-2] != ivLengthTag {
		return nil, ErrMalformed
	}
	idx := frame[n-1]
	key := ring(idx)
	if key == nil {
		return nil, ErrUnknownKey
	}
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	body, iv := frame[:n-trailerSize], frame[n-trailerSize:n-2]
	c := min(ClearBytes(kind, body[0]), n-minFrame)
	out := make([]byte, c, n-minFrame)
	copy(out, body[:c])
	out, err = g.Open(out, iv, body[c:], frameAAD(senderID, kind, source, idx, body[:c]))
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}
