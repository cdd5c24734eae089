package turn

import (
	"net"
	"sync"
	"testing"
	"time"
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
