package sfu

import (
	"runtime"
	"sync"
)

// Subscribers' queues are drained by a few writer goroutines, one per core, rather than
// one goroutine each: a packet fanned out to fifty subscribers then wakes one or two
// writers instead of fifty, and each writer writes the packets of many subscribers in
// one pass (the batch the media socket sends, batchconn.go, fills from that pass). A
// queue is drained by one writer at a time (sendQueue.state), so everything that was
// "the subscriber's writer goroutine" before still runs on one goroutine at a time, in
// order.
//
// A write on a UDP socket never waits for one peer (a full socket buffer holds up
// everyone alike), so sharing a writer costs a fast subscriber nothing. A TCP
// connection's write waits for that peer's window: a subscriber whose media goes over
// ICE-TCP gets a writer of its own (sendQueue.dedicate), so a slow one holds up only
// itself.

// writerShard is one writer goroutine and the queues waiting for it, in the order they
// became ready.
type writerShard struct {
	mu    sync.Mutex
	ready []*sendQueue
	batch *writerBatch  // nil when the media socket cannot batch (srtpOut then writes to it)
	wake  chan struct{} // capacity 1: a wake-up is never lost, never blocks
	stop  chan struct{}
	done  chan struct{}
}

func newWriterShard(batch *writerBatch) *writerShard {
	s := &writerShard{batch: batch, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

// schedule puts q, which has just become ready, at the end of the line.
func (s *writerShard) schedule(q *sendQueue) {
	s.mu.Lock()
	s.ready = append(s.ready, q)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *writerShard) run() {
	defer close(s.done)
	var batch []*sendQueue
	for {
		s.mu.Lock()
		batch, s.ready = s.ready, batch[:0]
		s.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-s.wake:
				continue
			case <-s.stop:
				return
			}
		}
		for i, q := range batch {
			q.drain(s.batch)
			batch[i] = nil // the slice is reused as the next ready list
		}
		if s.batch != nil {
			s.batch.flush() // never held back for more
		}
	}
}

func (s *writerShard) close() {
	close(s.stop)
	<-s.done
}

// writerPool is the engine's writers. Queues are spread over them when made.
type writerPool struct {
	shards []*writerShard
	mu     sync.Mutex
	next   int
	// newBatch makes a writer's batch; nil, or a nil batch, leaves the writer
	// without one.
	newBatch func() *writerBatch
}

func newWriterPool(n int, newBatch func() *writerBatch) *writerPool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &writerPool{shards: make([]*writerShard, n), newBatch: newBatch}
	for i := range p.shards {
		p.shards[i] = newWriterShard(p.batch())
	}
	return p
}

// batch is a new writer's batch, or nil.
func (p *writerPool) batch() *writerBatch {
	if p == nil || p.newBatch == nil {
		return nil
	}
	return p.newBatch()
}

// shard returns the writer for a new queue, in turn.
func (p *writerPool) shard() *writerShard {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.shards[p.next%len(p.shards)]
	p.next++
	return s
}

// close stops the writers; every queue must be closed first.
func (p *writerPool) close() {
	for _, s := range p.shards {
		s.close()
	}
}
