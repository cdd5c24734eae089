package turn

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
)

// heldTimers is a Config.AfterFunc whose timers fire only when the test says, and whose
// functions run only when the test runs them: between the two, as with time.AfterFunc
// once a timer's goroutine has started, its stop reports false.
type heldTimers struct {
	mu     sync.Mutex
	timers []*heldTimer
}

type heldTimer struct {
	f                func()
	started, stopped bool
}

func (h *heldTimers) afterFunc(_ time.Duration, f func()) func() bool {
	tm := &heldTimer{f: f}
	h.mu.Lock()
	h.timers = append(h.timers, tm)
	h.mu.Unlock()
	return func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		if tm.started || tm.stopped {
			return false
		}
		tm.stopped = true
		return true
	}
}

// start fires the i-th timer armed (from 0) and returns its function, for the test to
// run when it chooses.
func (h *heldTimers) start(t *testing.T, i int) func() {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if i >= len(h.timers) {
		t.Fatalf("timer %d started, but %d armed", i, len(h.timers))
	}
	tm := h.timers[i]
	if tm.stopped {
		t.Fatalf("timer %d started after it was stopped", i)
	}
	tm.started = true
	return tm.f
}

func (h *heldTimers) armed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.timers)
}

// TestLateWaitLeavesTheNextWaitsConnection: a TCP connection's wait for an allocation
// whose timer fired as its client allocated again (its function started, so its stop
// reported false) runs late, after that allocation has ended too and the next wait has
// begun. It must leave the connection to the next wait, not close it then. Through
// the real TCP listener with pion/turn's client; the timers are held (heldTimers), so
// the order is the test's.
func TestLateWaitLeavesTheNextWaitsConnection(t *testing.T) {
	held := &heldTimers{}
	r := newReallocRig(t, "tcp", func(c *Config) { c.AfterFunc = held.afterFunc })
	streams := r.f.srv.streams
	registered := func() bool {
		streams.mu.Lock()
		defer streams.mu.Unlock()
		return streams.lookupLocked(r.src, r.dst) != nil
	}

	// The wait armed at accept, stopped by the allocation; the one armed at its end.
	r.endAllocationOnServer(t)
	if n := held.armed(); n != 2 {
		t.Fatalf("%d waits armed once the first allocation ended, want 2", n)
	}
	late := held.start(t, 1)

	old := r.relayed.LocalAddr().(*net.UDPAddr)
	hold, err := net.ListenUDP("udp4", old) // a new relay at another port
	if err != nil {
		t.Fatalf("holding the old relay's port: %v", err)
	}
	t.Cleanup(func() { _ = hold.Close() })
	relayed, err := r.client.Allocate()
	if err != nil {
		t.Fatalf("allocating again on the connection: %v", err)
	}
	t.Cleanup(func() { _ = relayed.Close() })
	relay := r.f.relayAt(relayed.LocalAddr())
	if relay == nil {
		t.Fatalf("no relay at %v", relayed.LocalAddr())
	}
	if err := relay.Close(); err != nil {
		t.Fatal(err)
	}
	if n := held.armed(); n != 3 {
		t.Fatalf("%d waits armed once the second allocation ended, want 3", n)
	}

	late()
	if !registered() {
		t.Fatal("the late wait closed the connection as the next wait began")
	}
	if _, err := r.client.SendBindingRequest(); err != nil {
		t.Fatalf("the connection after the late wait: %v", err)
	}
	held.start(t, 2)()
	if registered() {
		t.Fatal("the connection was not closed at the end of its running wait")
	}
}

// TestConnectionOfANewAllocationIsNotClosed: a TCP connection whose allocation ends on
// pion/turn's timer as its client allocates again on it may have the new allocation
// reported created before the old one ends (pion/turn reports both after it lets go of
// its allocations' lock, on the timer's goroutine and the connection's reader). The
// connection then holds an allocation and must not be closed after allocWait as one
// that holds none; once the new allocation's relay is shut too, it is. The test reports
// the new allocation's creation itself, with a relay of its own, before the old one's
// real end (the order cannot be forced from outside).
func TestConnectionOfANewAllocationIsNotClosed(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	r := newReallocRig(t, "tcp", func(c *Config) { c.AfterFunc = clock.AfterFunc })
	d := r.f.srv.direct
	registered := func() bool {
		d.streams.mu.Lock()
		defer d.streams.mu.Unlock()
		return d.streams.lookupLocked(r.src, r.dst) != nil
	}

	newRelay := &restrictedConn{}
	d.streams.allocationCreated(r.src, r.dst, newRelay)
	r.endAllocation(t)
	if n := clock.Pending(); n != 0 {
		t.Fatalf("the connection waits to be closed (%d timers) while it holds the new allocation", n)
	}
	clock.Advance(allocWait)
	r.settle(t)
	if !registered() {
		t.Fatal("the connection was closed while it held the new allocation")
	}

	newRelay.shut()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := clock.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(allocWait)
	conntest.Eventually(t, "the connection closed after its last allocation ended", func() bool { return !registered() })
}

// TestConnectionOfAnAllocationReportedDeletedFirstIsClosed: when a TCP connection's
// allocation ends and its client allocates again at once, the old allocation's reader
// deletes whatever pion/turn holds at the connection's five-tuple as its relay closes
// (Allocation.packetConnHandler), which may be the new allocation, put in pion/turn's
// table and not yet reported created: its relay is closed, and its deletion reported,
// before its creation is reported. The connection holds nothing after both, and must be
// closed after allocWait as one that holds none, not kept for good. The test reports
// the new allocation's deletion and creation itself, with a relay already shut, after
// the old one's real end (the order cannot be forced from outside).
func TestConnectionOfAnAllocationReportedDeletedFirstIsClosed(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	r := newReallocRig(t, "tcp", func(c *Config) { c.AfterFunc = clock.AfterFunc })
	d := r.f.srv.direct

	r.endAllocation(t)
	newRelay := &restrictedConn{}
	newRelay.shut()
	r.f.srv.allocationDeleted(r.src, r.dst, r.proto, r.user, "")
	d.streams.allocationCreated(r.src, r.dst, newRelay)
	if n := clock.Pending(); n != 1 {
		t.Fatalf("the connection waits to be closed with %d timers after its allocations ended, want 1", n)
	}
	clock.Advance(allocWait)
	conntest.Eventually(t, "the connection closed after its allocations ended", func() bool {
		d.streams.mu.Lock()
		defer d.streams.mu.Unlock()
		return d.streams.lookupLocked(r.src, r.dst) == nil
	})
}
