package sfu

import (
	"context"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
)

// TestDTLSPeerStopsItsWaitBeforeItsReads: the wait of stopAfter is stopped by stop,
// once, before the reads end (done), so that whoever sees them ended knows no wait is
// left; a peer stopped before its wait is armed stops the wait as it is armed; a wait
// that runs out stops the peer. No wait is left on the clock in any of them.
func TestDTLSPeerStopsItsWaitBeforeItsReads(t *testing.T) {
	for _, tc := range []struct {
		name         string
		stopFirst    bool // stop before stopAfter (a close racing the handshake's end)
		runOut       bool // the clock passes dtlsLinger instead of a stop
		doneOKAtStop bool
	}{
		{name: "stopped sooner"},
		{name: "stopped before the wait is armed", stopFirst: true, doneOKAtStop: true},
		{name: "the wait runs out", runOut: true, doneOKAtStop: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := fakeclock.New(time.Unix(0, 0))
			p := newDTLSPeer(nil, func([]byte) error { return nil })
			var stops int
			var doneAtStop bool
			arm := func(d time.Duration, f func()) func() bool {
				stop := clock.AfterFunc(d, f)
				return func() bool {
					stops++
					select {
					case <-p.done:
						doneAtStop = true
					default:
					}
					return stop()
				}
			}
			if tc.stopFirst {
				p.stop()
			}
			p.stopAfter(dtlsLinger, arm)
			switch {
			case tc.runOut:
				clock.Advance(dtlsLinger)
				ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
				defer cancel()
				if err := clock.Settle(ctx); err != nil {
					t.Fatal(err)
				}
			case !tc.stopFirst:
				p.stop()
			}
			select {
			case <-p.done:
			default:
				t.Fatal("the peer reads on")
			}
			if n := clock.Pending(); n != 0 {
				t.Fatalf("%d waits left on the clock", n)
			}
			if !tc.runOut && stops != 1 {
				t.Fatalf("the wait stopped %d times, want once", stops)
			}
			if doneAtStop && !tc.doneOKAtStop {
				t.Fatal("the reads ended before their wait was stopped")
			}
		})
	}
}
