package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// sendQueue is one subscriber's outgoing packets. The publishers' reader goroutines put
// packets in without blocking; one writer goroutine per subscriber takes them out in
// strict priority: audio (and sender reports) first, then retransmissions, then video.
// Retransmissions have their own bounded queue and a byte budget (rtxPacer), so a burst
// of NACKs can neither delay audio nor take the whole link from new video.
type sendQueue struct {
	urgent chan sendItem
	rtx    chan sendItem
	video  chan sendItem
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	// now is the clock of the retransmission budget; newParticipant sets the engine's
	// before the queue is shared.
	now   func() time.Time
	pacer rtxPacer

	// What the writer wrote, for monitoring. Only the writer adds, so these atomics are
	// never contended on the packet path; Engine.Stats sums them over all subscribers.
	forwarded atomic.Uint64
	bytes     atomic.Uint64

	// hdr is the writer's scratch header: every packet's header is rewritten into it
	// (downTrack.write). Only the writer goroutine touches it; packets queued for
	// retransmission, keyframe replays and sender reports go through the same writer.
	hdr rtp.Header
}

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

func newSendQueue() *sendQueue {
	q := &sendQueue{
		urgent: make(chan sendItem, urgentQueueLen),
		rtx:    make(chan sendItem, rtxQueueLen),
		video:  make(chan sendItem, videoQueueLen),
		stop:   make(chan struct{}),
		now:    time.Now,
	}
	q.wg.Add(1)
	go q.run()
	return q
}

// enqueue reports whether p was queued; it never blocks.
func (q *sendQueue) enqueue(it sendItem, urgent bool) bool {
	ch := q.video
	if urgent {
		ch = q.urgent
	}
	select {
	case ch <- it:
		return true
	default:
		return false
	}
}

// enqueueRetransmission queues a packet a subscriber asked for again, if the
// retransmission budget and the queue have room. It never blocks. Call wake after the
// packets of one NACK are queued.
func (q *sendQueue) enqueueRetransmission(it sendItem) bool {
	if !q.pacer.take(q.now(), len(it.p.payload)) {
		return false
	}
	select {
	case q.rtx <- it:
		return true
	default:
		return false
	}
}

// wake makes a waiting writer look at the retransmission queue: an empty item in the
// urgent queue. If that queue is full the writer is busy and looks anyway.
func (q *sendQueue) wake() {
	select {
	case q.urgent <- sendItem{}:
	default:
	}
}

func (q *sendQueue) run() {
	defer q.wg.Done()
	for {
		select {
		case it := <-q.urgent:
			q.write(it)
			continue
		default:
		}
		if len(q.rtx) > 0 { // len is a cheap read; most of the time there is nothing to resend
			select {
			case it := <-q.rtx:
				q.write(it)
				continue
			default:
			}
		}
		// Retransmissions are not among the cases: every case costs a lock on each
		// wait, on the hottest path there is; whoever queues them calls wake instead.
		select {
		case it := <-q.urgent:
			q.write(it)
		case it := <-q.video:
			q.writeAfterUrgent(it)
		case <-q.stop:
			return
		}
	}
}

// writeAfterUrgent writes the audio that became ready while the writer waited, then it:
// select picks at random among ready channels, and audio must never wait behind video.
func (q *sendQueue) writeAfterUrgent(it sendItem) {
	for drained := len(q.urgent) == 0; !drained; {
		select {
		case u := <-q.urgent:
			q.write(u)
		default:
			drained = true
		}
	}
	q.write(it)
}

func (q *sendQueue) write(it sendItem) {
	if it.d == nil {
		return // wake
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
	if n, ok := it.d.write(it.p, &q.hdr); ok {
		q.forwarded.Add(1)
		q.bytes.Add(uint64(n))
	}
}

// close stops the writer and waits for it.
func (q *sendQueue) close() {
	q.once.Do(func() { close(q.stop) })
	q.wg.Wait()
}

// rtxPacer is a token bucket of payload bytes for one subscriber's retransmissions:
// rtxRate on average, rtxBurst at once. Retransmissions beyond it are dropped (the
// receiver asks again or for a keyframe) rather than queued behind one another.
type rtxPacer struct {
	mu     sync.Mutex
	last   time.Time
	tokens float64
	primed bool
}

const (
	rtxRate  = 1_000_000 / 8 // bytes per second: 1 Mbit/s
	rtxBurst = 48 * 1200     // bytes: a burst of 48 full packets
)

func (r *rtxPacer) take(now time.Time, n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.primed {
		r.primed, r.tokens, r.last = true, rtxBurst, now
	}
	if dt := now.Sub(r.last); dt > 0 {
		r.tokens += dt.Seconds() * rtxRate
		if r.tokens > rtxBurst {
			r.tokens = rtxBurst
		}
		r.last = now
	}
	if r.tokens < float64(n) {
		return false
	}
	r.tokens -= float64(n)
	return true
}
