package sfu

import (
	"math/rand/v2"
	"testing"
	"time"
)

// libwebrtcFeedback models the periodic transport-cc feedback of libwebrtc's receiver,
// which Chromium and Firefox both run (modules/remote_bitrate_estimator/
// remote_estimator_proxy.cc, IncomingPacket and SendPeriodicFeedbacks): a packet that
// arrives under a transport-wide number below the window's start, received before or
// not, moves the start back to it; each feedback reports from the start to the newest
// number received, and the start then follows it. The receiver keeps what arrived in
// the last kBackWindow (500 ms), so the start goes back no further than that.
type libwebrtcFeedback struct {
	start, end int64 // the window's start; one past the newest number received
	has        bool
}

func (f *libwebrtcFeedback) arrive(seq, oldestKept int64) {
	if !f.has || seq < f.start {
		f.start, f.has = max(seq, oldestKept), true
	}
	f.end = max(f.end, seq+1)
}

// report is the statuses of the next feedback, 0 when there is none.
func (f *libwebrtcFeedback) report() int {
	if !f.has || f.start >= f.end {
		return 0
	}
	n := int(f.end - f.start)
	f.start = f.end
	return n
}

// TestHonestFeedbackIsServed: an honest browser's feedback fits its connection's budget
// on a lossy link. Every retransmission goes under the transport-wide number its packet
// first went with (sentlog.go), which the browser's receiver takes as a late packet and
// reports again from; at 2% loss and a 300 ms round trip that is some six statuses a
// packet received, nine at 5% and 400 ms, where a budget that counts a status as much as
// a NACKed number refused whole datagrams of feedback, and the NACKs and keyframe
// requests with them, on a link that needs them most. The model: packets sent evenly,
// each lost at random, a lost one NACKed at once and sent again a round trip later
// (lost again at the same rate, and then NACKed again), feedback every interval; the
// engine's clock is the model's.
func TestHonestFeedbackIsServed(t *testing.T) {
	for _, c := range []struct {
		pps      int // packets a second the subscriber is sent
		loss     float64
		rtt      time.Duration
		interval time.Duration // libwebrtc: 50 to 250 ms, by the send rate
	}{
		{2000, 0, 50 * time.Millisecond, 50 * time.Millisecond},
		{2000, 0.02, 300 * time.Millisecond, 50 * time.Millisecond},
		{2500, 0.03, 300 * time.Millisecond, 50 * time.Millisecond},
		{3000, 0.02, 300 * time.Millisecond, 50 * time.Millisecond},
		{2000, 0.05, 400 * time.Millisecond, 50 * time.Millisecond},
		{3500, 0.05, 400 * time.Millisecond, 100 * time.Millisecond},
	} {
		rng := rand.New(rand.NewPCG(1, 2))
		var budget feedbackBudget
		t0 := time.Unix(1_000_000, 0)
		step := time.Second / time.Duration(c.pps)
		backWindow := int64((500*time.Millisecond + c.interval) / step)
		type resend struct {
			at  time.Duration
			seq int64
		}
		var resends []resend
		var fb libwebrtcFeedback
		var seq int64
		var statuses, datagrams, refused int
		take := func(now time.Duration, n int) {
			datagrams++
			if !budget.take(t0.Add(now), n) {
				refused++
			}
		}
		next := c.interval
		const span = 20 * time.Second
		for now := time.Duration(0); now < span; now += step {
			oldest := seq - backWindow
			if rng.Float64() < c.loss {
				take(now, feedbackWork(0, 1)) // NACKed when the next packet shows the gap
				resends = append(resends, resend{now + c.rtt, seq})
			} else {
				fb.arrive(seq, oldest)
			}
			seq++
			for len(resends) > 0 && resends[0].at <= now {
				r := resends[0]
				resends = resends[1:]
				if rng.Float64() < c.loss {
					take(now, feedbackWork(0, 1)) // asked again
					resends = append(resends, resend{now + c.rtt, r.seq})
				} else {
					fb.arrive(r.seq, oldest)
				}
			}
			for ; now >= next; next += c.interval {
				if n := fb.report(); n > 0 {
					statuses += n
					take(now, feedbackWork(n, 0))
				}
			}
		}
		t.Logf("%d packets/s, %.0f%% loss, %v round trip, feedback every %v: %.1f statuses a packet, %.0f a second",
			c.pps, 100*c.loss, c.rtt, c.interval, float64(statuses)/float64(seq), float64(statuses)/span.Seconds())
		if refused > 0 {
			t.Errorf("%d packets/s, %.0f%% loss, %v round trip: %d of %d datagrams of an honest browser's feedback refused",
				c.pps, 100*c.loss, c.rtt, refused, datagrams)
		}
	}
}
