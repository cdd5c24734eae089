// Package fakeclock is a manual clock for tests: time moves only when the test calls
// Advance, and timers fire then, in deadline order. It fits signaling.Clock (and any
// interface with the same two methods).
package fakeclock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock is a fake clock. The zero value is not usable; call New.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
	added  chan struct{} // closed and replaced whenever a timer is added
	// running counts the fired timers' functions that have not returned (Settle);
	// settled is closed and replaced whenever it comes to zero.
	running int
	settled chan struct{}
}

type timer struct {
	at      time.Time
	f       func()
	stopped bool
}

// New makes a clock reading start.
func New(start time.Time) *Clock {
	return &Clock{now: start, added: make(chan struct{}), settled: make(chan struct{})}
}

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc calls f (in its own goroutine) once the clock has been advanced by d.
func (c *Clock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	t := &timer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	close(c.added)
	c.added = make(chan struct{})
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.timers {
			if x == t {
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
				t.stopped = true
				return true
			}
		}
		return false
	}
}

// Advance moves the clock forward by d and fires every timer due by then, in order.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	var due []*timer
	keep := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(now) {
			due = append(due, t)
		} else {
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.running += len(due)
	c.mu.Unlock()
	for _, t := range due {
		go func() {
			defer c.done()
			t.f()
		}()
	}
}

// Jump steps the clock's readings by d (back, for a negative d) and fires nothing, as
// NTP setting a drifted clock or a virtual machine resumed steps the system's wall
// clock: the system's timers run on its monotonic clock, which does not step, and so
// here every pending timer keeps the time it had left. A real reading carries that
// monotonic clock too, which Sub between two real readings uses; a fake one does not,
// so across a Jump a Sub of two readings steps as the wall clock's numbers (Unix,
// UnixNano) of real readings do. A test of a step holds code whose measure of a while
// is its timers, and no reading of the clock, to that while.
func (c *Clock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		t.at = t.at.Add(d)
	}
}

func (c *Clock) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running--; c.running == 0 {
		close(c.settled)
		c.settled = make(chan struct{})
	}
}

// Settle blocks until every timer function that Advance has fired so far has returned
// (or ctx ends), so that a test can judge what a timer did, or did not do, once the
// clock has passed its time, with no wait on the system's clock.
func (c *Clock) Settle(ctx context.Context) error {
	for {
		c.mu.Lock()
		running, settled := c.running, c.settled
		c.mu.Unlock()
		if running == 0 {
			return nil
		}
		select {
		case <-settled:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Pending is the number of timers not yet fired or stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitForTimers blocks until at least n timers are pending or ctx ends, so a test can
// advance time only once the code under test has armed its timers.
func (c *Clock) WaitForTimers(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		pending, added := len(c.timers), c.added
		c.mu.Unlock()
		if pending >= n {
			return nil
		}
		select {
		case <-added:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
