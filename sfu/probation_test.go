package sfu

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

// The tests in this file check the probation of a layer that comes back (live.go): a
// subscriber on a live layer climbs to it only once it has arrived for layerSettle, one
// whose layer stopped takes it at once. Every verdict is judged on the fake clock: the
// tests move it on only through pumpTicking, which keeps the liveness ticker's reading
// within a tick of the clock, and they make sure the server read a layer's last packet
// before they let it go quiet, so what the SFU saw of a layer, and when, is what the
// test did however slowly the machine runs.

// pumpTicking sends rounds of frames, moving the fake clock on by liveStep after each
// and waiting, when a tick was due, until the liveness ticker has read the clock, until
// cond holds.
func (r *simRig) pumpTicking(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(conntest.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s; stats %+v", what, r.eng.Stats())
		}
		r.pub.sendRound()
		r.stepClock()
	}
}

// stepClock moves the fake clock on by liveStep once the server has read the packets
// sent so far (advance).
func (r *simRig) stepClock() {
	r.t.Helper()
	r.waitRoundReceived()
	r.advance(liveStep)
}

// advance moves the fake clock on by d and, if a tick of the liveness ticker fell due
// (its ticks are at multiples of liveTick), waits until the ticker has read the clock.
// A tick that reads the clock only after a later move arms its successor late, past
// the multiple the rig then waits for: that wait would never end.
func (r *simRig) advance(d time.Duration) {
	r.t.Helper()
	up := r.subTrack().up
	before := r.clock.Now().UnixNano()
	r.clock.Advance(d)
	now := r.clock.Now().UnixNano()
	if due := now - now%int64(liveTick); due > before {
		conntest.Eventually(r.t, "the liveness tick", func() bool { return up.live.tick.Load() >= due })
	}
}

// tick moves the fake clock on by liveTick and waits until up's liveness ticker has
// read it.
func (r *simRig) tick(up *upTrack) {
	r.t.Helper()
	r.clock.Advance(liveTick)
	now := r.clock.Now().UnixNano()
	conntest.Eventually(r.t, "the liveness tick", func() bool { return up.live.tick.Load() >= now })
}

// waitReceived waits until the server has read the last packet sent on layer i (its
// reader caches a packet after it noted the layer live).
func (r *simRig) waitReceived(i int) {
	r.t.Helper()
	r.pub.mu.Lock()
	seq := r.pub.layers[i].written
	r.pub.mu.Unlock()
	up := r.subTrack().up
	deadline := time.Now().Add(conntest.Wait)
	for l := up.layer(i); l == nil || l.cache.get(seq) == nil; l = up.layer(i) {
		if time.Now().After(deadline) {
			r.t.Fatalf("the server never read the last packet of %s (%d); stats %+v", layerRIDs[i], seq, r.eng.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// waitRoundReceived waits until the server has read the last packet of every layer the
// publisher sends, so that a step of the fake clock never overtakes packets sent before
// it: however slow the machine, the liveness ticker sees them in the window they were
// sent in.
func (r *simRig) waitRoundReceived() {
	r.t.Helper()
	for i := range maxLayers {
		r.pub.mu.Lock()
		sending := r.pub.layers[i] != nil && r.pub.layers[i].sent && !r.pub.silent[i]
		r.pub.mu.Unlock()
		if sending && r.subTrack().up.layer(i) != nil {
			r.waitReceived(i)
		}
	}
}

// isLive reports whether layer i is live at the ticker's latest reading.
func (r *simRig) isLive(i int) bool {
	up := r.subTrack().up
	return up.liveMask(up.live.tick.Load())&(1<<i) != 0
}

// loseF has the subscriber of a large tile settle on f, then stops f and waits until the
// subscriber is on h.
func (r *simRig) loseF() {
	r.t.Helper()
	r.view(camTile(1280, 720))
	r.settleOn(2)
	r.pub.setSilent(true, 2)
	r.waitReceived(2)
	r.pumpTicking("h after f stopped", r.lastAre(1, 5))
	r.keyframeRequestsDone()
}

// keyframeRequestsDone moves the clock on until no keyframe request is deferred (the
// throttle's wait runs on the fake clock) and waits until the publisher got every one
// sent, so the tests count only the requests that their layer changes make.
func (r *simRig) keyframeRequestsDone() {
	r.t.Helper()
	conntest.Eventually(r.t, "keyframe requests from before sent", func() bool {
		r.stepIfKeyframeDeferred()
		return !r.keyframeDeferred()
	})
	sent := r.eng.Stats().KeyframeRequestsSent
	conntest.Eventually(r.t, "the publisher getting the keyframe requests", func() bool {
		got := 0
		for i := range maxLayers {
			got += r.pub.pliCount(i)
		}
		return uint64(got) >= sent
	})
}

// bringBack resumes layer i and waits for the server to note its return; it returns the
// reading at which it did.
func (r *simRig) bringBack(i int) time.Time {
	r.t.Helper()
	l := r.subTrack().up.layer(i)
	prev := l.back.Load()
	r.pub.setSilent(false, i)
	r.pumpUntil(layerRIDs[i]+" back", func() bool { return l.back.Load() != prev })
	return time.Unix(0, l.back.Load())
}

// noneOf fails the test if the subscriber got a packet of layer among got.
func noneOf(t *testing.T, got []simPacket, layer int) {
	t.Helper()
	for _, p := range got {
		if p.layer == layer {
			t.Fatalf("got a packet of %s: %+v", layerRIDs[layer], p)
		}
	}
}

// TestSimulcastLayerBackAfterProbation: when f comes back after it was lost, the
// subscriber (on h, which goes on arriving) stays on h until f has arrived for two
// seconds, with no keyframe request to f meanwhile, and then climbs to f, counted as a
// layer back. Its stream stays one continuous stream.
func TestSimulcastLayerBackAfterProbation(t *testing.T) {
	r := newSimRig(t)
	r.loseF()
	from := r.sub.count()
	before := r.eng.Stats()
	plisF := r.pub.pliCount(2)

	back := r.bringBack(2)
	settled := back.Add(layerSettle)
	// Up to a step before the end of the probation: every reading the SFU judged by is
	// before it.
	r.pumpTicking("f arriving for almost two seconds", func() bool { return !r.clock.Now().Add(liveStep).Before(settled) })
	if !r.isLive(2) {
		t.Fatal("f not live while it arrives")
	}
	noneOf(t, r.sub.packets()[from:], 2)
	if n := r.pub.pliCount(2); n != plisF {
		t.Errorf("%d keyframe requests to f during its probation", n-plisF)
	}
	if st := r.eng.Stats(); st.LayersBack != before.LayersBack || st.LayerSwitches != before.LayerSwitches {
		t.Errorf("climbed during the probation: stats went from %+v to %+v", before, st)
	}

	r.pumpTicking("f after its probation", r.lastAre(2, 5))
	if r.clock.Now().Before(settled) {
		t.Errorf("climbed to f at %v, before its probation ended at %v", r.clock.Now(), settled)
	}
	if st := r.eng.Stats(); st.LayersBack != before.LayersBack+1 {
		t.Errorf("the climb back was counted %d times, want once", st.LayersBack-before.LayersBack)
	}
	checkContinuous(t, r.sub.packets()[from-1:])
}

// TestSimulcastFlappingLayerNotClimbed: f comes back for a second and goes again, three
// times: the subscriber stays on h throughout, with no keyframe request to f and no
// switch.
func TestSimulcastFlappingLayerNotClimbed(t *testing.T) {
	r := newSimRig(t)
	r.loseF()
	from := r.sub.count()
	before := r.eng.Stats()
	plisF := r.pub.pliCount(2)

	for range 3 {
		back := r.bringBack(2)
		r.pumpTicking("f arriving for a second", func() bool { return !r.clock.Now().Add(liveStep).Before(back.Add(liveWindow)) })
		r.pub.setSilent(true, 2)
		r.waitReceived(2)
		r.pumpTicking("f lost again", func() bool { return !r.isLive(2) })
	}
	n := r.sub.count()
	r.pumpTicking("h going on", func() bool { return r.sub.count() > n+10 })

	got := r.sub.packets()[from:]
	noneOf(t, got, 2)
	checkContinuous(t, got)
	if n := r.pub.pliCount(2); n != plisF {
		t.Errorf("%d keyframe requests to f while it flapped", n-plisF)
	}
	if st := r.eng.Stats(); st.LayersBack != before.LayersBack || st.LayerSwitches != before.LayerSwitches ||
		st.LayersLost != before.LayersLost {
		t.Errorf("while f flapped: stats went from %+v to %+v", before, st)
	}
}

// TestSimulcastLostLayerTakesLayerOnProbation: a subscriber whose layer stops does not
// wait for the probation of a better one: f comes back, h stops, and the subscriber gets
// f as soon as h is found lost, before f's two seconds are over, counted as a lost layer.
func TestSimulcastLostLayerTakesLayerOnProbation(t *testing.T) {
	r := newSimRig(t)
	r.loseF()
	from := r.sub.count()
	before := r.eng.Stats()

	back := r.bringBack(2)
	r.pub.setSilent(true, 1)
	r.waitReceived(1)
	// h's last packet came at most a tick after f's return, and h is found lost within a
	// tick and a step after a second of silence: before f's probation ends.
	r.pumpTicking("h lost", func() bool { return !r.isLive(1) })
	r.pumpUntil("f in place of h", r.lastAre(2, 5))
	if settled := back.Add(layerSettle); !r.clock.Now().Before(settled) {
		t.Fatalf("the clock is at %v, past f's probation (until %v)", r.clock.Now(), settled)
	}
	st := r.eng.Stats()
	if st.LayersLost == before.LayersLost || st.LayersBack != before.LayersBack {
		t.Errorf("the switch from h to f was not counted as a lost layer: stats went from %+v to %+v", before, st)
	}
	checkContinuous(t, r.sub.packets()[from-1:])
}

// TestSettledMask: a layer is on probation from the packet that brings it back after a
// second of silence until one that comes layerSettle later; a fresh layer never is, nor
// one the SFU asked for again.
func TestSettledMask(t *testing.T) {
	up := &upTrack{kind: webrtc.RTPCodecTypeVideo, stats: &counters{}}
	for i, rid := range layerRIDs {
		l := &layer{index: uint8(i), rid: rid, up: up}
		l.seen.Store(1)
		up.layers[i].Store(l)
	}
	sec := int64(time.Second)
	f, h := up.layer(2), up.layer(1)
	f.noteSeen(sec / 2)
	if m := up.settledMask(); m != 0b111 {
		t.Fatalf("settled %03b with every layer arriving, want all", m)
	}
	f.noteSeen(2 * sec) // after 1.5 s of silence
	if m := up.settledMask(); m != 0b011 {
		t.Errorf("settled %03b with f back, want q and h", m)
	}
	for _, at := range []int64{5, 6, 7} { // every half second
		f.noteSeen(at * sec / 2)
	}
	f.noteSeen(4*sec - 1)
	if m := up.settledMask(); m != 0b011 {
		t.Errorf("settled %03b just before f's two seconds, want q and h", m)
	}
	f.noteSeen(4 * sec)
	if m := up.settledMask(); m != 0b111 {
		t.Errorf("settled %03b after f's two seconds, want all", m)
	}
	f.noteSeen(6 * sec) // back after another loss: a new probation
	f.noteSeen(13 * sec / 2)
	if m := up.settledMask(); m != 0b011 {
		t.Errorf("settled %03b with f back again, want q and h", m)
	}
	h.resumed.Store(true)
	h.noteSeen(13 * sec / 2) // back after the SFU paused it and asked for it again
	if m := up.settledMask(); m != 0b011 || h.resumed.Load() {
		t.Errorf("settled %03b (resumption pending: %v) with h asked for again, want q and h", m, h.resumed.Load())
	}
}
