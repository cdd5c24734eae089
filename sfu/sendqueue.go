package sfu

import (
	"sync"
	"sync/atomic"
)

// sendQueue is one subscriber's outgoing packets. The publishers' reader goroutines put
// packets in without blocking; one writer goroutine per subscriber takes them out, the
// urgent queue (audio, retransmissions) always before the video queue.
type sendQueue struct {
	urgent chan sendItem
	video  chan sendItem
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	// What the writer wrote, for monitoring. Only the writer adds, so these atomics are
	// never contended on the packet path; Engine.Stats sums them over all subscribers.
	forwarded atomic.Uint64
	bytes     atomic.Uint64
}

type sendItem struct {
	d *downTrack
	p *packet
}

// Queue lengths: about 200 ms of audio for a large meeting, and a few video frames.
const (
	urgentQueueLen = 128
	videoQueueLen  = 256
)

func newSendQueue() *sendQueue {
	q := &sendQueue{
		urgent: make(chan sendItem, urgentQueueLen),
		video:  make(chan sendItem, videoQueueLen),
		stop:   make(chan struct{}),
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

func (q *sendQueue) run() {
	defer q.wg.Done()
	for {
		select {
		case it := <-q.urgent:
			q.write(it)
			continue
		default:
		}
		select {
		case it := <-q.urgent:
			q.write(it)
		case it := <-q.video:
			q.write(it)
		case <-q.stop:
			return
		}
	}
}

func (q *sendQueue) write(it sendItem) {
	if n, ok := it.d.write(it.p); ok {
		q.forwarded.Add(1)
		q.bytes.Add(uint64(n))
	}
}

// close stops the writer and waits for it.
func (q *sendQueue) close() {
	q.once.Do(func() { close(q.stop) })
	q.wg.Wait()
}
