package sfu

import (
	"fmt"
	"testing"
	"time"

	"conclave/internal/conntest"
)

// The tests in this file run the real engine on Pion's virtual network with a
// publisher that sends a camera in three layers at realistic rates (VP8-shaped frames
// of several packets, a keyframe every three seconds and on request) and Opus-shaped
// audio, to subscribers like browsers (they acknowledge transport-wide sequence
// numbers), one of them behind a token-bucket link. Bandwidth estimation runs on real
// time (GCC and vnet's queue know no other clock): each condition is waited for with a
// generous deadline (conntest.Wait: a climb may wait out the longest back-off, 80 s, of
// probes the cap made fail), and nothing is judged by how long it took.

// bweTimes is how long settling and climbing took, for the benchmark.
type bweTimes struct{ settle, climb time.Duration }

// runBandwidthScenario is the scenario of TestSubscriberBandwidth and its benchmark.
func runBandwidthScenario(t testing.TB) bweTimes {
	r := newVnetRig(t)
	start := time.Now()
	const n = 40 // video packets: more than a second of q
	conntest.Eventually(t, "the capped subscriber on q", func() bool { return r.capped.onLayer(0, n) })
	conntest.Eventually(t, "the free subscriber on f", func() bool { return r.free.onLayer(2, 3*n) })
	var times bweTimes
	times.settle = time.Since(start)

	// Settled: over the next 100 frames (four seconds) of the publisher's, the server
	// sends the capped subscriber no more than its link carries. What it sent is judged
	// against an ideal link of the cap (vnetlink_test.go), not by what vnet's goroutines
	// delivered on a busy machine. A stretch in which the server climbed is not judged
	// but waited out: a climb is a probe the allocation makes when the estimate and the
	// layers' measured rates say it fits (alloc.go), and on a busy machine the rates it
	// measures of the test's publisher fall behind, so a climb the link cannot carry may
	// come at any time; it ends when the estimate falls, and the gate then holds the
	// next one back.
	deadline := time.Now().Add(conntest.Wait)
	for {
		from := r.capped.videoCount()
		until := r.pub.lastFrame() + 100*maxLayers
		conntest.Eventually(t, "100 more frames", func() bool { return r.pub.lastFrame() >= until })
		ssrc, first, last, onQ := r.capped.stretch(from, 0)
		if onQ {
			dropped, sent := r.link.overrun(r.log.snapshot(), ssrc, first, last)
			if dropped*50 >= sent {
				lost, expected := r.capped.videoLoss(from)
				t.Errorf("once settled the capped subscriber was sent more than its link carries: a %d bit/s link would have dropped %d of %d video packets, want < 2 %% (%d of %d lost)",
					r.link.rate, dropped, sent, lost, expected)
			}
			t.Logf("settled: the link would have dropped %d of %d video packets; estimate %d bit/s", dropped, sent, r.capped.p.bw.budget.Load())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the capped subscriber never stayed on q for 100 frames in %v", conntest.Wait)
		}
		conntest.Eventually(t, "the capped subscriber on q again after a climb", func() bool { return r.capped.onLayer(0, n) })
	}
	// What the capped member's client is told (signaling sends it as "downlink").
	reduced := Downlink{Limited: true, Tracks: []DownlinkTrack{{ParticipantID: "pub", Source: SourceCamera, State: DownlinkReduced}}}
	conntest.Eventually(t, "the capped subscriber's downlink state: camera reduced", func() bool {
		select {
		case <-r.capped.p.DownlinkChanged():
		default:
		}
		return r.capped.p.Downlink().equal(reduced)
	})
	// The uncapped one may be counted too on a machine so busy that its estimate fell.
	if n := r.eng.Stats().SubscribersLimited; n < 1 || !r.capped.p.BandwidthLimited() {
		t.Errorf("%d subscribers counted as limited, the capped one %v; want it among them", n, r.capped.p.BandwidthLimited())
	}

	lifted := time.Now() // before the link's: a packet between is judged at the lifted rate
	r.link.liftedAt, r.link.lifted = lifted, vnetLifted
	r.tbf.SetRate(vnetLifted)
	conntest.Eventually(t, "the capped subscriber climbing to f once the cap is lifted", func() bool { return r.capped.onLayer(2, 3*n) })
	times.climb = time.Since(lifted)
	conntest.Eventually(t, "the capped subscriber's downlink state: nothing limited", func() bool {
		d := r.capped.p.Downlink()
		return !d.Limited && len(d.Tracks) == 0 && !r.capped.p.BandwidthLimited()
	})

	// Audio throughout, judged as the video: what the server offered each link against
	// an ideal one (the capped link's rate lifted when vnet's was), not what vnet's
	// goroutines delivered. Up to what the publisher has sent by now, once the server
	// offered each link as far: judged only up to the last packet offered, a link
	// whose audio the server stopped for good had nothing missing.
	sent := r.pub.lastAudio()
	for i, s := range []*vnetSubscriber{r.capped, r.free} {
		link := []idealLink{r.link, {}}[i] // the free one's has no limit
		s.mu.Lock()
		ssrc := s.assrc
		s.mu.Unlock()
		conntest.Eventually(t, fmt.Sprintf("the server offering %s the audio sent until now (%d)", s.p.ID(), sent), func() bool {
			return r.logs[i].offeredFrom(ssrc, sent)
		})
		missing, span := link.shortfall(r.logs[i].snapshot(), ssrc, sent)
		got, received := s.audioContinuity()
		t.Logf("%s: the server offered its link %d of %d audio packets that an ideal one carries (vnet delivered %d of %d)", s.p.ID(), span-missing, span, got, received)
		if span == 0 || missing*100 > span {
			t.Errorf("%s: the server offered its link %d of %d audio packets that an ideal one carries, want ≥ 99 %% (settled after %v, lifted after %v; vnet delivered %d of %d: %s)", s.p.ID(), span-missing, span,
				times.settle.Round(time.Millisecond), lifted.Sub(start).Round(time.Millisecond), got, received, s.audioGaps(start))
		}
	}

	// Hiding the tile: no video for it, while audio goes on.
	r.free.p.SetView([]Tile{})
	hidden := r.pub.lastFrame()
	audioThen, _ := r.free.audioContinuity()
	conntest.Eventually(t, "50 more frames and audio after the hide", func() bool {
		got, _ := r.free.audioContinuity()
		return r.pub.lastFrame() >= hidden+50*maxLayers && got >= audioThen+50
	})
	r.free.mu.Lock()
	for _, p := range r.free.video {
		// A frame queued before the hide may still go out: allow one round.
		if p.frame > hidden+maxLayers {
			t.Errorf("frame %d of layer %d received after the tile was hidden at frame %d", p.frame, p.layer, hidden)
			break
		}
	}
	r.free.mu.Unlock()
	return times
}

// TestSubscriberBandwidth: one publisher of three layers and audio; a subscriber behind
// a 300 kbit/s link settles on q, sent no more than the link carries, while one
// without a limit gets f;
// lifting the limit to 3 Mbit/s takes the first up to f; audio stays continuous
// throughout; and a hidden tile gets no video.
func TestSubscriberBandwidth(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time bandwidth estimation")
	}
	times := runBandwidthScenario(t)
	t.Logf("settled after %v, climbed after %v", times.settle.Round(time.Millisecond), times.climb.Round(time.Millisecond))
}

// BenchmarkSubscriberBandwidth reports how long settling on a 300 kbit/s link and
// climbing once it is lifted took (the anchors manage 5 s and 10 s).
func BenchmarkSubscriberBandwidth(b *testing.B) {
	var settle, climb time.Duration
	for i := 0; i < b.N; i++ {
		times := runBandwidthScenario(b)
		settle += times.settle
		climb += times.climb
	}
	b.ReportMetric(settle.Seconds()/float64(b.N), "settle-s")
	b.ReportMetric(climb.Seconds()/float64(b.N), "climb-s")
}
