package signaling

import (
	"sync"
	"testing"
	"time"
)

// gatedClock is a clock the test sets, whose next reading can be made to wait until
// the test lets it go: a timer's function that the scheduler set aside in the middle
// of its work while the test's clock moved on. Its timers never fire.
type gatedClock struct {
	mu      sync.Mutex
	now     time.Time
	gate    chan struct{} // the next reading waits for it to close; nil: none waits
	entered chan struct{} // closed when that reading has begun
}

func (c *gatedClock) Now() time.Time {
	c.mu.Lock()
	gate, entered := c.gate, c.entered
	c.gate = nil
	c.mu.Unlock()
	if gate != nil {
		close(entered)
		<-gate
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *gatedClock) AfterFunc(time.Duration, func()) func() bool {
	return func() bool { return true }
}

func (c *gatedClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// holdNextReading makes the next reading of the clock wait for release; entered is
// closed once it has begun.
func (c *gatedClock) holdNextReading() (entered chan struct{}, release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gate := make(chan struct{})
	c.gate, c.entered = gate, make(chan struct{})
	return c.entered, func() { close(gate) }
}

// TestPingTickCountsAPeerHeardWhileItRuns: a ping tick whose goroutine is held up
// while the clock takes two steps of 20 s, the peer heard before each, does not close
// the peer as silent. It read what was last heard before the clock, and judged the
// hearing before the hold-up against the time after it: 60 s, "no pong", where the
// peer had been heard 20 s before (TestReplacedKnocksKeptAreBounded failed so once on a
// loaded machine).
func TestPingTickCountsAPeerHeardWhileItRuns(t *testing.T) {
	s, _, _ := heldSession(t)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := &gatedClock{now: t0}
	s.srv.clock = clock
	s.heard()

	clock.set(t0.Add(pingInterval))
	entered, release := clock.holdNextReading()
	ticked := make(chan struct{})
	go func() {
		s.pingTick()
		close(ticked)
	}()
	<-entered
	clock.set(t0.Add(2 * pingInterval))
	s.heard()
	clock.set(t0.Add(3 * pingInterval))
	release()
	<-ticked
	if s.isClosing() {
		t.Fatalf("a peer heard %v before the tick read the clock was closed as silent", pingInterval)
	}
}
