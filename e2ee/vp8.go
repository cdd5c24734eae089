package e2ee

import "slices"

// VP8PayloadDescriptorLen returns the length of the VP8 payload descriptor
// (RFC 7741 section 4.2) at the start of an RTP payload: the required byte,
// then X: |I|L|T|K|RSV|, I: a 7- or 15-bit picture id, L: TL0PICIDX, T or K:
// |TID|Y|KEYIDX|. It fails with ErrTooShort when the payload ends inside the
// descriptor or right after it (a packet carries at least one byte of frame).
func VP8PayloadDescriptorLen(payload []byte) (int, error) {
	if len(payload) < 1 {
		return 0, ErrTooShort
	}
	n := 1
	if payload[0]&0x80 != 0 { // X
		if len(payload) < 2 {
			return 0, ErrTooShort
		}
		x := payload[1]
		n = 2
		if x&0x80 != 0 { // I
			if len(payload) < 3 {
				return 0, ErrTooShort
			}
			if payload[2]&0x80 != 0 { // M: 15-bit picture id
				n += 2
			} else {
				n++
			}
		}
		if x&0x40 != 0 { // L
			n++
		}
		if x&0x30 != 0 { // T or K
			n++
		}
	}
	if n >= len(payload) {
		return 0, ErrTooShort
	}
	return n, nil
}

// vp8FrameStart reports whether a payload begins a frame: S set, PID 0.
func vp8FrameStart(payload []byte) bool { return payload[0]&0x17 == 0x10 }

// Assembler limits.
const (
	DefaultMaxFrameSize = 4 << 20 // bytes of one encoded frame
	maxFramePackets     = 4096
)

// FrameAssembler rebuilds the encoded frames of one VP8 track from its RTP
// packets, as a browser's insertable stream sees them: payload descriptors
// stripped, payloads concatenated in sequence order. A frame is emitted as
// soon as it is whole: its first packet (S set, partition 0), its marker
// packet and every sequence number between them, with no packet outside
// them. Packets of one frame may arrive in any order. When a packet with a
// newer timestamp arrives, an unfinished frame is dropped; packets of older
// timestamps and duplicates are ignored. The zero value is ready to use;
// it is not safe for concurrent use.
type FrameAssembler struct {
	MaxFrameSize int // 0 means DefaultMaxFrameSize

	Frames  int // frames emitted
	Dropped int // frames given up: incomplete, malformed or too large
	Ignored int // packets ignored: late, duplicate, or of a frame already finished

	active bool   // ts is the frame being collected
	done   bool   // ts was emitted or given up
	ts     uint32 // RTP timestamp of the current frame
	base   uint16 // first sequence number seen for ts: offsets count from it
	parts  []framePart
	size   int

	lo, hi         int // lowest and highest offset seen
	start, end     int // offsets of the first and the marker packet
	hasStart, hasE bool
	seen           [2 * maxFramePackets / 64]uint64 // offsets seen, from -maxFramePackets
}

type framePart struct {
	off  int
	data []byte
}

// Push adds one RTP packet and returns the frame it completes, if any. The
// payload is copied.
func (a *FrameAssembler) Push(seq uint16, ts uint32, marker bool, payload []byte) ([]byte, bool) {
	if a.active && ts != a.ts {
		if int32(ts-a.ts) < 0 { // a packet of an older frame
			a.Ignored++
			return nil, false
		}
		if !a.done {
			a.Dropped++
		}
		a.active = false
	}
	if !a.active {
		*a = FrameAssembler{MaxFrameSize: a.MaxFrameSize, Frames: a.Frames, Dropped: a.Dropped,
			Ignored: a.Ignored, active: true, ts: ts, base: seq, parts: a.parts[:0]}
	}
	if a.done {
		a.Ignored++
		return nil, false
	}
	n, err := VP8PayloadDescriptorLen(payload)
	if err != nil {
		a.giveUp()
		return nil, false
	}
	off := int(int16(seq - a.base))
	if off >= maxFramePackets || off <= -maxFramePackets {
		a.giveUp() // a packet too far away to belong to this frame
		return nil, false
	}
	bit := off + maxFramePackets
	if a.seen[bit/64]&(1<<(bit%64)) != 0 {
		a.Ignored++ // a duplicate
		return nil, false
	}
	maxSize := a.MaxFrameSize
	if maxSize <= 0 {
		maxSize = DefaultMaxFrameSize
	}
	a.size += len(payload) - n
	if a.size > maxSize || len(a.parts) >= maxFramePackets {
		a.giveUp()
		return nil, false
	}
	if vp8FrameStart(payload) {
		if a.hasStart {
			a.giveUp() // two first packets
			return nil, false
		}
		a.hasStart, a.start = true, off
	}
	if marker {
		if a.hasE {
			a.giveUp() // two last packets
			return nil, false
		}
		a.hasE, a.end = true, off
	}
	if len(a.parts) == 0 || off < a.lo {
		a.lo = off
	}
	if len(a.parts) == 0 || off > a.hi {
		a.hi = off
	}
	a.seen[bit/64] |= 1 << (bit % 64)
	a.parts = append(a.parts, framePart{off, append([]byte(nil), payload[n:]...)})

	if !a.hasStart || !a.hasE || a.start != a.lo || a.end != a.hi || len(a.parts) != a.hi-a.lo+1 {
		return nil, false
	}
	slices.SortFunc(a.parts, func(x, y framePart) int { return x.off - y.off })
	frame := make([]byte, 0, a.size)
	for _, p := range a.parts {
		frame = append(frame, p.data...)
	}
	a.done = true
	a.parts = a.parts[:0]
	a.Frames++
	return frame, true
}

func (a *FrameAssembler) giveUp() {
	a.done = true
	a.parts = a.parts[:0]
	a.Dropped++
}
