package sfu

import "time"

// A subscription's change of layer (forwarder.go says what a segment is): a new wanted
// layer taken from the control word, the segment being sent closed, the next one
// started at a keyframe of the new layer with offsets that continue the stream, and
// the keyframe asked for while it has not come. On the subscriber's writer goroutine.

// switchKeyframeRetry is how often a subscription waiting for a keyframe of the layer
// it switches to asks again while that layer's packets come without one. Each layer's
// keyframeThrottle merges the requests of all subscriptions.
const switchKeyframeRetry = keyframeInterval

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
