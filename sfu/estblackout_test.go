package sfu

import (
	"testing"
	"time"
)

// TestEstimatorHoldsThroughLostFeedback: a subscriber all of whose RTCP is lost for
// 30 s (its transport-cc feedback among it, with its NACKs, PLIs and reports) is
// neither starved nor flooded by its estimate: the estimate stays where the last
// feedback left it, moved by no timer, and once the feedback comes again it is at
// once back in the range it keeps on that link, not started again from the bottom.
// The receiver's feedback of the blackout is lost, not sent again (a browser's and
// Pion's are not), so the first that arrives names only packets sent since the last
// one it built, half a minute of the receiver's reference time after the one before.
func TestEstimatorHoldsThroughLostFeedback(t *testing.T) {
	s := newEstSim(t, &estLink{rate: fixedRate(1_000_000), queueMax: 64_000})
	s.run(20*time.Second, sendEstimate(2_000_000), nil)
	had := s.e.target.Load()
	if had < 700_000 || had > 1_300_000 {
		t.Fatalf("estimate %d on a 1 Mbit/s link after 20 s", had)
	}
	s.deaf = true
	s.run(30*time.Second, sendEstimate(2_000_000), func() {
		if est := s.e.target.Load(); est != had {
			t.Fatalf("the estimate moved from %d to %d with no feedback, %v into the blackout", had, est, s.now)
		}
	})
	s.deaf = false
	// Settled on this link the estimate ranges about 0.79 … 1.37 Mbit/s (its cuts at
	// the queue and its growth between them).
	lo, hi := int64(1<<62), int64(0)
	s.run(10*time.Second, sendEstimate(2_000_000), func() {
		est := s.e.target.Load()
		lo, hi = min(lo, est), max(hi, est)
	})
	if lo < 600_000 || hi > 1_500_000 {
		t.Fatalf("after the feedback came back the estimate ranged %d … %d, from %d before", lo, hi, had)
	}
}
