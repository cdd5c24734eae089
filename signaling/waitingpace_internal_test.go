package signaling

import (
	"bytes"
	"testing"
	"time"

	"conclave/internal/fakeclock"
)

// pacedSession is a session with no connection on clock, whose queued messages the
// test takes itself (nothing writes them).
func pacedSession(clock *fakeclock.Clock) *Session {
	return newSession(&Server{log: testDiscard(), clock: clock}, nil, "127.0.0.1", 1)
}

// nextList returns the waiting list queued for s, nil if none is; within a minute of
// real time when wait is set (a timer's function runs in a goroutine of its own).
func nextList(t *testing.T, s *Session, wait bool) []byte {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if m := s.queue.pop(); m != nil {
			if m.snapshot != snapshotWaitingList {
				t.Fatalf("queued %.40q, not a waiting list", m.data)
			}
			return m.data
		}
		if !wait || time.Now().After(deadline) {
			return nil
		}
	}
}

// TestSmallerWaitingListIsNotHeldBehindALargerOne: once the budget is spent, a list of
// 64 KiB is held (half a second); the room shrinks and its list of 1 KiB takes its
// place: it goes when the budget holds 1 KiB (8 ms), not when it would have held 64 KiB.
// Then, with a list of 64 KiB held again, one the budget holds at once goes at once,
// and the larger one held before it never does. Before, a list held kept the timer set
// for the largest list before it, and a list the budget held waited behind it.
func TestSmallerWaitingListIsNotHeldBehindALargerOne(t *testing.T) {
	clock := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s := pacedSession(clock)
	list := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

	s.sendWaitingList(list(waitingListBurst, 'a'))
	if got := nextList(t, s, false); len(got) != waitingListBurst {
		t.Fatalf("the first list, the whole budget, was not sent at once: %d bytes", len(got))
	}
	s.sendWaitingList(list(64<<10, 'b'))
	s.sendWaitingList(list(1<<10, 'c'))
	if got := nextList(t, s, false); got != nil {
		t.Fatalf("a list was sent with the budget spent: %.8q…", got)
	}
	clock.Advance(10 * time.Millisecond) // 1.25 KiB of budget
	if got := nextList(t, s, true); !bytes.Equal(got, list(1<<10, 'c')) {
		t.Fatalf("10 ms later the room's list of 1 KiB is still held behind one of 64 KiB it replaced (got %d bytes)", len(got))
	}
	if n := clock.Pending(); n != 0 {
		t.Fatalf("%d timers still armed with nothing held", n)
	}

	s.sendWaitingList(list(64<<10, 'd'))
	s.sendWaitingList(list(200, 'e')) // some 280 bytes of budget are left
	if got := nextList(t, s, false); !bytes.Equal(got, list(200, 'e')) {
		t.Fatalf("a list the budget holds waits behind the larger one held before it (got %d bytes)", len(got))
	}
	if n := clock.Pending(); n != 0 {
		t.Fatalf("%d timers armed for the older list it replaced", n)
	}
	clock.Advance(10 * time.Second)
	if got := nextList(t, s, false); got != nil {
		t.Fatalf("the older list came after the newer one: %d bytes", len(got))
	}
}
