package secret

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestSiteBudget: an IPv6 customer with a /48 does not get 65,536 budgets. One wrong
// guess from each of its /64s (none of them delayed on its own) runs into the /48's
// budget: SiteFactor times a group's (63 free, then waits, a lockout after 320), after
// which a fresh /64 of the same /48 waits too, even with the right secret, and another
// /48 does not. A right guess forgives the site its failures at that secret.
func TestSiteBudget(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	n := 0
	wrong := func() *Refused {
		n++
		return guess(t, a, fmt.Sprintf("2001:db8:7:%x::1", n), "m", false)
	}
	for i := 1; i <= FreeFailures*SiteFactor; i++ {
		if r := wrong(); r != nil {
			t.Fatalf("free failure %d of the site refused: %+v", i, r)
		}
	}
	// The site's failures count SiteFactor times less: its first wait comes with its
	// (FreeFailures+1)·SiteFactor-th failure.
	for i := 0; i < SiteFactor-1; i++ {
		if r := wrong(); r != nil {
			t.Fatalf("failure %d refused: %+v", FreeFailures*SiteFactor+i+1, r)
		}
	}
	if r := wrong(); r != nil {
		t.Fatalf("the failure that starts the wait refused: %+v", r)
	}
	if r := guess(t, a, "2001:db8:7:ffff::1", "m", true); r == nil || r.RetryAfter != BaseDelay || r.LockedOut {
		t.Fatalf("a fresh /64 of the site after %d failures: %+v", n, r)
	}
	if r := guess(t, a, "2001:db8:8::1", "m", true); r != nil {
		t.Fatalf("another /48 throttled: %+v", r)
	}
	// On to the lockout, waiting out each wait.
	for i := 0; i < 10*LockoutAfter*SiteFactor; i++ {
		r := wrong()
		if r != nil && r.LockedOut {
			break
		}
		if r != nil {
			c.add(r.RetryAfter)
		}
	}
	if r := guess(t, a, "2001:db8:7:fffe::1", "other", true); r == nil || !r.LockedOut || r.RetryAfter != LockoutFor {
		t.Fatalf("the site after %d wrong guesses: %+v", n, r)
	}
	c.add(LockoutFor)
	if r := guess(t, a, "2001:db8:7:fffe::1", "m", true); r != nil {
		t.Fatalf("the right secret after the lockout: %+v", r)
	}
	if r := guess(t, a, "2001:db8:7:fffd::1", "m", false); r != nil {
		t.Fatalf("the site's failures at m were not forgiven by the right secret: %+v", r)
	}
}

// TestSiteChecksAtMostSiteFactorAtOnce: guesses from many /64s of one /48 do not run
// ahead of the verdicts: SiteFactor of them are checked at once, the next waits for a
// slot (and gives up with its context), another /48 does not.
func TestSiteChecksAtMostSiteFactorAtOnce(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	ctx := context.Background()
	var held []*Turn
	for i := 0; i < SiteFactor; i++ {
		turn, err := a.Begin(ctx, fmt.Sprintf("2001:db8:9:%x::1", i), "m")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, turn)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if turn, err := a.Begin(gone, "2001:db8:9:ff::1", "m"); err == nil {
		turn.Release()
		t.Fatalf("a %d-th guess of the site was checked at once", SiteFactor+1)
	} else if !errors.Is(err, context.Canceled) {
		t.Fatalf("the waiting guess: %v", err)
	}
	if turn, err := a.Begin(ctx, "2001:db8:a::1", "m"); err != nil {
		t.Fatalf("another /48: %v", err)
	} else {
		turn.Succeeded()
	}
	held[0].Failed()
	turn, err := a.Begin(ctx, "2001:db8:9:ff::1", "other") // right at another secret: m's failure stays
	if err != nil {
		t.Fatalf("after a verdict: %v", err)
	}
	turn.Succeeded()
	for _, h := range held[1:] {
		h.Release()
	}
	a.Sweep()
	if got := a.Len(); got != 2 { // the one wrong guess: its /64 and its site
		t.Fatalf("%d records left, want the failed /64's and its site's", got)
	}
}
