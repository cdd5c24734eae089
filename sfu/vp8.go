package sfu

// The VP8 RTP payload descriptor (RFC 7741, section 4.2) is written by the sender's
// packetizer in front of every packet's share of the frame. End-to-end encryption
// transforms the frame, not the descriptor, so the SFU may read and rewrite it; the frame
// after it is never touched. Of the frame the SFU reads only a keyframe's first ten bytes,
// which the E2EE transform leaves in the clear (frame tag, start code, width, height).

// vp8Desc is what the SFU needs from one packet's payload descriptor.
type vp8Desc struct {
	size     int  // bytes of descriptor; the frame data starts here
	start    bool // S=1 and partition 0: the packet starts a frame
	pidAt    int  // offset of the picture ID, 0 if absent
	pidLong  bool // 15-bit picture ID (M=1)
	tl0At    int  // offset of TL0PICIDX, 0 if absent
	pid      uint16
	tl0      uint8
	keyframe bool // starts a keyframe (P=0 in the frame tag)
}

// parseVP8 reads the descriptor of payload; ok is false when payload is too short for
// the descriptor it announces.
func parseVP8(payload []byte) (d vp8Desc, ok bool) {
	if len(payload) < 1 {
		return d, false
	}
	b0 := payload[0]
	i := 1
	if b0&0x80 != 0 { // X: extension byte follows
		if len(payload) < 2 {
			return d, false
		}
		x := payload[1]
		i = 2
		if x&0x80 != 0 { // I: picture ID
			if len(payload) <= i {
				return d, false
			}
			d.pidAt = i
			if payload[i]&0x80 != 0 {
				if len(payload) <= i+1 {
					return d, false
				}
				d.pidLong = true
				d.pid = uint16(payload[i]&0x7f)<<8 | uint16(payload[i+1])
				i += 2
			} else {
				d.pid = uint16(payload[i])
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			if len(payload) <= i {
				return d, false
			}
			d.tl0At = i
			d.tl0 = payload[i]
			i++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX byte
			i++
		}
	}
	if len(payload) < i {
		return d, false
	}
	d.size = i
	d.start = b0&0x10 != 0 && b0&0x0f == 0
	d.keyframe = d.start && len(payload) > i && payload[i]&0x01 == 0
	return d, true
}

// pidMask is the picture ID's range.
func (d *vp8Desc) pidMask() uint16 {
	if d.pidLong {
		return 0x7fff
	}
	return 0x7f
}

// vp8KeyframeSize reads the frame size from a packet that starts a keyframe: bytes 6..9
// of the frame, after the start code 9d 01 2a.
func vp8KeyframeSize(payload []byte, d vp8Desc) (w, h uint16, ok bool) {
	f := payload[d.size:]
	if !d.keyframe || len(f) < 10 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0, false
	}
	w = (uint16(f[6]) | uint16(f[7])<<8) & 0x3fff
	h = (uint16(f[8]) | uint16(f[9])<<8) & 0x3fff
	return w, h, w > 0 && h > 0
}

// rewriteVP8 writes picture ID and TL0PICIDX into the descriptor of out (a copy of the
// packet's payload), keeping their widths.
func rewriteVP8(out []byte, d vp8Desc, pid uint16, tl0 uint8) {
	if d.pidAt > 0 {
		if d.pidLong {
			out[d.pidAt] = 0x80 | byte(pid>>8)&0x7f
			out[d.pidAt+1] = byte(pid)
		} else {
			out[d.pidAt] = byte(pid) & 0x7f
		}
	}
	if d.tl0At > 0 {
		out[d.tl0At] = tl0
	}
}
