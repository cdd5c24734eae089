package sfu

import (
	"time"

	"github.com/pion/rtp"
)

// A subscription sends one stream however often its layer changes: the subscriber's
// decoder must see sequence numbers without gaps or jumps, rising timestamps, and VP8
// picture IDs and TL0PICIDX that go on where they left off (TESTING.md measured what
// breaks otherwise). So a switch waits for a keyframe of the new layer, and from that
// packet on every packet of the layer is sent with offsets added that continue the
// stream: a segment. The segments sent last are kept so that a NACK, which names the
// rewritten sequence numbers, finds the layer and packet it asks for.
//
// Everything here runs on the subscriber's writer goroutine, except where mu is taken
// (downTrack.mu): segments are only changed under it, and the RTCP goroutine reads them
// under it.

// maxSegments is how many segments a subscription remembers for NACKs: far more than
// switches, trains and runs of dropped padding (dropPadding) happen within the packet
// caches' second.
const maxSegments = 32

// segmentSlide is how far an open segment's sequence numbers run past its start before
// the start moves up behind them (rewrite), by half of it.
const segmentSlide = 0x4000

// forwarder is a video subscription's sending state.
type forwarder struct {
	ctl         uint64 // the control word applied last (downTrack.ctl)
	passthrough bool   // sending layer 0 as it comes (a track without simulcast, never hidden yet)
	cur         int    // the layer being sent; -1 while waiting for a keyframe
	target      int    // the layer wanted; -1: hidden

	segs []segment // oldest first; the last is open while cur >= 0 (changed under mu)
	last sentState // the newest packet sent
	// held is the highest sequence number a closed segment still holds for a packet
	// that has not come (dropPadding closed it at padding that overtook it), while
	// heldOn and above last: a train or a switch numbers on above it, or the late
	// packet would go under a number a packet of theirs went with.
	held     uint16
	heldOn   bool
	lastP    *packet   // passthrough: the newest packet sent
	lastV    *packet   // passthrough: the newest one with a payload (padding has none)
	askedAt  time.Time // the last keyframe request for target
	buf      []byte    // a payload with its descriptor rewritten
	switches uint64
	rp       replayState // the keyframe a new subscription starts from (replay.go)
}

// segment is a run of one layer's packets sent with the same offsets: publisher
// sequence numbers [inStart, inEnd) went out as [inStart+seqOff, inEnd+seqOff).
type segment struct {
	layer   uint8
	open    bool // still being sent: no inEnd yet
	inStart uint16
	inEnd   uint16
	seqOff  uint16
	picOff  uint16
	tsOff   uint32
	tl0Off  uint8
}

// sentState is what the subscriber last got, the base of the next segment's offsets.
type sentState struct {
	valid    bool
	layer    uint8
	seq      uint16
	ts       uint32
	tsOff    uint32
	pid      uint16
	pidValid bool
	tl0      uint8
	tl0Valid bool
	at       time.Time // when its segment ended
}

// ctl packs the wanted layer (low byte; 0xff: hidden) and a count of hides: the writer
// restarts at a keyframe after a hide even if it never saw the track hidden.
func packCtl(epoch uint64, want int) uint64 { return epoch<<8 | uint64(uint8(want)) }

func ctlWant(c uint64) int {
	if w := uint8(c); w != 0xff {
		return int(w)
	}
	return -1
}

// notePassthrough remembers the newest packet sent as it came.
func (f *forwarder) notePassthrough(p *packet) {
	if f.lastP == nil || int16(p.header.SequenceNumber-f.lastP.header.SequenceNumber) > 0 {
		f.lastP = p
		if len(p.payload) > 0 {
			f.lastV = p
		}
	}
}

// rewrite decides whether p goes out and sets its header; it returns the payload to
// send (p's own, or a copy with the descriptor rewritten).
func (d *downTrack) rewrite(h *rtp.Header, p *packet) ([]byte, bool) {
	f := d.fw
	if c := d.ctl.Load(); c != f.ctl {
		d.applyCtl(c)
	}
	if f.target < 0 {
		return nil, false
	}
	if f.passthrough {
		f.notePassthrough(p)
		return p.payload, true
	}
	seq := p.header.SequenceNumber
	seg := f.segmentFor(p.layer, seq)
	if seg == nil {
		if int(p.layer) != f.target || f.cur == f.target {
			return nil, false // another layer's, or older than the segment
		}
		if d.encrypted && !d.sub.subscribeConnected() {
			// A newcomer to an encrypted meeting is replayed nothing (replay.go):
			// a keyframe asked for or switched to before the connection carries
			// media would not reach the subscriber, and the request would hold
			// back the next one (the subscriber's own, when the deltas that followed
			// cannot be decoded) behind the publisher track's throttle.
			return nil, false
		}
		desc, ok := parseVP8(p.payload)
		if !ok || !desc.keyframe {
			d.askKeyframe()
			return nil, false
		}
		seg = d.switchTo(p, desc)
	} else if seg.open && int16(seq-seg.inStart) >= segmentSlide {
		// A segment is found by sequence numbers within half the number space of its
		// start: one sent for 32768 packets (two minutes of a 720p layer) without a
		// switch would have found nothing from then on and frozen the picture. Its
		// start follows what is sent; NACKs for packets that far back find no cache.
		d.mu.Lock()
		seg.inStart = seq - segmentSlide/2
		d.mu.Unlock()
	}
	h.SequenceNumber = seq + seg.seqOff
	h.Timestamp = p.header.Timestamp + seg.tsOff
	payload := p.payload
	desc, ok := parseVP8(payload)
	if ok && (seg.picOff != 0 && desc.pidAt > 0 || seg.tl0Off != 0 && desc.tl0At > 0) {
		f.buf = append(f.buf[:0], payload...)
		payload = f.buf
		rewriteVP8(payload, desc, (desc.pid+seg.picOff)&desc.pidMask(), desc.tl0+seg.tl0Off)
	}
	if f.heldOn && int16(h.SequenceNumber-f.held) >= 0 {
		f.heldOn = false // what it held is sent, or passed over
	}
	if !f.last.valid || int16(h.SequenceNumber-f.last.seq) > 0 {
		// The newest sequence number sent, whatever segment it is in: a packet that
		// came late into a segment dropPadding closed goes out above the last one
		// sent, and a train (makeRoom) or a switch (switchTo) that numbered on from
		// an older one would send its number again: for SRTP the same nonce for two
		// different packets. A packet without a descriptor's IDs (padding) keeps
		// the last ones.
		prev := f.last
		f.last = sentState{valid: true, layer: p.layer, seq: h.SequenceNumber, ts: h.Timestamp, tsOff: seg.tsOff,
			pid: prev.pid, pidValid: prev.pidValid, tl0: prev.tl0, tl0Valid: prev.tl0Valid}
		if ok && desc.pidAt > 0 {
			f.last.pid, f.last.pidValid = (desc.pid+seg.picOff)&desc.pidMask(), true
		}
		if ok && desc.tl0At > 0 {
			f.last.tl0, f.last.tl0Valid = desc.tl0+seg.tl0Off, true
		}
	}
	return payload, true
}

// dropPadding keeps p, a video packet without payload, from the subscriber: padding a
// publisher's browser sends to probe its uplink, hundreds a second while it ramps up,
// which would otherwise take a slow subscriber's whole link. p stands for a run of
// padding numbers up to its own (padRun, paddingrun.go; a replayed one for itself).
// The packets after them go out that many numbers earlier, so the receiver sees no
// gap: a new segment, or, for padding at the open segment's start, the same one moved
// on. Padding numbers at or below what was sent already cannot be taken out of the
// stream, nor can those before the open segment (sent, or taken out already: a
// replay's run its packet overlaps); they leave a gap (which costs the receiver one
// NACK answered with nothing), the rest of the run is taken out.
func (d *downTrack) dropPadding(p *packet) {
	f := d.fw
	if c := d.ctl.Load(); c != f.ctl {
		d.applyCtl(c)
	}
	if f.target < 0 {
		return
	}
	last := p.header.SequenceNumber
	first := last - max(p.padRun, 1) + 1
	d.mu.Lock()
	defer d.mu.Unlock()
	if f.passthrough {
		lp := f.lastP
		if lp == nil || int16(last-lp.header.SequenceNumber) <= 0 {
			return // nothing sent yet, or older than what was
		}
		f.leavePassthrough()
		f.cur = int(lp.layer)
		f.segs = append(f.segs, segment{layer: lp.layer, open: true, inStart: lp.header.SequenceNumber + 1})
	}
	n := len(f.segs)
	if n == 0 || !f.last.valid {
		return
	}
	s := &f.segs[n-1]
	if !s.open || s.layer != p.layer || int16(last-s.inStart) < 0 {
		return // not being sent, or older than the segment
	}
	if int16(first-s.inStart) < 0 {
		first = s.inStart
	}
	if int16(first+s.seqOff-f.last.seq) <= 0 {
		first = f.last.seq - s.seqOff + 1 // the numbers above what was sent
		if int16(last-first) < 0 {
			return // older than what was sent
		}
	}
	k := last - first + 1
	if first == s.inStart { // nothing of the segment sent yet: move it on
		s.inStart += k
		s.seqOff -= k
		return
	}
	next := *s
	s.open, s.inEnd = false, first
	next.inStart, next.seqOff = last+1, s.seqOff-k
	if top := first - 1 + s.seqOff; int16(top-f.last.seq) > 0 && (!f.heldOn || int16(top-f.held) > 0) {
		f.held, f.heldOn = top, true // numbers between the last sent and the padding wait for their packets
	}
	if n == maxSegments {
		f.segs = append(f.segs[:0], f.segs[1:]...)
	}
	f.segs = append(f.segs, next)
}

// numberedTop is the highest sequence number sent, or held for a late packet (held).
func (f *forwarder) numberedTop() uint16 {
	if f.heldOn && int16(f.held-f.last.seq) > 0 {
		return f.held
	}
	return f.last.seq
}

// segmentFor finds the segment p's layer and sequence number were sent in, newest first.
func (f *forwarder) segmentFor(layer uint8, seq uint16) *segment {
	for i := len(f.segs) - 1; i >= 0; i-- {
		s := &f.segs[i]
		if s.layer == layer && int16(seq-s.inStart) >= 0 && (s.open || int16(seq-s.inEnd) < 0) {
			return s
		}
	}
	return nil
}

// mapSent finds the layer and publisher sequence number of a sequence number this
// subscription sent.
func (d *downTrack) mapSent(seq uint16) (layer int, in uint16, ok bool) {
	f := d.fw
	if f == nil {
		return 0, seq, true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if f.passthrough {
		return 0, seq, true
	}
	for i := len(f.segs) - 1; i >= 0; i-- {
		s := &f.segs[i]
		start := s.inStart + s.seqOff
		if int16(seq-start) >= 0 && (s.open || int16(seq-(s.inEnd+s.seqOff)) < 0) {
			return int(s.layer), seq - s.seqOff, true
		}
	}
	return 0, 0, false
}

// outTimestamp maps a sender report's RTP timestamp to this subscription's stream; ok
// is false when the report is not of the layer being sent. Called by the writer.
func (d *downTrack) outTimestamp(sr *senderReport) (uint32, bool) {
	f := d.fw
	if f == nil {
		return sr.rtp, true
	}
	if f.passthrough {
		return sr.rtp, sr.layer == 0
	}
	n := len(f.segs)
	if f.cur < 0 || n == 0 || int(sr.layer) != f.cur {
		return 0, false
	}
	return sr.rtp + f.segs[n-1].tsOff, true
}
