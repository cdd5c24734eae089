package sfu

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// estimator is one subscriber's downlink bandwidth estimate, from the transport-cc
// feedback its subscribe connection returns. It replaces Pion's GCC, whose
// delay-based detector reads every growth of one-way delay as congestion: on a
// machine short of CPU (a browser or the server stalled for a few hundred
// milliseconds) it took the stalls for a full queue and held subscribers on fast
// links at their smallest layer for minutes.
//
// What it trusts instead:
//   - loss: more than estLossHigh of the packets of an interval reported lost;
//   - a standing queue: the smallest one-way delay of a whole interval stands
//     estQueueHigh above the smallest of the last seconds (a stall delays some
//     packets of an interval, a queue delays all of them) while the receiver got the
//     interval's packets spread over clearly more time than they were sent in (the
//     queue grows), or twice that high whatever the spread.
//
// Either cuts the estimate (before the interval is over when it is heavy) to what the
// link delivered, with a margin for the queue to drain; loss or a growing queue that
// goes on after a cut cuts it further each interval, as GCC's loss controller does. With little loss and no queue it grows
// by estGrowth an interval, but never past estCeiling times what is sent: it cannot
// know that a link carries more than it is given, so the allocation has trains sent
// (train.go), which raise it. Between the two it holds.
//
// Times: send times are taken on real time (now), arrival times are the receiver's
// (µs, its own epoch); only differences within each are used, and one-way delays only
// relative to their minimum, so the two clocks' offset cancels. Intervals are cut by
// the send times of the packets the feedback reports, so the estimate moves with
// feedback, not with a timer.
type estimator struct {
	now    func() time.Time
	start  time.Time
	target atomic.Int64 // the estimate, bits per second; written under mu
	notify func(int)    // OnTargetBitrateChange; set before the connection exists

	mu       sync.Mutex
	ring     []sentPacket // by transport-wide sequence number; made at the first packet, grown to estRing (onSent)
	ref      int64        // unwrapped reference time, in its 64 ms units
	lastRef  uint32
	haveRef  bool
	iv       estSpan
	base     [2]int64 // smallest one-way delay (ns) of the previous and current window
	baseAt   int64    // send time the current window started
	lastSent int64    // send time of the newest packet (ns since start)
	cutAt    int64    // lastSent when the estimate was last cut
	last     estStats
	moved    bool
	train    estTrain // the train in flight (train.go)
}

const (
	estRing = 1024 // packets remembered at most: seconds of video at a few Mbit/s
	// estRingMin is the ring's first size: a subscriber at a few hundred kbit/s
	// has that many packets in flight for a second; it grows when feedback is
	// still awaited for a packet it would overwrite (estRingKeep).
	estRingMin  = 128
	estRingKeep = int64(time.Second)
	estInterval = 750 * time.Millisecond
	// estEarly is the shortest interval judged, when it already shows an overrun.
	estEarly      = 150 * time.Millisecond
	estOverrun    = 0.5
	estBaseWindow = 5 * time.Second
	estQueueHigh  = 100 * time.Millisecond
	estQueueLow   = 40 * time.Millisecond
	estLossHigh   = 0.10
	estLossLow    = 0.02
	estSpread     = 0.9 // received over sent rate below which the queue grows
	estCut        = 0.9 // of what the link delivered
	estGrowth     = 1.2
	estCeiling    = 1.5
)

// sentPacket is what the estimator keeps of a packet sent.
type sentPacket struct {
	at    int64 // ns since start; 0: empty
	size  uint16
	seq   uint16
	state uint8
	// again: the packet went a second time under its number (a retransmission,
	// sentlog.go), so an arrival reported cannot be told to be the first copy's; it
	// counts as delivered, untimed, and a loss already reported stays one.
	again bool
}

const (
	pktAwaiting uint8 = iota
	pktReceived
	pktLost
)

// estSpan accumulates what the feedback of one interval reports.
type estSpan struct {
	sentBytes, recvBytes  int64
	recv, lost            int
	sendFirst, sendLast   int64 // ns since start
	arrFirst, arrLast     int64 // µs, the receiver's clock
	minOWD                int64 // ns
	haveSend, haveArrival bool
}

// estStats is the latest interval's verdict (GetStats).
type estStats struct {
	loss               float64
	queue              time.Duration
	sendRate, recvRate float64
	trainRate          float64 // what the latest train measured
}

func newEstimator(now func() time.Time) *estimator {
	e := &estimator{now: now, start: now()}
	e.target.Store(bweInitial)
	e.base = [2]int64{math.MaxInt64, math.MaxInt64}
	e.iv.reset()
	return e
}

func (iv *estSpan) reset() { *iv = estSpan{minOWD: math.MaxInt64} }

// heavyLoss: enough packets of the interval lost to judge it at once (overrun).
func (iv *estSpan) heavyLoss() bool {
	return iv.lost >= 8 && float64(iv.lost) > estLossHigh*float64(iv.lost+iv.recv)
}

// AddStream records each packet the stream sends with its transport-wide sequence
// number (set by the TWCC interceptor, which wraps this writer), for a connection
// whose RTP goes through Pion; the SFU's own SRTP writer calls onSent itself.
func (e *estimator) AddStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	var id uint8
	for _, x := range info.RTPHeaderExtensions {
		if x.URI == sdp.TransportCCURI {
			id = uint8(x.ID)
		}
	}
	if id == 0 {
		return w
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if ext := h.GetExtension(id); len(ext) >= 2 {
			e.onSent(uint16(ext[0])<<8|uint16(ext[1]), h.MarshalSize()+len(payload)+int(h.PaddingSize))
		}
		return w.Write(h, payload, a)
	})
}

func (e *estimator) onSent(seq uint16, size int) {
	at := int64(e.now().Sub(e.start)) + 1 // never 0: 0 marks an empty slot
	e.mu.Lock()
	*e.slot(seq, at) = sentPacket{at: at, size: uint16(min(size, math.MaxUint16)), seq: seq}
	e.lastSent = max(e.lastSent, at)
	if e.train.left > 0 {
		e.train.sent(seq, uint16(min(size, math.MaxUint16)), at)
	}
	e.mu.Unlock()
}

// onSentAgain notes that the packet seq went again under its number.
func (e *estimator) onSentAgain(seq uint16) {
	e.mu.Lock()
	if e.ring != nil {
		if p := &e.ring[int(seq)&(len(e.ring)-1)]; p.at != 0 && p.seq == seq {
			p.again = true
		}
	}
	e.mu.Unlock()
}

// slot is where the packet seq sent at goes; under mu. The ring starts small and
// doubles (up to estRing) rather than forget a packet whose feedback may still come:
// most subscribers never need the full size, and the ring is kept per connection.
func (e *estimator) slot(seq uint16, at int64) *sentPacket {
	if e.ring == nil {
		e.ring = make([]sentPacket, estRingMin)
	}
	for {
		p := &e.ring[int(seq)&(len(e.ring)-1)]
		if len(e.ring) >= estRing || p.at == 0 || p.seq == seq || p.state != pktAwaiting || at-p.at > estRingKeep {
			return p
		}
		grown := make([]sentPacket, 2*len(e.ring))
		for _, q := range e.ring {
			if q.at != 0 { // distinct residues mod n stay distinct mod 2n
				grown[int(q.seq)&(len(grown)-1)] = q
			}
		}
		e.ring = grown
	}
}

// WriteRTCP reads transport-cc feedback; anything else, and feedback that names
// packets it does not know or is malformed, changes nothing. It never fails: an
// error would stop the connection's RTCP reader.
func (e *estimator) WriteRTCP(pkts []rtcp.Packet, _ interceptor.Attributes) error {
	for _, p := range pkts {
		if fb, ok := p.(*rtcp.TransportLayerCC); ok {
			e.onFeedback(fb)
		}
	}
	return nil
}

func (e *estimator) onFeedback(fb *rtcp.TransportLayerCC) {
	e.mu.Lock()
	if !e.haveRef {
		e.ref, e.haveRef = int64(fb.ReferenceTime&0xffffff), true
	} else {
		d := int64((fb.ReferenceTime-e.lastRef)&0xffffff) << 40 >> 40 // signed 24 bits
		e.ref += d
	}
	e.lastRef = fb.ReferenceTime
	arrival := e.ref * 64_000 // µs
	// At most the ring's worth of statuses: no more can match a packet sent, and a
	// feedback that claims 65535 in a few run-length chunks would otherwise cost 65535
	// steps of the socket reader, which reads every publisher's media too.
	seq, left, deltas := fb.BaseSequenceNumber, min(int(fb.PacketStatusCount), estRing), fb.RecvDeltas
	visit := func(sym uint16) bool {
		if left == 0 {
			return false
		}
		left--
		switch sym {
		case rtcp.TypeTCCPacketReceivedSmallDelta, rtcp.TypeTCCPacketReceivedLargeDelta:
			if len(deltas) == 0 || deltas[0] == nil {
				return false // fewer deltas than received packets: malformed
			}
			arrival += deltas[0].Delta
			deltas = deltas[1:]
			e.acked(seq, true, arrival)
		case rtcp.TypeTCCPacketNotReceived:
			e.acked(seq, false, 0)
		}
		seq++
		return true
	}
chunks:
	for _, c := range fb.PacketChunks {
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			for range c.RunLength {
				if !visit(c.PacketStatusSymbol) {
					break chunks
				}
			}
		case *rtcp.StatusVectorChunk:
			for _, s := range c.SymbolList {
				if !visit(s) {
					break chunks
				}
			}
		}
	}
	notify := false
	if span := e.iv.sendLast - e.iv.sendFirst; e.iv.haveSend && (span >= int64(estInterval) || span >= int64(estEarly) && e.overrun()) {
		notify = e.evaluate()
	}
	if e.judgeTrain() {
		notify = true
	}
	target := int(e.target.Load())
	e.mu.Unlock()
	if notify && e.notify != nil {
		e.notify(target)
	}
}

// acked notes one packet's fate; under mu.
func (e *estimator) acked(seq uint16, received bool, arrival int64) {
	if e.ring == nil {
		return // nothing sent yet
	}
	p := &e.ring[int(seq)&(len(e.ring)-1)]
	if p.at == 0 || p.seq != seq || p.state == pktReceived || !received && p.state == pktLost ||
		p.again && p.state == pktLost {
		return // unknown, forgotten, already known, or the late copy of a packet lost
	}
	e.train.acked(seq, received, arrival)
	iv := &e.iv
	if p.state == pktLost { // reported late: it arrived after all
		iv.lost = max(iv.lost-1, 0)
	} else {
		iv.sentBytes += int64(p.size)
		if !iv.haveSend || p.at < iv.sendFirst {
			iv.sendFirst = p.at
		}
		if !iv.haveSend || p.at > iv.sendLast {
			iv.sendLast = p.at
		}
		iv.haveSend = true
	}
	if !received {
		p.state = pktLost
		iv.lost++
		return
	}
	p.state = pktReceived
	iv.recv++
	iv.recvBytes += int64(p.size)
	if p.again {
		return // the first copy's arrival or the second's: not timed
	}
	if !iv.haveArrival || arrival < iv.arrFirst {
		iv.arrFirst = arrival
	}
	if !iv.haveArrival || arrival > iv.arrLast {
		iv.arrLast = arrival
	}
	iv.haveArrival = true
	owd := arrival*1000 - p.at
	iv.minOWD = min(iv.minOWD, owd)
	if p.at-e.baseAt >= int64(estBaseWindow) {
		e.base[0], e.base[1], e.baseAt = e.base[1], owd, p.at
	} else {
		e.base[1] = min(e.base[1], owd)
	}
}

// measure is what the interval so far shows; under mu. ok is false when the
// feedback reported none of its packets.
func (e *estimator) measure() (m estStats, ok bool) {
	iv := &e.iv
	total := iv.recv + iv.lost
	if total == 0 {
		return m, false
	}
	sendSpan := float64(max(iv.sendLast-iv.sendFirst, int64(time.Millisecond)))
	m.sendRate = float64(iv.sentBytes*8) * 1e9 / sendSpan
	if iv.haveArrival { // else nothing was delivered: recvRate 0
		recvSpan := float64(max((iv.arrLast-iv.arrFirst)*1000, int64(time.Millisecond)))
		m.recvRate = min(float64(iv.recvBytes*8)*1e9/recvSpan, m.sendRate)
		m.queue = time.Duration(iv.minOWD - min(e.base[0], e.base[1]))
	}
	m.loss = float64(iv.lost) / float64(total)
	return m, true
}

// overrun: the interval so far already shows a link far slower than what it is sent
// (heavy loss, or a queue all its packets met while they arrived at less than
// estOverrun of the rate they were sent at), so waiting for the rest of it would only
// lose more, audio among it. A stalled receiver stamps late packets all at once: it
// makes them arrive faster, never slower.
func (e *estimator) overrun() bool {
	if e.iv.heavyLoss() {
		return true
	}
	m, ok := e.measure()
	return ok && m.queue > estQueueHigh && m.recvRate < estOverrun*m.sendRate
}

// evaluate judges the interval and moves the estimate; under mu. It reports whether
// the estimate moved or is the first one resting on feedback.
func (e *estimator) evaluate() bool {
	m, ok := e.measure()
	iv := e.iv
	e.iv.reset()
	if !ok {
		return false
	}
	loss, queue, sendRate, recvRate := m.loss, m.queue, m.sendRate, m.recvRate
	m.trainRate = e.last.trainRate
	e.last = m
	old := e.target.Load()
	est := old
	// Packets sent before the last cut show the rate before it: they neither cut
	// again for loss nor let the estimate grow.
	afterCut := iv.sendFirst > e.cutAt
	switch {
	case loss > estLossHigh || queue > estQueueHigh && (recvRate < estSpread*sendRate || queue > 2*estQueueHigh):
		cut := recvRate * estCut
		// Loss, or a queue that still grows, after a cut cuts again: the link
		// delivers what it did, but a sender that keeps overrunning it (a climb
		// the link cannot carry) must hear of it.
		switch {
		case !afterCut: // the rate from before the cut: no further
		case loss > estLossHigh:
			cut = min(cut, float64(est)*(1-loss/2))
		case recvRate < estSpread*sendRate:
			cut = min(cut, float64(est)*estCut)
		}
		if int64(cut) < est {
			est = int64(cut)
			e.cutAt = e.lastSent
		}
	case loss < estLossLow && queue < estQueueLow && afterCut:
		if ceiling := int64(sendRate * estCeiling); est < ceiling {
			est = min(int64(float64(est)*estGrowth), ceiling)
		}
	}
	est = min(max(est, bweMin), bweMax)
	e.target.Store(est)
	first := !e.moved
	e.moved = true
	return first || est != old
}

// GetTargetBitrate is the estimate in bits per second.
func (e *estimator) GetTargetBitrate() int { return int(e.target.Load()) }

// OnTargetBitrateChange sets what hears of each move of the estimate (and of the
// first one that rests on feedback), on the goroutine that reads RTCP.
func (e *estimator) OnTargetBitrateChange(f func(int)) { e.notify = f }

// GetStats is the latest interval's verdict, for debugging.
func (e *estimator) GetStats() map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	return map[string]any{
		"target": e.target.Load(), "loss": e.last.loss, "queueDelayMs": e.last.queue.Milliseconds(),
		"sendRate": int64(e.last.sendRate), "receiveRate": int64(e.last.recvRate), "trainRate": int64(e.last.trainRate),
	}
}

// Close has nothing to stop: the estimator has no goroutine.
func (e *estimator) Close() error { return nil }
