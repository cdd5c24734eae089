package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// sendQueue is one subscriber's outgoing packets. Whoever receives the publishers' packets puts
// packets in without blocking; a writer (writerpool.go) takes them out in strict
// priority: audio (and sender reports) first, then retransmissions, then video.
// Retransmissions have their own bounded queue and a byte budget (rtxPacer), so a burst
// of NACKs can neither delay audio nor take the whole link from new video.
//
// One writer at a time drains a queue (state), so the subscriber's sending state (the
// forwarders, hdr, the sender report counts) is only ever touched by one goroutine at a
// time, in queue order; "the writer" below means whichever is draining.
type sendQueue struct {
	mu     sync.Mutex
	urgent itemRing
	rtx    itemRing
	video  itemRing
	state  queueState
	closed bool
	// drained is made by close while a writer drains the queue, and closed by that
	// writer when it lets go.
	drained chan struct{}
	// shard is the writer that drains the queue; own: a writer of its own (dedicate),
	// made with pool's batch.
	shard *writerShard
	own   bool
	pool  *writerPool
	// batch is the batch of the writer draining the queue now (drain sets it; only
	// that writer reads it).
	batch *writerBatch

	// now is the clock of the retransmission budget; newParticipant sets the engine's
	// before the queue is shared.
	now   func() time.Time
	pacer rtxPacer

	// What the writer wrote, for monitoring. Only the writer adds, so these atomics are
	// never contended on the packet path; Engine.Stats sums them over all subscribers.
	forwarded atomic.Uint64
	bytes     atomic.Uint64

	// hdr is the writer's scratch header: every packet's header is rewritten into it
	// (downTrack.write). Only the writer touches it; packets queued for
	// retransmission, keyframe replays and sender reports go through the same writer.
	hdr rtp.Header
}

// queueState says where a queue stands with its writer.
type queueState uint8

const (
	queueIdle     queueState = iota // empty, in no writer's list
	queueReady                      // in its writer's list
	queueDraining                   // a writer is taking packets out
)

// sendItem is one packet for one subscription or, with p nil, the subscription's pending
// sender report (kept out of the item so every queue slot stays two words).
type sendItem struct {
	d *downTrack
	p *packet
}

// Queue lengths: about 200 ms of audio for a large meeting, and a few video frames.
// Retransmissions older than what rtxQueueLen holds would arrive too late to be played.
const (
	urgentQueueLen = 128
	rtxQueueLen    = rtxBurst / 1200
	videoQueueLen  = 256
)

// drainTurn is how many packets a writer takes from one queue before it serves the
// next ready queue: a subscriber with a long queue (a replay, a burst of
// retransmissions) cannot hold up the others for long, and a short fan-out is written
// in one turn.
const drainTurn = 32

// newSendQueue makes a subscriber's queue, drained by one of pool's writers, or by a
// writer of its own when pool is nil.
func newSendQueue(pool *writerPool) *sendQueue {
	q := newIdleSendQueue(urgentQueueLen, rtxQueueLen, videoQueueLen)
	q.pool = pool
	if pool == nil {
		q.shard, q.own = newWriterShard(nil), true
	} else {
		q.shard = pool.shard()
	}
	return q
}

// newIdleSendQueue makes a queue no writer drains: tests take packets out with pop.
func newIdleSendQueue(urgent, rtx, video int) *sendQueue {
	return &sendQueue{
		urgent: newItemRing(urgent),
		rtx:    newItemRing(rtx),
		video:  newItemRing(video),
		now:    time.Now,
	}
}

// enqueue reports whether p was queued; it never blocks.
func (q *sendQueue) enqueue(it sendItem, urgent bool) bool {
	if urgent {
		return q.push(&q.urgent, it)
	}
	return q.push(&q.video, it)
}

// enqueueRetransmission queues a packet a subscriber asked for again, if the
// retransmission budget and the queue have room. It never blocks.
func (q *sendQueue) enqueueRetransmission(it sendItem) bool {
	if !q.pacer.take(q.now(), len(it.p.payload)) {
		return false
	}
	return q.push(&q.rtx, it)
}

// push puts it in r, one of the queue's rings, and gives an idle queue to its writer.
func (q *sendQueue) push(r *itemRing, it sendItem) bool {
	q.mu.Lock()
	if q.closed || !r.push(it) {
		q.mu.Unlock()
		return false
	}
	s := q.readyLocked()
	q.mu.Unlock()
	if s != nil {
		s.schedule(q)
	}
	return true
}

// readyLocked marks an idle queue ready and returns the writer to give it to; nil if
// a writer has it already (or none drains it).
func (q *sendQueue) readyLocked() *writerShard {
	if q.state != queueIdle || q.shard == nil {
		return nil
	}
	q.state = queueReady
	return q.shard
}

// popLocked takes the next packet in priority order; rtx says it is a retransmission.
func (q *sendQueue) popLocked() (it sendItem, rtx, ok bool) {
	if it, ok := q.urgent.pop(); ok {
		return it, false, true
	}
	if it, ok := q.rtx.pop(); ok {
		return it, true, true
	}
	it, ok = q.video.pop()
	return it, false, ok
}

// drain is a writer's turn at a ready queue: up to drainTurn packets, then the queue
// goes back to the end of its writer's line if packets are left. Audio queued while a
// video packet is written goes out next, before the rest of the video.
func (q *sendQueue) drain(batch *writerBatch) {
	q.mu.Lock()
	q.state = queueDraining
	q.batch = batch
	for i := 0; i < drainTurn && !q.closed; i++ {
		it, rtx, ok := q.popLocked()
		if !ok {
			break
		}
		q.mu.Unlock()
		q.write(it, rtx)
		q.mu.Lock()
	}
	if q.closed || q.urgent.n+q.rtx.n+q.video.n == 0 {
		q.state = queueIdle
		if q.drained != nil {
			close(q.drained)
			q.drained = nil
		}
		q.mu.Unlock()
		return
	}
	q.state = queueReady
	s := q.shard
	q.mu.Unlock()
	s.schedule(q)
}

// dedicate gives the queue a writer of its own from now on (a subscriber on ICE-TCP,
// whose writes may wait for the peer). A turn its old writer has scheduled still runs
// there; the next goes to the new one.
func (q *sendQueue) dedicate() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.own || q.closed || q.shard == nil {
		return
	}
	q.shard, q.own = newWriterShard(q.pool.batch()), true
}

// write sends it; rtx says it is a retransmission, whose forwarding delay is not
// measured (forwarddelay.go).
func (q *sendQueue) write(it sendItem, rtx bool) {
	if it.d == nil {
		return
	}
	if it.p == nil {
		it.d.writeSenderReport()
		return
	}
	if it.p == replayMarker {
		it.d.replayNow(&q.hdr)
		return
	}
	if it.p == trainMarker {
		it.d.sendTrain(&q.hdr)
		return
	}
	b := q.batch
	if b != nil && !rtx {
		b.arrival = it.p.arrival
	}
	n, ok := it.d.write(it.p, &q.hdr, rtx)
	if b != nil {
		b.arrival = 0
	}
	if ok {
		q.forwarded.Add(1)
		q.bytes.Add(uint64(n))
	}
}

// close drops what is queued, waits for a writer that is writing the queue's packets,
// and stops the queue's own writer if it has one. Nothing is written after it returns.
func (q *sendQueue) close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	q.urgent.reset()
	q.rtx.reset()
	q.video.reset()
	var wait chan struct{}
	if q.state == queueDraining {
		q.drained = make(chan struct{})
		wait = q.drained
	}
	s, own := q.shard, q.own
	q.mu.Unlock()
	if wait != nil {
		<-wait
	}
	if own {
		s.close()
	}
}

// itemRing is a bounded FIFO of queued items. It starts small and doubles up to its
// bound when a burst needs it: a writer usually keeps a subscriber's queues nearly
// empty, and every subscriber has three of them.
type itemRing struct {
	buf   []sendItem
	head  int
	n     int
	limit int
}

// itemRingStart is a ring's first size: a video frame's packets, a few of audio.
const itemRingStart = 16

func newItemRing(limit int) itemRing { return itemRing{limit: limit} }

func (r *itemRing) push(it sendItem) bool {
	if r.n == len(r.buf) {
		if len(r.buf) >= r.limit {
			return false
		}
		r.grow()
	}
	r.buf[(r.head+r.n)%len(r.buf)] = it
	r.n++
	return true
}

// grow doubles the ring (to at most its limit), keeping the items in order.
func (r *itemRing) grow() {
	size := min(max(2*len(r.buf), itemRingStart), r.limit)
	buf := make([]sendItem, size)
	for i := range r.n {
		buf[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	r.buf, r.head = buf, 0
}

func (r *itemRing) pop() (sendItem, bool) {
	if r.n == 0 {
		return sendItem{}, false
	}
	it := r.buf[r.head]
	r.buf[r.head] = sendItem{} // let the packet go
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return it, true
}

// reset empties the ring and drops its references.
func (r *itemRing) reset() {
	clear(r.buf)
	r.head, r.n = 0, 0
}

// rtxPacer is a token bucket of payload bytes for one subscriber's retransmissions.
// Retransmissions beyond it are dropped (the receiver asks again or for a keyframe)
// rather than queued behind one another.
//
// Its rate and burst follow the subscriber's estimate (rtxLimitFor), set where the
// allocation runs (reallocate: every bweTick and at a cut of the estimate), never per
// packet: a retransmission goes with the transport-wide number of the packet it repairs,
// so the estimator does not count it as sent, and the allocation reserves no room for
// it; at a fixed 1 Mbit/s, NACKs on a 300 kbit/s link could take the link from the audio
// beside them. Until an estimate exists (or for a client without transport-cc) it is
// rtxRate and rtxBurst.
type rtxPacer struct {
	bucket tokenBucket
	// limit is the rate (bytes a second, high 32 bits) and the burst (bytes, low 32
	// bits); 0: rtxRate and rtxBurst.
	limit atomic.Uint64
}

const (
	rtxRate  = 1_000_000 / 8 // bytes per second: 1 Mbit/s, at most
	rtxBurst = 48 * 1200     // bytes: a burst of 48 full packets, at most

	// rtxEstimateShare: whatever the allocation leaves, retransmissions may have an
	// eighth of the estimate (a tile whose layer fills it still gets its losses
	// repaired, at no more than 12.5 % over the estimate while NACKs last).
	rtxEstimateShare = 8
	// rtxBurstTime is the burst as time of the estimate: a burst of retransmissions
	// adds at most this much queueing delay to the audio behind it at the bottleneck.
	rtxBurstTime = 200 * time.Millisecond
	// rtxMinBurst: a few full packets, so a short loss on a slow link is repaired in one
	// go (at 300 kbit/s the estimate's 200 ms are some six).
	rtxMinBurst = 3 * 1200
)

// rtxLimitFor is the retransmission rate and burst, in bytes, for a subscriber whose
// estimate is budget bits a second, of which the allocation leaves left after audio and
// video: the larger of left and an eighth of the estimate, at most rtxRate; a burst of
// rtxBurstTime of the estimate, within rtxMinBurst..rtxBurst.
func rtxLimitFor(budget, left int64) (rate, burst int64) {
	rate = max(left, budget/rtxEstimateShare) / 8
	rate = min(max(rate, 1), rtxRate)
	burst = budget / 8 * int64(rtxBurstTime) / int64(time.Second)
	burst = min(max(burst, rtxMinBurst), rtxBurst)
	return rate, burst
}

// setLimit bounds the pacer by rate and burst (bytes); the allocation's, not the
// packet path's.
func (r *rtxPacer) setLimit(rate, burst int64) {
	r.limit.Store(uint64(rate)<<32 | uint64(uint32(burst)))
}

// limits is the pacer's rate and burst, in bytes.
func (r *rtxPacer) limits() (rate, burst float64) {
	l := r.limit.Load()
	if l == 0 {
		return rtxRate, rtxBurst
	}
	return float64(l >> 32), float64(uint32(l))
}

func (r *rtxPacer) take(now time.Time, n int) bool {
	rate, burst := r.limits()
	return r.bucket.take(now, n, rate, burst)
}
