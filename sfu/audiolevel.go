package sfu

import "sync/atomic"

// Browsers put the level of each audio packet in an RTP header extension (RFC 6464,
// "ssrc-audio-level") outside the payload, so the SFU can tell who speaks without
// decoding anything, also when the payload is end-to-end encrypted. The extension is
// negotiated on the publish connection only when speaker detection is on
// (Config.SpeakerDetection); without it browsers do not send it and the server never
// learns who speaks.

// parseAudioLevel finds the audio level extension with the negotiated id in a raw RTP
// packet: level is the RFC 6464 value (0 is 0 dBov, the loudest; 127 is -127 dBov or
// less, silence) and voice the V bit. ok is false when the packet carries no such
// extension or is malformed. It reads b in place and allocates nothing: it runs for
// every audio packet.
func parseAudioLevel(b []byte, id uint8) (level uint8, voice, ok bool) {
	v, ok := findExtension(b, id)
	if !ok || len(v) == 0 {
		return 0, false, false
	}
	return v[0] & 0x7f, v[0]&0x80 != 0, true
}

// findExtension finds the header extension element id in a raw RTP packet (RFC 8285,
// one-byte and two-byte forms) and returns its data, a part of b. ok is false when
// the packet carries no such element or is malformed. It allocates nothing.
func findExtension(b []byte, id uint8) (data []byte, ok bool) {
	if len(b) < 12 || b[0]>>6 != 2 || b[0]&0x10 == 0 || id == 0 {
		return nil, false
	}
	off := 12 + 4*int(b[0]&0x0f) // after the CSRCs
	if len(b) < off+4 {
		return nil, false
	}
	profile := uint16(b[off])<<8 | uint16(b[off+1])
	end := off + 4 + 4*(int(b[off+2])<<8|int(b[off+3]))
	if len(b) < end {
		return nil, false
	}
	i := off + 4
	switch {
	case profile == 0xBEDE: // one-byte headers (RFC 8285 4.2)
		if id > 14 {
			return nil, false
		}
		for i < end {
			h := b[i]
			if h == 0 { // padding
				i++
				continue
			}
			eid, n := h>>4, int(h&0x0f)+1
			if eid == 15 { // reserved: stop reading
				break
			}
			if i+1+n > end {
				break
			}
			if eid == id {
				return b[i+1 : i+1+n], true
			}
			i += 1 + n
		}
	case profile&0xfff0 == 0x1000: // two-byte headers (RFC 8285 4.3)
		for i < end {
			if b[i] == 0 { // padding
				i++
				continue
			}
			if i+2 > end {
				break
			}
			eid, n := b[i], int(b[i+1])
			if i+2+n > end {
				break
			}
			if eid == id {
				return b[i+2 : i+2+n], true
			}
			i += 2 + n
		}
	}
	return nil, false
}

// levelReader is an audio track's part in speaker detection, used by its reader
// goroutine only (besides the meter it feeds).
type levelReader struct {
	id    uint8       // the extension's negotiated id
	meter *levelMeter // the publisher's, in the room's speakerTracker
	// vad: the sender has set the V bit at least once, so it runs voice activity
	// detection and a packet without the bit is no speech, however loud (a fan, typing).
	vad bool
}

// note takes one packet's level into the meter: an atomic add, no lock, no allocation.
func (r *levelReader) note(raw []byte) {
	level, voice, ok := parseAudioLevel(raw, r.id)
	if !ok {
		return
	}
	if voice {
		r.vad = true
	}
	var loud uint64
	if voice || !r.vad {
		loud = 127 - uint64(level)
	}
	r.meter.acc.Add(1<<meterCountShift | loud)
}

// levelMeter adds up one participant's packet levels between two ticks of the tracker:
// the count of packets in the high bits, the sum of their loudness (127 - level, 0 for
// silence) in the low ones. At 50 packets a second no tick comes close to overflowing
// either.
type levelMeter struct {
	acc atomic.Uint64

	// Guarded by the tracker's mu.
	id       string
	refs     int     // audio tracks feeding it
	smooth   float64 // the smoothed loudness (dB above -127 dBov)
	speaking bool
	since    uint64 // the tick it started speaking at, to order the speakers
	run      int    // ticks speaking in a row
	over     int    // ticks in a row clearly louder than the dominant speaker
	quiet    int    // ticks in a row not speaking, while it is the dominant speaker
	empty    int    // ticks in a row without a packet
}

const meterCountShift = 40

// take empties the meter and returns the mean loudness of its packets since the last
// take; ok is false when no packet came.
func (m *levelMeter) take() (loudness float64, ok bool) {
	v := m.acc.Swap(0)
	n := v >> meterCountShift
	if n == 0 {
		return 0, false
	}
	return float64(v&(1<<meterCountShift-1)) / float64(n), true
}
