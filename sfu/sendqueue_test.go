package sfu

import "testing"

// TestItemRingGrowsInOrderUpToItsLimit: the ring starts empty, grows while items wait
// (with the head anywhere in it), hands them out first in, first out, and refuses the
// item past its limit without losing any it holds.
func TestItemRingGrowsInOrderUpToItsLimit(t *testing.T) {
	const limit = 100
	r := newItemRing(limit)
	if len(r.buf) != 0 {
		t.Fatalf("a new ring holds %d slots, want none until it is used", len(r.buf))
	}
	pkts := make([]packet, 3*limit)
	next, want := 0, 0
	push := func(n int) {
		for range n {
			if !r.push(sendItem{p: &pkts[next]}) {
				t.Fatalf("push %d refused with %d of %d queued", next, r.n, limit)
			}
			next++
		}
	}
	pop := func(n int) {
		for range n {
			it, ok := r.pop()
			if !ok || it.p != &pkts[want] {
				t.Fatalf("pop %d: got %v, %v", want, it.p, ok)
			}
			want++
		}
	}
	push(10)
	pop(7) // the head moves into the ring before it grows
	push(40)
	if len(r.buf) < 43 {
		t.Fatalf("ring of %d slots holds %d items", len(r.buf), r.n)
	}
	pop(20)
	push(limit - r.n) // full
	if len(r.buf) != limit {
		t.Fatalf("full ring of %d slots, want its limit %d", len(r.buf), limit)
	}
	if r.push(sendItem{p: &pkts[next]}) {
		t.Fatal("a full ring took an item past its limit")
	}
	pop(limit)
	if _, ok := r.pop(); ok {
		t.Fatal("an emptied ring handed out an item")
	}
}

// videoLen is how many video packets wait. The tests look at the queue from outside
// the writer with it and pop; the engine itself only pops under the lock it holds
// already (popLocked).
func (q *sendQueue) videoLen() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.video.n
}

// pop takes the next packet in priority order.
func (q *sendQueue) pop() (sendItem, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, _, ok := q.popLocked()
	return it, ok
}
