package sfu

import (
	"testing"
	"time"
)

// TestTooSlowForAnyVideoKeepsAudioOnly: a subscriber whose estimate leaves its only
// tile less than half of the camera's lowest layer keeps that layer for starveGrace
// (an estimate that dips in a hiccup grows back within it), then gets no video at all,
// told so (paused), where before the layer went on, and on a link too slow for it took
// the link from audio. The layer is tried again when the climb gate opens; a probe
// that the estimate does not bear out pauses it again, and the next probe waits twice
// as long; once the estimate has room the probe keeps it. Verdicts on the rig's fake
// clock and on what the subscriber receives.
func TestTooSlowForAnyVideoKeepsAudioOnly(t *testing.T) {
	r := newSimRig(t)
	r.view(camTile(320, 180))
	r.settleOn(0)
	d := r.subTrack()
	p := r.subP
	// As if the subscriber's answer had accepted transport-cc and feedback had moved
	// the estimate; the rig's own ticks are the test's calls of reallocate.
	p.bw.enabled.Store(true)
	p.bw.estimated.Store(true)
	p.bw.budget.Store(1) // nothing left for video
	// pass lets d of the fake clock go by, a round of frames every liveTick.
	pass := func(d time.Duration) {
		for end := r.clock.Now().Add(d); r.clock.Now().Before(end); {
			r.pub.sendRound()
			r.waitRoundReceived()
			r.advance(liveTick)
		}
	}
	limit := func() int {
		l, ok := p.layerLimit(d.up)
		if !ok {
			t.Fatal("the camera has no allocation")
		}
		return l
	}
	paused := Downlink{Limited: true, Tracks: []DownlinkTrack{{ParticipantID: "pub", Source: SourceCamera, State: DownlinkPaused}}}

	p.reallocate()
	if l := limit(); l != 0 {
		t.Fatalf("at the first starved allocation: layer %d, want q kept for starveGrace", l)
	}
	pass(starveGrace)
	p.reallocate()
	if l := limit(); l != -1 {
		t.Fatalf("starved for %v: layer %d, want paused (-1)", starveGrace, l)
	}
	if got := p.Downlink(); !got.equal(paused) {
		t.Fatalf("downlink %+v, want the camera paused", got)
	}
	pausedAt := r.clock.Now()
	pass(liveTick) // a frame queued before the pause may still go
	n := r.sub.count()
	pass(2 * time.Second)
	if got := r.sub.count(); got != n {
		t.Fatalf("%d video packets arrived while paused", got-n)
	}

	// The first probe once the gate opens (climbBackoff after the pause).
	pass(climbBackoff - r.clock.Now().Sub(pausedAt) - liveTick)
	p.reallocate()
	if l := limit(); l != -1 {
		t.Fatalf("a probe before the climb gate opened: layer %d", l)
	}
	pass(liveTick)
	p.reallocate()
	if l := limit(); l != 0 {
		t.Fatalf("no probe when the climb gate opened: layer %d", l)
	}
	from := r.sub.count()
	r.pumpTicking("q again in the probe", func() bool {
		got := r.sub.packets()
		return len(got) > from+3 && r.lastAre(0, 3)()
	})
	// The estimate does not grow: paused again after the probe, and the next probe
	// waits twice as long.
	pass(starveGrace - r.clock.Now().Sub(pausedAt.Add(climbBackoff)))
	p.reallocate()
	if l := limit(); l != -1 {
		t.Fatalf("a probe the estimate did not bear out: layer %d, want paused", l)
	}
	pausedAt = r.clock.Now()
	pass(climbBackoff + liveTick)
	p.reallocate()
	if l := limit(); l != -1 {
		t.Fatalf("after a failed probe the next came after %v, want %v", r.clock.Now().Sub(pausedAt), 2*climbBackoff)
	}
	// Room now: the next probe stays. (Judged by the allocation: the rig's fake
	// clock, run this far ahead of the peers' real one, outlasts the ICE consent.)
	p.bw.budget.Store(10_000_000)
	pass(climbBackoff)
	p.reallocate()
	pass(starveGrace + liveTick)
	p.reallocate()
	if l := limit(); l != 0 {
		t.Fatalf("with room, layer %d, want q", l)
	}
	if got := p.Downlink(); got.Limited {
		t.Fatalf("with room, downlink %+v", got)
	}
}

// TestStarvedGraceWhileTheEstimateGrowsBack: a tile whose only layer is large (a
// screen share without simulcast at 2 Mbit/s; here q made that large) on a healthy link
// must not be paused while the estimate is still growing towards it, at the start
// (from bweInitial) or after a hiccup cut it to bweMin: the estimator grows by
// estGrowth an interval, so from 100 kbit/s it takes some ten seconds, far more than
// starveGrace, to leave half of 2 Mbit/s. Once the estimate falls again while starved (a
// link that cannot carry the layer cuts it), starveGrace counts as before.
func TestStarvedGraceWhileTheEstimateGrowsBack(t *testing.T) {
	r := newSimRig(t)
	r.view(camTile(320, 180))
	r.settleOn(0)
	d := r.subTrack()
	p := r.subP
	p.bw.enabled.Store(true)
	p.bw.estimated.Store(true)
	const layerRate = 2_000_000
	// pass lets dur of the fake clock go by, a round of frames every liveTick, the
	// layer measured at layerRate, an allocation every bweTick with the estimate that
	// est gives for the time since from.
	pass := func(dur time.Duration, from time.Time, est func(time.Duration) int64, what string) {
		t.Helper()
		for n, end := 0, r.clock.Now().Add(dur); r.clock.Now().Before(end); n++ {
			r.pub.sendRound()
			r.waitRoundReceived()
			d.up.layer(0).bytes.Add(layerRate / 8 * uint64(liveTick) / uint64(time.Second))
			r.advance(liveTick)
			if n%2 == 1 { // every bweTick
				p.bw.budget.Store(est(r.clock.Now().Sub(from)))
				p.reallocate()
				if l, ok := p.layerLimit(d.up); !ok || l != 0 {
					t.Fatalf("%s: %v in, estimate %d, rate %d: layer %d, want q kept",
						what, r.clock.Now().Sub(from), p.bw.budget.Load(), d.up.layer(0).bitrate.Load(), l)
				}
			}
		}
	}
	// growing is the estimator on a healthy link: estGrowth every estInterval from
	// start, up to estCeiling times what is sent.
	growing := func(start int64) func(time.Duration) int64 {
		return func(since time.Duration) int64 {
			est := float64(start)
			for range int(since / estInterval) {
				est = min(est*estGrowth, layerRate*estCeiling)
			}
			return int64(est)
		}
	}
	p.bw.budget.Store(bweInitial)
	// The first feedback: the estimate from bweInitial up.
	pass(12*time.Second, r.clock.Now(), growing(bweInitial), "at the start")
	if got := p.Downlink(); got.Limited {
		t.Fatalf("with room: downlink %+v", got)
	}
	// A hiccup: cut to bweMin, then growing back.
	pass(15*time.Second, r.clock.Now(), growing(bweMin), "after a hiccup")
	if got := p.Downlink(); got.Limited {
		t.Fatalf("with room again: downlink %+v", got)
	}

	// A link that cannot carry it: the estimate grows and is cut again, and the layer
	// is paused starveGrace after the starvation began (at the first allocation, a
	// bweTick in) or after its one rise before the first cut (a bweTick later).
	from := r.clock.Now()
	sawtooth := func(since time.Duration) int64 {
		if int(since/estInterval)%2 == 1 {
			return bweMin * estGrowth
		}
		return bweMin
	}
	for n, l := 0, 0; l == 0; n++ {
		if r.clock.Now().Sub(from) > 2*bweTick+starveGrace {
			t.Fatalf("a link whose estimate keeps being cut: video kept for %v", r.clock.Now().Sub(from))
		}
		r.pub.sendRound()
		r.waitRoundReceived()
		d.up.layer(0).bytes.Add(layerRate / 8 * uint64(liveTick) / uint64(time.Second))
		r.advance(liveTick)
		if n%2 == 1 {
			p.bw.budget.Store(sawtooth(r.clock.Now().Sub(from)))
			p.reallocate()
			l, _ = p.layerLimit(d.up)
		}
	}
}
