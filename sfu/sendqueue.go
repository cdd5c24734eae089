package sfu

import "sync"

// sendQueue is one subscriber's outgoing packets. The publishers' reader goroutines put
// packets in without blocking; one writer goroutine per subscriber takes them out, the
// urgent queue (audio, retransmissions) always before the video queue.
type sendQueue struct {
	urgent chan sendItem
	video  chan sendItem
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
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
			it.d.write(it.p)
			continue
		default:
		}
		select {
		case it := <-q.urgent:
			it.d.write(it.p)
		case it := <-q.video:
			it.d.write(it.p)
		case <-q.stop:
			return
		}
	}
}

// close stops the writer and waits for it.
func (q *sendQueue) close() {
	q.once.Do(func() { close(q.stop) })
	q.wg.Wait()
}
