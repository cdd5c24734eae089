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

// switchKeyframeRetry is how often a subscription waiting for a keyframe of the layer
// it switches to asks again while that layer's packets come without one. Each layer's
// keyframeThrottle merges the requests of all subscriptions.
const switchKeyframeRetry = keyframeInterval

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

// applyCtl takes on a new wanted layer: hidden (or hidden and shown again since) ends
// the segment being sent; any other layer is switched to at its next keyframe.
func (d *downTrack) applyCtl(c uint64) {
	f := d.fw
	restart := c>>8 != f.ctl>>8
	f.ctl = c
	f.target = ctlWant(c)
	f.askedAt = time.Time{}
	if f.target < 0 || restart {
		d.endSegment()
	}
}

// endSegment closes the segment being sent (the stream then waits for a keyframe).
func (d *downTrack) endSegment() {
	f := d.fw
	now := d.up.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if f.passthrough {
		f.leavePassthrough()
	} else if n := len(f.segs); n > 0 && f.segs[n-1].open {
		s := &f.segs[n-1]
		s.open = false
		s.inEnd = s.inStart // nothing sent yet
		if f.last.valid && f.last.layer == s.layer {
			s.inEnd = f.last.seq - s.seqOff + 1
		}
	}
	f.last.at = now
	f.cur = -1
	d.setSendingLocked(-1)
}

// leavePassthrough turns what was sent as it came into a closed segment and the
// state the next segment continues from; under d.mu.
func (f *forwarder) leavePassthrough() {
	f.passthrough = false
	if p := f.lastP; p != nil {
		seq := p.header.SequenceNumber
		f.segs = append(f.segs, segment{layer: p.layer, inStart: seq - 0x7fff, inEnd: seq + 1})
		f.last = sentState{valid: true, layer: p.layer, seq: seq, ts: p.header.Timestamp}
		if v := f.lastV; v != nil {
			if desc, ok := parseVP8(v.payload); ok {
				f.last.pid, f.last.pidValid = desc.pid, desc.pidAt > 0
				f.last.tl0, f.last.tl0Valid = desc.tl0, desc.tl0At > 0
			}
		}
	}
	f.lastP, f.lastV = nil, nil
}

// switchTo starts a segment at p, the first packet of a keyframe of the target layer,
// with offsets that continue what the subscriber got.
func (d *downTrack) switchTo(p *packet, desc vp8Desc) *segment {
	f := d.fw
	if f.cur >= 0 {
		d.endSegment()
	}
	seg := segment{layer: p.layer, open: true, inStart: p.header.SequenceNumber}
	if l := f.last; l.valid {
		seg.seqOff = f.numberedTop() + 1 - p.header.SequenceNumber
		f.heldOn = false
		seg.tsOff = l.tsOff // the same layer: the same timeline
		if l.layer != p.layer {
			seg.tsOff = d.switchTimestampOffset(p, l)
		}
		if int32(p.header.Timestamp+seg.tsOff-l.ts) <= 0 {
			seg.tsOff = l.ts + 1 - p.header.Timestamp
		}
		if desc.pidAt > 0 && l.pidValid {
			seg.picOff = l.pid + 1 - desc.pid
		}
		if desc.tl0At > 0 && l.tl0Valid {
			seg.tl0Off = l.tl0 + 1 - desc.tl0
		}
		if l.layer != p.layer {
			f.switches++
			d.up.stats.layerSwitches.Add(1)
		}
	}
	d.mu.Lock()
	if len(f.segs) == maxSegments {
		f.segs = append(f.segs[:0], f.segs[1:]...)
	}
	f.segs = append(f.segs, seg)
	f.cur = int(p.layer)
	d.setSendingLocked(f.cur)
	d.mu.Unlock()
	// The receiver maps the new layer's timestamps to the publisher's clock by the
	// layer's own reports: send the latest now rather than in a second.
	if l := d.up.layer(f.cur); l != nil {
		d.queueSenderReport(l.sr.Load())
	}
	return &f.segs[len(f.segs)-1]
}

// switchTimestampOffset maps p's layer's timestamps onto the stream sent so far. The
// layers of one camera share a capture clock but start at random timestamps; the two
// layers' sender reports give the difference exactly. Without them the new layer
// continues from the last timestamp sent by the time that passed since (since the old
// layer's last packet, when it stopped arriving).
func (d *downTrack) switchTimestampOffset(p *packet, last sentState) uint32 {
	from, to := d.up.layer(int(last.layer)), d.up.layer(int(p.layer))
	if from != nil && to != nil {
		a, b := from.sr.Load(), to.sr.Load()
		if a != nil && b != nil {
			// (b.rtp - a.rtp) less the ticks between the two reports is what to's
			// timestamps run ahead of from's.
			ticks := int64(b.ntp-a.ntp) * int64(d.up.codec.ClockRate) >> 32
			ahead := b.rtp - a.rtp - uint32(ticks)
			return last.tsOff - ahead
		}
	}
	now := d.up.now()
	since := last.at
	if from != nil {
		// A switch away from a layer that stopped arriving (live.go) comes a second or
		// more after its last packet: continue from when that arrived, as far as the
		// ticker's reading tells.
		if seen := from.seen.Load(); seen != 0 && now.UnixNano()-seen >= int64(liveWindow) && seen < since.UnixNano() {
			since = time.Unix(0, seen)
		}
	}
	elapsed := now.Sub(since)
	ticks := uint32(elapsed.Seconds() * float64(d.up.codec.ClockRate))
	if ticks == 0 {
		ticks = 1
	}
	return last.ts + ticks - p.header.Timestamp
}

// askKeyframe asks the target layer for a keyframe, again at most every
// switchKeyframeRetry while its packets come without one.
func (d *downTrack) askKeyframe() {
	f := d.fw
	now := d.up.now()
	if !f.askedAt.IsZero() && now.Sub(f.askedAt) < switchKeyframeRetry {
		return
	}
	f.askedAt = now
	if !d.kf.forSwitch(now) {
		d.up.stats.keyframesLimited.Add(1)
		return
	}
	d.up.requestKeyframe(f.target)
}

// setSendingLocked records the layer being sent (for sender reports, keyframe requests
// and the monitoring gauge) and which layers the readers queue. d.mu is held.
func (d *downTrack) setSendingLocked(layer int) {
	if d.detached {
		return
	}
	if old := int(d.sending.Swap(int32(layer))); old != layer {
		d.countSending(old, -1)
		d.countSending(layer, 1)
	}
	d.updateSkipLocked()
}

// countSending moves the gauge of subscriptions sending each simulcast layer.
func (d *downTrack) countSending(layer, delta int) {
	if l := d.up.layer(layer); l != nil && l.rid != "" {
		d.up.stats.sendingLayer[layer].Add(int64(delta))
	}
}

// updateSkipLocked lets the readers queue the layer sent and the one wanted, nothing of
// a hidden track. d.mu is held.
func (d *downTrack) updateSkipLocked() {
	want := ctlWant(d.ctl.Load())
	if want < 0 {
		d.skip.Store(^uint32(0))
		return
	}
	keep := uint32(1) << want
	if s := d.sending.Load(); s >= 0 {
		keep |= 1 << s
	}
	d.skip.Store(^keep)
}

// setWant makes want (-1: hidden) the layer this subscription should send, ideal the
// one its tile calls for and allotted the lower one its bandwidth allows (-1: none;
// both asked of the publisher, encodings.go). A hidden track is cut at once; any other
// change waits for a keyframe of the new layer.
func (d *downTrack) setWant(want, ideal, allotted int) {
	d.mu.Lock()
	if d.detached {
		d.mu.Unlock()
		return
	}
	idealChanged := d.ideal.Swap(int32(ideal+1)) != int32(ideal+1)
	allottedChanged := d.allotted.Swap(int32(allotted+1)) != int32(allotted+1)
	c := d.ctl.Load()
	if old := ctlWant(c); old != want {
		d.countWantChange(old, want, idealChanged)
		epoch := c >> 8
		if want < 0 {
			epoch++
		}
		d.ctl.Store(packCtl(epoch, want))
		if want < 0 {
			d.setSendingLocked(-1)
		}
		d.updateSkipLocked()
	} else if !idealChanged && !allottedChanged {
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	d.up.updateEncodings()
}

// detach ends the subscription's part in the monitoring gauge and its wants; the track
// no longer fans out to it.
func (d *downTrack) detach() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.detached {
		return
	}
	d.countSending(int(d.sending.Load()), -1)
	d.detached = true
	d.ctl.Store(packCtl(0, -1))
	d.ideal.Store(0)
	d.allotted.Store(0)
	d.skip.Store(^uint32(0))
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
