package signaling

import (
	"fmt"
	"slices"
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

// TestOutQueueSnapshotReplaces: a snapshot (a waiting list) replaces the one of its
// kind still queued, in its place, however many come while the pump is behind; other
// messages keep their order and count against the bound as before; once the pump took
// the queued one, the next is queued anew.
func TestOutQueueSnapshotReplaces(t *testing.T) {
	var q outQueue
	q.push(&outMsg{data: []byte("a")})
	for i := range 1000 {
		if !q.push(&outMsg{data: []byte{'w', byte(i)}, snapshot: snapshotWaitingList}) {
			t.Fatalf("snapshot %d refused", i)
		}
	}
	q.push(&outMsg{data: []byte("b")})
	if n := q.len(); n != 3 {
		t.Fatalf("%d queued, want 3", n)
	}
	var got []string
	for m := q.pop(); m != nil; m = q.pop() {
		got = append(got, string(m.data))
	}
	if want := []string{"a", string([]byte{'w', byte(999 % 256)}), "b"}; !slices.Equal(got, want) {
		t.Fatalf("popped %q, want %q", got, want)
	}
	q.push(&outMsg{data: []byte("x"), snapshot: snapshotWaitingList})
	q.push(&outMsg{data: []byte("y"), snapshot: snapshotWaitingList})
	if m := q.pop(); m == nil || string(m.data) != "y" || q.len() != 0 {
		t.Fatalf("after the pump took one: %v, %d left", m, q.len())
	}
}

// TestOutQueueDropsSpareWhenHalfFull: relayed key messages (spare) are queued while
// fewer than half the queue's room is taken, then dropped without refusing the peer;
// other messages still fill the queue to its end.
func TestOutQueueDropsSpareWhenHalfFull(t *testing.T) {
	var q outQueue
	for i := range sendQueueLen {
		if !q.push(&outMsg{data: []byte(fmt.Sprint(i)), spare: true}) {
			t.Fatalf("spare message %d refused: the peer would be cut", i)
		}
	}
	if n := len(q.items) - q.head; n != sendQueueLen/2 {
		t.Fatalf("%d spare messages queued, want %d", n, sendQueueLen/2)
	}
	for i := range sendQueueLen / 2 {
		if !q.push(&outMsg{data: []byte("other")}) {
			t.Fatalf("message %d after the spare ones refused", i)
		}
	}
	if q.push(&outMsg{data: []byte("one too many")}) {
		t.Fatal("a message past sendQueueLen was queued")
	}
}
