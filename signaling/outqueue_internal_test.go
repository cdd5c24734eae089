package signaling

import (
	"fmt"
	"testing"
)

// TestOutQueue: messages come out in order across bursts, the queue refuses the one
// past sendQueueLen and changes nothing then, and a drained queue lets go of a burst's
// buffer.
func TestOutQueue(t *testing.T) {
	var q outQueue
	msg := func(i int) *outMsg { return &outMsg{data: []byte(fmt.Sprint(i))} }
	next, want := 0, 0
	expect := func(n int) {
		t.Helper()
		for range n {
			m := q.pop()
			if m == nil || string(m.data) != fmt.Sprint(want) {
				t.Fatalf("popped %v, want message %d", m, want)
			}
			want++
		}
	}
	for round, burst := range []int{3, sendQueueLen, 5, outQueueKeep + 1} {
		for range burst {
			if !q.push(msg(next)) {
				t.Fatalf("round %d: push %d refused", round, next)
			}
			next++
		}
		if burst == sendQueueLen {
			if q.push(msg(-1)) {
				t.Fatal("a message past sendQueueLen was queued")
			}
			expect(1)
			if !q.push(msg(next)) { // room again: it goes behind the others
				t.Fatal("push refused after a pop")
			}
			next++
			expect(burst)
		} else {
			expect(burst / 2)
			if !q.push(msg(next)) {
				t.Fatal("push refused")
			}
			next++
			expect(burst - burst/2 + 1)
		}
		if q.len() != 0 || q.pop() != nil {
			t.Fatalf("round %d: %d left", round, q.len())
		}
		if cap(q.items) > outQueueKeep {
			t.Fatalf("round %d: an empty queue keeps a buffer of %d", round, cap(q.items))
		}
	}
}
