package sfu

import (
	"context"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/webrtc/v4"
)

// The tests in this file stop and resume the rig's publisher's layers (simulcast_test.go)
// as browsers do on their own, and check that the subscriber's picture never freezes:
// it is moved to a layer that arrives and back when the better one returns. Whether a
// layer is live is judged on the fake clock; the tests move it on a little after each
// round of frames they send, so a layer that is sent stays live however slowly the
// machine runs, and one that is not goes quiet after a second of fake time.

// liveStep is how far the fake clock moves per round of frames: a layer sent in every
// round stays live even when its packets reach the server dozens of rounds late.
const liveStep = 20 * time.Millisecond

// setSilent stops (silent) or resumes the layers named.
func (p *simPublisher) setSilent(silent bool, layers ...int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, i := range layers {
		p.silent[i] = silent
	}
}

// lastFrameOf is the number of the last frame sent on layer i.
func (p *simPublisher) lastFrameOf(i int) uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var last uint32
	for f, l := range p.sent {
		if l == i && f > last {
			last = f
		}
	}
	return last
}

// waitDelivered waits until the subscriber got the last frame sent on layer i, so no
// packet of that layer is still on its way to the server. It waits for the server to
// read it first, so that a wait that ends without it says where the packet stopped
// (once, under -race on a loaded machine, it never reached the subscriber; not
// understood yet).
func (r *simRig) waitDelivered(i int) {
	r.t.Helper()
	r.waitReceived(i)
	last := r.pub.lastFrameOf(i)
	deadline := time.Now().Add(conntest.Wait)
	for r.sub.last().frame < last {
		if time.Now().After(deadline) {
			r.t.Fatalf("the server read the last frame of %s (%d), the subscriber never got it (its last packet %+v); stats %+v",
				layerRIDs[i], last, r.sub.last(), r.eng.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// lastAre reports whether the subscriber's last n packets are all of layer.
func (r *simRig) lastAre(layer, n int) func() bool {
	return func() bool {
		got := r.sub.packets()
		if len(got) < n {
			return false
		}
		for _, p := range got[len(got)-n:] {
			if p.layer != layer {
				return false
			}
		}
		return true
	}
}

// TestSimulcastLayerLostAndBack: a subscriber with a large tile gets f; when the
// publisher stops sending f, the subscriber is moved to h at a keyframe of h (asked for
// by PLI) without sending any message, and when f comes back it climbs back to f. Its
// stream stays one continuous stream throughout, and the switches are counted by why.
func TestSimulcastLayerLostAndBack(t *testing.T) {
	r := newSimRig(t)
	r.view(camTile(1280, 720))
	r.settleOn(2)
	from := r.sub.count() - 1
	before := r.eng.Stats()
	plisH := r.pub.pliCount(1)

	r.pub.setSilent(true, 2)
	r.waitDelivered(2)
	r.pumpTicking("h after f stopped", r.lastAre(1, 5))
	if r.pub.pliCount(1) == plisH {
		t.Error("no keyframe request to h")
	}
	// Without sender reports, h's timestamps continue f's by the time that passed since
	// f's last packet: f was quiet for at least the liveness window, less a tick.
	got := r.sub.packets()
	for i := len(got) - 1; i > from; i-- {
		if got[i].layer == 1 && got[i-1].layer == 2 {
			if step, least := got[i].ts-got[i-1].ts, uint32((liveWindow-liveTick).Seconds()*90000); step < least {
				t.Errorf("timestamp step %d from f's last packet to h's first, want at least %d", step, least)
			}
			break
		}
	}
	if st := r.eng.Stats(); st.LayersLost == before.LayersLost {
		t.Errorf("the switch down was not counted as a lost layer: %+v", st)
	}
	// While h stands in for f, the publisher is asked for both: f because the tile
	// calls for it, h because it is sent; h is not let go after three seconds.
	end := r.clock.Now().Add(encodingOffDelay + time.Second)
	r.pumpTicking("four seconds on h", func() bool { return !r.clock.Now().Before(end) })
	if !r.lastAre(1, 5)() {
		t.Errorf("left h while f was away: last packet %+v", r.sub.last())
	}
	for _, enc := range r.takeEncodings() {
		if s := strings.Join(enc, ","); !strings.Contains(s, "h") || !strings.Contains(s, "f") {
			t.Errorf("encodings %v while h stands in for f", enc)
		}
	}

	r.pub.setSilent(false, 2)
	r.pumpTicking("f again", r.lastAre(2, 5))
	st := r.eng.Stats()
	if st.LayersBack == before.LayersBack {
		t.Errorf("the climb back was not counted: %+v", st)
	}
	if n := st.LayerSwitches - before.LayerSwitches; n < 2 {
		t.Errorf("%d layer switches, want at least 2", n)
	}
	checkContinuous(t, r.sub.packets()[from:])
}

// TestSimulcastLayerNeverSent: a publisher that never sends f (Chromium with a small
// camera) has a large tile get h from the start, with no frozen wait for f.
func TestSimulcastLayerNeverSent(t *testing.T) {
	r := newSimRig(t, 2)
	r.view(camTile(1280, 720))
	r.pumpTicking("h", r.lastAre(1, 10))
	from := r.sub.count() - 1
	r.pumpTicking("h going on", func() bool { return r.sub.count() > from+20 })
	got := r.sub.packets()[from:]
	checkContinuous(t, got)
	for _, p := range got {
		if p.layer != 1 {
			t.Fatalf("got layer %d, want h throughout", p.layer)
		}
	}
}

// TestSimulcastLayerOfPaddingOnly: a layer on which the publisher sends only padding
// (Firefox probes its uplink on its top layer while it does not encode it) has not
// arrived: a large tile gets h at once, not a wait for a keyframe of f that never comes.
func TestSimulcastLayerOfPaddingOnly(t *testing.T) {
	r := newSimRig(t)
	r.pub.mu.Lock()
	r.pub.pad[2] = true
	r.pub.mu.Unlock()
	r.view(camTile(1280, 720))
	r.pumpTicking("h", r.lastAre(1, 10))
	from := r.sub.count() - 1
	end := r.clock.Now().Add(2 * liveWindow)
	r.pumpTicking("two liveness windows of padding on f", func() bool { return !r.clock.Now().Before(end) })
	got := r.sub.packets()[from:]
	checkContinuous(t, got)
	for _, p := range got {
		if p.layer != 1 {
			t.Fatalf("got layer %d, want h throughout", p.layer)
		}
	}
}

// TestSimulcastAllLayersStop: when every layer stops, nothing breaks and nothing spins:
// no keyframe requests, no switches, no timers piling up on the clock, however long the
// silence lasts. When q comes back alone the subscriber gets q, continuing its stream.
func TestSimulcastAllLayersStop(t *testing.T) {
	r := newSimRig(t)
	r.view(camTile(1280, 720))
	r.settleOn(2)
	from := r.sub.count() - 1
	r.pub.setSilent(true, 0, 1, 2)
	for i := range maxLayers {
		r.waitDelivered(i)
	}
	// A second and a half of silence makes every layer quiet; keyframe requests still
	// deferred from before may go out meanwhile. The clock moves a tick at a time, each
	// once the ticker has read it: a tick that runs late would read a clock moved on
	// past its successor's deadline, and the ticker would stop short of the silence.
	up := r.subTrack().up
	for range 6 {
		r.tick(up)
	}
	conntest.Eventually(t, "every layer quiet", func() bool { return up.liveMask(up.live.tick.Load()) == 0 })
	conntest.Eventually(t, "keyframe requests from before sent", func() bool {
		for i := range maxLayers {
			if l := up.layer(i); l != nil {
				l.kf.mu.Lock()
				pending := l.kf.pending
				l.kf.mu.Unlock()
				if pending {
					return false
				}
			}
		}
		return true
	})
	before := r.eng.Stats()
	for range 40 { // ten seconds
		r.tick(up)
	}
	after := r.eng.Stats()
	if after.KeyframeRequestsSent != before.KeyframeRequestsSent || after.LayerSwitches != before.LayerSwitches ||
		after.LayersLost != before.LayersLost || after.LayersBack != before.LayersBack {
		t.Errorf("while nothing arrived: stats went from %+v to %+v", before, after)
	}
	// The liveness ticker and the encodings' re-check at most, and the engine's sweep of
	// its ICE-lite agents' consent (one for all connections).
	if n := r.clock.Pending(); n > 3 {
		t.Errorf("%d timers pending after ten seconds of silence", n)
	}

	r.pub.setSilent(false, 0)
	r.pumpTicking("q after the silence", r.lastAre(0, 5))
	checkContinuous(t, r.sub.packets()[from:])
}

// TestSimulcastPausedLayerAskedFor: a layer the publisher was told to stop is not live.
// A tile that grows asks the publisher for f at once, gets the best live layer
// meanwhile, and climbs to f when it comes, at once: a layer the SFU asked for again is
// not on probation (live.go), so the climb needs no fake time to pass.
func TestSimulcastPausedLayerAskedFor(t *testing.T) {
	r := newSimRig(t)
	r.view(camTile(320, 180))
	r.settleOn(0)
	r.takeEncodings()
	r.advance(encodingOffDelay)
	r.waitEncodings("q")
	r.pub.setSilent(true, 1, 2) // the publisher does as told
	from := r.sub.count() - 1

	r.view(camTile(1280, 720))
	r.waitEncodings("q", "f")
	// Meanwhile q goes on, until f's keyframe requests from before are done with and
	// one asked for now would go out at once: a request deferred by f's throttle waits
	// on the fake clock, and moving the clock would put f on probation.
	n := r.sub.count()
	f := r.subTrack().up.layer(2)
	fIdle := func() bool {
		f.kf.mu.Lock()
		defer f.kf.mu.Unlock()
		return !f.kf.pending && !r.clock.Now().Before(f.kf.last.Add(keyframeInterval))
	}
	r.pumpTicking("q going on", func() bool { return r.sub.count() > n+10 && r.lastAre(0, 10)() && fIdle() })
	r.pub.setSilent(false, 2)
	r.pumpUntil("f", r.lastAre(2, 5))
	checkContinuous(t, r.sub.packets()[from:])
}

// TestSimulcastLayerResumedBetweenTicksIsTaken: a view that calls for a layer the
// publisher was told to pause a moment before, with no liveness tick in between,
// chooses without it (it is not live while paused) and resumes it; the next tick must
// make the subscription choose again and take it. Before, the tick found the layers
// live as at the tick before the pause, and the subscription kept the larger layer for
// good (seen in the browsers: a Firefox camera in a thumbnail sent at its largest).
func TestSimulcastLayerResumedBetweenTicksIsTaken(t *testing.T) {
	r := newSimRig(t)
	r.view(camTile(640, 360))
	r.settleOn(1)
	r.takeEncodings()
	// The clock between two ticks, so that h, unneeded from the next view on, is paused
	// between two ticks as well.
	r.advance((liveTick + liveTick/2 - time.Duration(r.clock.Now().UnixNano()%int64(liveTick))) % liveTick)
	r.view(camTile(1280, 720))
	r.settleOn(2)
	due := r.unneededSince(1).Add(encodingOffDelay)
	if off := time.Duration(due.UnixNano() % int64(liveTick)); off < liveStep {
		t.Fatalf("h is paused %v after a liveness tick, not between two", off)
	}
	// Frames go on while the clock moves to the pause, so every layer stays live and
	// no return after a silence makes the subscription choose again.
	r.pumpTicking("the moment before h's pause", func() bool { return due.Sub(r.clock.Now()) < liveStep })
	r.waitRoundReceived()
	r.advance(due.Sub(r.clock.Now()))
	r.waitEncodings("q", "f")

	// Before the next tick: the thumbnail calls for h again.
	r.view(camTile(640, 360))
	r.waitEncodings("q", "h", "f")
	if want := ctlWant(r.subTrack().ctl.Load()); want != 2 {
		t.Fatalf("the view chose layer %d while h was paused, want f (2) until h is live again", want)
	}
	r.pumpTicking("h after the next tick", r.lastAre(1, 5))
}

// TestLiveMask: a layer is live while a packet came within the window on the ticker's
// clock, and never while the publisher was told to pause it; the ticker stops with the
// track.
func TestLiveMask(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_000_000, 0))
	up := &upTrack{kind: webrtc.RTPCodecTypeVideo, stats: &counters{}, clock: clock.Now, after: clock.AfterFunc}
	for i, rid := range layerRIDs {
		if !up.addLayer(&layer{index: uint8(i), rid: rid}) {
			t.Fatal("layer not added")
		}
	}
	tick := func() int64 {
		t.Helper()
		if err := clock.WaitForTimers(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		clock.Advance(liveTick)
		want := clock.Now().UnixNano()
		conntest.Eventually(t, "the tick", func() bool { return up.live.tick.Load() == want })
		return want
	}
	mask := func() uint32 { return up.liveMask(up.live.tick.Load()) }
	if m := mask(); m != 0b111 {
		t.Fatalf("live %03b at the start, want all", m)
	}
	up.enc.paused.Store(0b100)
	if m := mask(); m != 0b011 {
		t.Errorf("live %03b with f paused, want q and h", m)
	}
	up.enc.paused.Store(0)
	for range 3 {
		now := tick()
		up.layer(0).noteSeen(now)
	}
	if m := mask(); m != 0b111 {
		t.Errorf("live %03b after 750 ms, want all", m)
	}
	now := tick() // a second after h's and f's last packet
	up.layer(0).noteSeen(now)
	if m := mask(); m != 0b001 {
		t.Errorf("live %03b after a second without h and f, want q", m)
	}
	up.layer(2).noteSeen(now)
	if m := mask(); m != 0b101 {
		t.Errorf("live %03b with f back, want q and f", m)
	}
	up.stop()
	conntest.Eventually(t, "no timer left", func() bool { return clock.Pending() == 0 })
}
