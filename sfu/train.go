package sfu

import (
	"time"

	"github.com/pion/rtp"
)

// The estimator cannot learn that a link carries more than it is sent (estimator.go):
// a subscriber held on a small layer by a slow link would stay there after the link
// got faster. So while a shown tile is below the layer its size calls for, the
// allocation has the writer send a train now and then: trainPackets padding-only
// packets back to back on a video subscription, inside its sequence numbers. A
// bottleneck spreads a train out to its own rate; the receiver's transport-cc
// feedback gives the arrival times, and the spread of the train's second half (the
// first may pass in a shaper's burst, at any rate) is the link's capacity. An
// estimate below trainShare of it is raised to that, by trainStep at most: a receiver
// or a shaper that stalls and then hands on a train at once makes any link look fast,
// so one train must not take a subscriber from its smallest layers to everything. The
// allocation then climbs as it would on any estimate (climbGate still holds climbs
// back after failed ones).
//
// A train carries no media and costs the receiver nothing to drop (padding), and a
// few kilobytes of the link: less than one video frame, where the layer the
// allocation used to try instead flooded a slow link with a keyframe it could not
// carry. Trains that show no room come less and less often (trainEvery doubling up
// to trainEveryMax) until a climb.
const (
	trainPackets  = 24
	trainPadding  = 255 // bytes of padding per packet: the most RTP padding holds
	trainMin      = 8   // packets received for a verdict
	trainShare    = 0.85
	trainStep     = 3               // the most one train multiplies the estimate by
	trainTimeout  = 2 * time.Second // a train not fully reported within this is forgotten
	trainEvery    = 2 * time.Second
	trainEveryMax = 8 * time.Second
)

// trainMarker, queued as a sendItem's packet, makes the writer send a train on the
// subscription.
var trainMarker = &packet{}

// estTrain is the train in flight, as the estimator sees it.
type estTrain struct {
	active bool
	left   int    // packets of it still to be sent
	n      int    // packets of it sent
	first  uint16 // transport-wide sequence number of its first
	sentAt int64  // ns since start, of its first
	size   [trainPackets]uint16
	state  [trainPackets]uint8
	arr    [trainPackets]int64 // µs, the receiver's clock
}

// startTrain readies the estimator for a train of n packets, the next the connection
// sends; false while the last one is still in flight, or while the latest interval
// met a queue or loss: a train then would only add to what the link drops.
func (e *estimator) startTrain(n int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := &e.train; t.active && int64(e.now().Sub(e.start))-t.sentAt < int64(trainTimeout) {
		return false
	}
	if e.last.queue > estQueueLow || e.last.loss > estLossLow {
		return false
	}
	e.train = estTrain{active: true, left: min(n, trainPackets)}
	return true
}

// endTrain: the writer sent what it could of the train.
func (e *estimator) endTrain() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.train.left = 0
	if e.train.n < trainMin {
		e.train.active = false
	}
}

// trainSent notes a packet of the train being sent; under mu.
func (t *estTrain) sent(seq uint16, size uint16, at int64) {
	if t.n == 0 {
		t.first, t.sentAt = seq, at
	}
	t.size[t.n] = size
	t.n++
	t.left--
}

// acked notes the fate of a packet of the train; under mu.
func (t *estTrain) acked(seq uint16, received bool, arrival int64) {
	if i := int(seq - t.first); t.active && i < t.n {
		t.state[i], t.arr[i] = pktLost, 0
		if received {
			t.state[i], t.arr[i] = pktReceived, arrival
		}
	}
}

// judgeTrain raises the estimate to what a fully reported train measured; under mu.
// It reports whether the estimate moved.
func (e *estimator) judgeTrain() bool {
	t := &e.train
	if !t.active || t.left > 0 {
		return false
	}
	if e.lastSent-t.sentAt >= int64(trainTimeout) {
		t.active = false
		return false
	}
	var got []int
	for i := range t.n {
		switch t.state[i] {
		case pktAwaiting:
			return false
		case pktReceived:
			got = append(got, i)
		}
	}
	t.active = false
	if len(got) < trainMin {
		return false
	}
	rate := trainRate(t, got[len(got)/2:])
	e.last.trainRate = rate
	if t.sentAt <= e.cutAt {
		return false // sent before a cut: the cut knows better
	}
	old := e.target.Load()
	if est := int64(min(rate*trainShare, float64(old)*trainStep, bweMax)); est > old {
		e.target.Store(est)
		return true
	}
	return false
}

// trainRate is the rate at which the packets idx of t arrived, bits per second: their
// bytes after the first to arrive over the time from it to the last.
func trainRate(t *estTrain, idx []int) float64 {
	first, last := t.arr[idx[0]], t.arr[idx[0]]
	for _, i := range idx {
		first, last = min(first, t.arr[i]), max(last, t.arr[i])
	}
	var bytes int64
	skipped := false
	for _, i := range idx {
		if !skipped && t.arr[i] == first {
			skipped = true
			continue
		}
		bytes += int64(t.size[i])
	}
	span := last - first // µs
	if span <= 0 {
		return bweMax // too fast for the receiver's clock to tell
	}
	return float64(bytes*8) * 1e6 / float64(span)
}

// trainer is the subscriber's estimator when it can measure trains.
func (p *Participant) trainer() *estimator {
	e, _ := p.bw.est.(*estimator)
	return e
}

// sendTrain sends a train of padding on the subscription, in sequence numbers it
// makes room for after the last one sent. Called only by the subscriber's writer
// goroutine, which owns h.
func (d *downTrack) sendTrain(h *rtp.Header) {
	b, f, est := d.binding.Load(), d.fw, d.sub.trainer()
	if b == nil || f == nil || est == nil || f.rp.pending || f.rp.dedupe || d.ctl.Load() != f.ctl {
		return // nothing bound, or a start or a switch under way: another time
	}
	if !est.startTrain(trainPackets) {
		return
	}
	defer est.endTrain()
	seq, ts, ok := d.makeRoom(trainPackets)
	if !ok {
		return
	}
	for i := range uint16(trainPackets) {
		ext := h.Extensions[:0]
		*h = rtp.Header{Version: 2, Padding: true, PaddingSize: trainPadding, SequenceNumber: seq + i,
			Timestamp: ts, SSRC: b.ssrc, PayloadType: b.pt, Extensions: ext}
		if _, ok := d.writeOnce(b, h, nil, trainID, false); !ok {
			return
		}
		d.sentPackets++
	}
}

// makeRoom reserves n sequence numbers after the last one sent: the packets that come
// after them go out shifted by n (a new segment of the same layer; a track sent as it
// came is from now on sent in segments). It returns the first of them and the
// timestamp of the last packet sent; ok is false while nothing is being sent.
func (d *downTrack) makeRoom(n uint16) (seq uint16, ts uint32, ok bool) {
	f := d.fw
	d.mu.Lock()
	defer d.mu.Unlock()
	if f.passthrough {
		p := f.lastP
		if p == nil {
			return 0, 0, false
		}
		f.leavePassthrough()
		in := p.header.SequenceNumber + 1
		f.segs = append(f.segs, segment{layer: p.layer, open: true, inStart: in})
		f.cur = int(p.layer)
	}
	last := len(f.segs) - 1
	if f.cur < 0 || last < 0 || !f.segs[last].open || !f.last.valid || int(f.last.layer) != f.cur {
		return 0, 0, false
	}
	s := f.segs[last]
	top := f.numberedTop()    // past what a closed segment holds for a late packet
	end := top - s.seqOff + 1 // the first publisher sequence number not sent yet
	f.segs[last].open, f.segs[last].inEnd = false, end
	s.inStart, s.seqOff = end, s.seqOff+n
	if len(f.segs) == maxSegments {
		f.segs = append(f.segs[:0], f.segs[1:]...)
	}
	f.segs = append(f.segs, s)
	seq = top + 1
	f.last.seq, f.heldOn = top+n, false
	return seq, f.last.ts, true
}
