package secret

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source for Attempts.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// guess makes one guess from addr at scope; it reports the refusal, if any.
func guess(t *testing.T, a *Attempts, addr, scope string, right bool) *Refused {
	t.Helper()
	turn, err := a.Begin(context.Background(), addr, scope)
	if err != nil {
		var r *Refused
		if !errors.As(err, &r) {
			t.Fatalf("Begin: %v", err)
		}
		return r
	}
	if right {
		turn.Succeeded()
	} else {
		turn.Failed()
	}
	return nil
}

func TestAttemptsSchedule(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	for i := 1; i <= FreeFailures; i++ {
		if r := guess(t, a, "192.0.2.1", "m", false); r != nil {
			t.Fatalf("free attempt %d refused", i)
		}
	}
	var last, total time.Duration
	for i := FreeFailures + 1; i < LockoutAfter; i++ {
		if r := guess(t, a, "192.0.2.1", "m", false); r != nil {
			t.Fatalf("attempt %d refused after waiting: %+v", i, r)
		}
		r := guess(t, a, "192.0.2.1", "m", true) // even the right one waits
		if r == nil || r.LockedOut || r.RetryAfter < last || r.RetryAfter > MaxDelay {
			t.Fatalf("after failure %d: %+v (previous delay %v)", i, r, last)
		}
		last = r.RetryAfter
		total += r.RetryAfter
		// Other addresses, even in the same meeting, are not delayed.
		if r := guess(t, a, "192.0.2.2", "m", true); r != nil {
			t.Fatalf("another address throttled by the first one's failures: %+v", r)
		}
		c.add(r.RetryAfter)
	}
	if total != 331500*time.Millisecond {
		t.Fatalf("the first %d guesses take %v of waits; the documented figure is 331.5 s", LockoutAfter, total)
	}
	if r := guess(t, a, "192.0.2.1", "m", false); r != nil {
		t.Fatal("attempt 20 refused")
	}
	// Locked out: everywhere, not only in that meeting, and with any secret.
	for _, scope := range []string{"m", "other-meeting", "host-key"} {
		if r := guess(t, a, "192.0.2.1", scope, true); r == nil || !r.LockedOut || r.RetryAfter != LockoutFor {
			t.Fatalf("after %d failures, at %s: %+v", LockoutAfter, scope, r)
		}
	}
	c.add(LockoutFor)
	if r := guess(t, a, "192.0.2.1", "m", false); r != nil {
		t.Fatal("still locked out after the lockout")
	}
	if r := guess(t, a, "192.0.2.1", "m", true); r == nil || !r.LockedOut {
		t.Fatalf("a wrong guess after a lockout does not lock out again: %+v", r)
	}
	c.add(LockoutFor)
	if r := guess(t, a, "192.0.2.1", "m", true); r != nil {
		t.Fatalf("right secret after the lockout: %+v", r)
	}
	// The right secret forgave everything done against m.
	for i := 0; i < FreeFailures; i++ {
		if r := guess(t, a, "192.0.2.1", "m", false); r != nil {
			t.Fatalf("failures not forgiven: %+v", r)
		}
	}
}

// TestAttemptsOneBudget: one address spreading its guesses over many meetings runs into
// one budget, and knowing another meeting's password does not refill it.
func TestAttemptsOneBudget(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	for i := 0; i <= FreeFailures; i++ {
		if r := guess(t, a, "192.0.2.9", fmt.Sprintf("meeting-%d", i), false); r != nil {
			t.Fatalf("guess %d refused: %+v", i, r)
		}
	}
	if r := guess(t, a, "192.0.2.9", "own-meeting", true); r == nil {
		t.Fatal("a fifth meeting gave a fresh budget")
	}
	c.add(BaseDelay)
	if r := guess(t, a, "192.0.2.9", "own-meeting", true); r != nil {
		t.Fatalf("right password refused after the wait: %+v", r)
	}
	if r := guess(t, a, "192.0.2.9", "meeting-9", false); r != nil {
		t.Fatal(r)
	}
	if r := guess(t, a, "192.0.2.9", "meeting-10", false); r == nil || r.RetryAfter != 2*BaseDelay {
		t.Fatalf("a right password elsewhere forgave the failures: %+v", r)
	}
	// The /64 is one address; the next /64 another.
	for i := 0; i <= FreeFailures; i++ {
		_ = guess(t, a, fmt.Sprintf("2001:db8:0:1::%x", i+1), "m", false)
	}
	if r := guess(t, a, "2001:db8:0:1:ffff::1", "m", true); r == nil {
		t.Fatal("another address of the same /64 is not throttled")
	}
	if r := guess(t, a, "2001:db8:0:2::1", "m", true); r != nil {
		t.Fatalf("the neighbouring /64 is throttled: %+v", r)
	}
}

// TestAttemptsSerialized: concurrent guesses from one address are checked one at a time,
// in arrival order, each after the previous verdict; a full line is refused.
func TestAttemptsSerialized(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	first, err := a.Begin(context.Background(), "192.0.2.5", "m")
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, MaxQueued+1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < MaxQueued+1; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			turn, err := a.Begin(ctx, "192.0.2.5", "m")
			if err == nil {
				turn.Failed()
			}
			results <- err
		}()
	}
	// One of them found the line full.
	var r *Refused
	if err := <-results; !errors.As(err, &r) || r.RetryAfter <= 0 {
		t.Fatalf("line of %d: %v", MaxQueued+1, err)
	}
	// Another address is not held up.
	if rr := guess(t, a, "192.0.2.6", "m", true); rr != nil {
		t.Fatal(rr)
	}
	first.Failed()
	wg.Wait()
	close(results)
	ok, refused := 0, 0
	for err := range results {
		if err == nil {
			ok++
		} else if errors.As(err, &r) {
			refused++
		}
	}
	// With no time passing: the free failures, then one more that sets a wait.
	if ok != FreeFailures || refused != MaxQueued-FreeFailures {
		t.Fatalf("%d checked, %d refused; want %d checked", ok+1, refused, FreeFailures+1)
	}
	// A guess whose connection ends while it waits leaves the line.
	hold, err := a.Begin(context.Background(), "192.0.2.7", "m")
	if err != nil {
		t.Fatal(err)
	}
	gone, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := a.Begin(gone, "192.0.2.7", "m"); done <- err }()
	for {
		a.mu.Lock()
		n := len(a.records[AddrGroup("192.0.2.7")].queue)
		a.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned wait: %v", err)
	}
	hold.Succeeded()
	hold.Failed() // a second verdict is ignored
	if rr := guess(t, a, "192.0.2.7", "m", true); rr != nil {
		t.Fatalf("the turn was not passed on: %+v", rr)
	}
}
