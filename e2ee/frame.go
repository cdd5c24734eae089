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

// EncryptFrame encrypts one encoded frame under the frame key (FrameKey(R)):
// clear || AES-GCM(rest, aad=clear) || iv || 0x0c || keyIndex. A nil iv means
// a random one. It panics on a frame key that is not 32 bytes, an iv that is
// not 12 bytes or a key index above 15: those are the caller's mistakes.
func EncryptFrame(frameKey []byte, keyIndex byte, frame []byte, kind Kind, iv []byte) []byte {
	if keyIndex >= KeyIndexCount {
		panic("e2ee: key index above 15")
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
	out = g.Seal(out, iv, frame[c:], frame[:c])
	out = append(out, iv...)
	return append(out, ivLengthTag, keyIndex)
}

// KeyIndex returns the key index in a frame's trailer (ok false when the
// frame is too short to have one).
func KeyIndex(frame []byte) (index byte, ok bool) {
	if len(frame) < minFrame {
		return 0, false
	}
	return frame[len(frame)-1], true
}

// DecryptFrame opens a frame made by EncryptFrame. ring returns the 32-byte
// frame key for a key index, or nil if it has none. Errors: ErrTooShort, ErrMalformed
// (ivLength is not 12), ErrUnknownKey, ErrAuth.
func DecryptFrame(ring func(index byte) []byte, frame []byte, kind Kind) ([]byte, error) {
	if kind != VP8 && kind != Opus {
		return nil, fmt.Errorf("e2ee: unknown kind %v", kind)
	}
	n := len(frame)
	if n < minFrame {
		return nil, ErrTooShort
	}
	if frame[n-2] != ivLengthTag {
		return nil, ErrMalformed
	}
	idx := frame[n-1]
	if idx >= KeyIndexCount {
		return nil, ErrUnknownKey
	}
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
	out, err = g.Open(out, iv, body[c:], body[:c])
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}
