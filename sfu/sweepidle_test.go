package sfu

import (
	"context"
	"testing"
	"time"

	"conclave/internal/conntest"
)

// sweepArmed reports whether a consent sweep is to come (or has fired and not yet run).
func (e *Engine) sweepArmed() bool {
	e.sweepMu.Lock()
	defer e.sweepMu.Unlock()
	return e.sweepStop != nil
}

// TestConsentSweepOnlyWhileThereAreAgents: the engine's consent sweep, twice a
// second since the server asks overdue paths on its own clock (liteconsent.go), runs
// only while the engine has a subscribe connection of its own: an engine nobody is
// in has no timer at all, and is not woken. The sweep starts with the first
// connection's credentials, stops at the first sweep after the last one's are gone,
// and starts again with the next.
func TestConsentSweepOnlyWhileThereAreAgents(t *testing.T) {
	clock, eng, room := newClockedRoom(t, true, withOwnSubscribe)
	if !eng.own {
		t.Skip("the media socket cannot be served by the engine's own reader here")
	}
	if n := clock.Pending(); n != 0 {
		t.Fatalf("%d timers pending on an engine nobody is in", n)
	}
	for round := range 2 {
		p, err := room.Join("sub")
		if err != nil {
			t.Fatal(err)
		}
		p.RestartSubscribeICE() // an offer, with credentials of the engine's (nothing is published)
		if o, err := p.NextSubscribeOffer(context.Background()); err != nil || o == nil {
			t.Fatalf("no subscribe offer (%v)", err)
		}
		for i := range 4 {
			if n := clock.Pending(); n != 1 {
				t.Fatalf("round %d, sweep %d: %d timers pending with a subscribe connection, want the sweep's", round, i, n)
			}
			clock.Advance(eng.consentSweep())
			conntest.Eventually(t, "the sweep to come again", func() bool { return clock.Pending() == 1 })
		}
		p.Close()
		clock.Advance(eng.consentSweep())
		// The sweep that fired has run once it stopped, or once it came again.
		conntest.Eventually(t, "the sweep after the last connection", func() bool { return !eng.sweepArmed() || clock.Pending() > 0 })
		for range 10 {
			clock.Advance(time.Second)
		}
		if n := clock.Pending(); n != 0 {
			t.Fatalf("round %d: %d timers pending with no subscribe connection left: the sweep goes on", round, n)
		}
	}
}
