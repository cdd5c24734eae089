package signaling

import "sync"

// outQueue holds a session's messages for its write pump: at most sendQueueLen, in
// order. It was a channel of that capacity, whose buffer every member kept for the
// whole meeting (2 KB of pointers each, nearly always empty); the queue grows with a
// burst and lets go of a large buffer once the pump has drained it.
type outQueue struct {
	mu    sync.Mutex
	items []*outMsg
	head  int // items[head:] are queued
}

// outQueueKeep is the largest buffer an empty queue keeps (the everyday burst: a few
// messages of a join or a speaker change).
const outQueueKeep = 8

// push queues m and reports whether there was room. A message of a snapshot kind
// (outMsg.snapshot) replaces one of its kind still queued, in that one's place: the
// peer gets the latest state once, however often it changed while the peer was slow.
func (q *outQueue) push(m *outMsg) bool {
	q.mu.Lock()
	if m.snapshot != 0 {
		for _, x := range q.items[q.head:] {
			if x.snapshot == m.snapshot {
				x.data = m.data
				q.mu.Unlock()
				return true
			}
		}
	}
	n := len(q.items) - q.head
	if m.spare && n >= sendQueueLen/2 {
		q.mu.Unlock()
		return true // dropped, as spare messages are when the peer falls behind
	}
	if n >= sendQueueLen {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && len(q.items) == cap(q.items) {
		copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, m)
	q.mu.Unlock()
	return true
}

// pop takes the first message, nil if none.
func (q *outQueue) pop() *outMsg {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return nil
	}
	m := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.head = 0
		if cap(q.items) > outQueueKeep {
			q.items = nil
		} else {
			q.items = q.items[:0]
		}
	}
	return m
}

// len is the number of messages queued.
func (q *outQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}
