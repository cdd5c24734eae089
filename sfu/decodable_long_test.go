package sfu

import (
	"testing"
	"time"
)

// The tests in this file check that a keyframe still arriving when the wait for it
// (keyframeWholeWait) ends does not make its layer undecodable (decodable.go), within
// keyframeAssembleMax: a large keyframe paced at a low rate (300 KB at 1 Mbit/s takes
// 2.4 s), or one whose lost packets are repaired late. The rig's publisher
// paces a keyframe of f one packet a round (liveStep of the fake clock) or slower.

// longKeyframeOfF has the subscriber on f ask for a keyframe that the publisher sends
// in parts packets, one every every rounds, less the packet hole (0: none), and returns
// where the subscriber's packets were at the request and the fake clock then.
func (r *simRig) longKeyframeOfF(parts, every, hole int) (int, time.Time) {
	r.t.Helper()
	r.view(camTile(1280, 720))
	r.settleOn(2)
	r.keyframeRequestsDone()
	r.pub.mu.Lock()
	r.pub.keyParts[2], r.pub.keyEvery[2], r.pub.keyHole[2] = parts, every, hole
	r.pub.mu.Unlock()
	on := r.sub.count()
	asked := r.clock.Now()
	r.subscriberPLI()
	return on, asked
}

// TestSimulcastLongKeyframeKeepsTheLayer: a keyframe of f that takes 2.6 s to arrive
// (130 packets, one a round), longer than keyframeWholeWait, reaches the subscriber on
// f whole, with nothing of h or q meanwhile nor for keyframeWholeWait after, and no
// layer counted lost: its packets kept coming, so f was waited for. Without that, f
// was judged undecodable when the wait ran out (its keyframe not whole yet) and the
// subscriber went down to h, and the keyframe's start, kept only keyframeReplayAge,
// was gone from the cache before its last packet came.
func TestSimulcastLongKeyframeKeepsTheLayer(t *testing.T) {
	r := newSimRig(t)
	before := r.eng.Stats()
	const parts = 130
	on, _ := r.longKeyframeOfF(parts, 1, 0)
	wholeF := r.wholeKeyframeOf(2, parts, on)
	lower := func() bool {
		for _, p := range r.sub.packets()[on:] {
			if p.layer == 0 || p.layer == 1 {
				return true
			}
		}
		return false
	}
	r.pumpWithin("whole keyframe of f paced over 2.6 s", parts*liveStep+keyframeWholeWait, false,
		func() bool { return wholeF() || lower() })
	noneOf(t, r.sub.packets()[on:], 1)
	noneOf(t, r.sub.packets()[on:], 0)
	end := r.clock.Now().Add(keyframeWholeWait)
	r.pumpWithin("f going on", keyframeWholeWait+liveStep, false, func() bool { return !r.clock.Now().Before(end) })
	noneOf(t, r.sub.packets()[on:], 1)
	noneOf(t, r.sub.packets()[on:], 0)
	if st := r.eng.Stats(); st.LayersLost != before.LayersLost || st.LayersUndecodable != before.LayersUndecodable {
		t.Errorf("f was left as lost, or judged undecodable, while its keyframe arrived: %+v", st)
	}
	if l := r.subTrack().up.layer(2); l.undecodable.Load() {
		t.Error("f is undecodable after its keyframe arrived whole")
	}
}

// TestSimulcastLongKeyframeIsJudged: a keyframe of f still arriving holds the
// judgement of f off only as long as the case's wait (keyframeWholeWait or
// keyframeAssembleMax) after the subscriber's request: the subscriber gets a whole
// keyframe of h within a second more, not before, and f is counted once as
// undecodable (and, where the keyframe is not renewed, its leaving as a lost layer).
func TestSimulcastLongKeyframeIsJudged(t *testing.T) {
	for _, c := range []struct {
		name               string
		parts, every, hole int           // f's keyframe (longKeyframeOfF)
		wait               time.Duration // f is not left before it, and h is whole within a second more
		waitName           string
		what               string
		round              func(r *simRig, round int) // the publisher's doing at each round, from 1
		lost               bool                       // leaving f is counted as a lost layer too
	}{{
		// A keyframe of f that keeps arriving (200 packets, one every second round: 8 s)
		// with its third packet lost for good is not waited for past keyframeWholeWait:
		// the packet has been missing for keyframeHoleAge by then (the NACK generator gave
		// it up long before), so the keyframe will never be whole. Without the hole's look
		// f is waited for until keyframeAssembleMax.
		name: "a hole", parts: 200, every: 2, hole: 3,
		wait: keyframeWholeWait, waitName: "the wait was over",
		what: "whole keyframe of h while f's keyframe, a packet lost, keeps arriving",
		lost: true,
	}, {
		// A keyframe of f that keeps arriving without a loss (200 packets, one every
		// second round: 8 s) holds the judgement off only until keyframeAssembleMax.
		// Two bounds hold it there: the judgement's own (decodable.go) and the cache's
		// hold of the keyframe's start (packetcache.go keepsKey), which ends at
		// keyframeAssembleMax too; this case fails only without both (f waited for as
		// long as the keyframe's packets came). "restarting" fails without the first alone.
		name: "endless", parts: 200, every: 2,
		wait: keyframeAssembleMax, waitName: "keyframeAssembleMax",
		what: "whole keyframe of h while f's keyframe keeps arriving",
		lost: true,
	}, {
		// When f's keyframes come every keyframeInterval (several frozen subscribers'
		// requests, merged by the publisher track's throttle), each in ten packets at
		// once with one lost for good, f is judged as before this wait existed. A
		// keyframe that began after another that never assembled is not one still
		// arriving by being new; without that, each new keyframe counted as packets
		// come, f was waited for until keyframeAssembleMax (6 s) and its subscribers
		// stayed on a frozen picture 4 s longer.
		name: "holes often", parts: 10, every: 0, hole: 3,
		wait: keyframeWholeWait, waitName: "the wait was over",
		what: "whole keyframe of h while f's keyframes, a packet of each lost, come every 500 ms",
		round: func(r *simRig, round int) {
			if round%int(keyframeInterval/liveStep) == 0 {
				r.pub.mu.Lock()
				r.pub.layers[2].key = true
				r.pub.mu.Unlock()
			}
		},
	}, {
		// Keyframes of f that never end, each paced one packet every second round and
		// given up every 1.5 s for a new one (a broken or hostile publisher), hold the
		// judgement off only until keyframeAssembleMax. The cache's hold cannot bound this
		// (each new keyframe is held afresh), so without the judgement's own bound f would
		// be waited for for as long as keyframes kept beginning.
		name: "restarting", parts: 200, every: 2,
		wait: keyframeAssembleMax, waitName: "keyframeAssembleMax",
		what: "whole keyframe of h while f's keyframes begin again every 1.5 s",
		round: func(r *simRig, round int) {
			if round%int(1500*time.Millisecond/liveStep) == 0 {
				r.pub.mu.Lock()
				r.pub.layers[2].paced, r.pub.layers[2].key = nil, true
				r.pub.mu.Unlock()
			}
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			r := newSimRig(t)
			before := r.eng.Stats()
			on, asked := r.longKeyframeOfF(c.parts, c.every, c.hole)
			wholeH, round := r.wholeKeyframeOf(1, 1, on), 0
			r.pumpWithin(c.what, c.wait+time.Second, false, func() bool {
				if round++; c.round != nil {
					c.round(r, round)
				}
				return wholeH()
			})
			if took := r.clock.Now().Sub(asked); took < c.wait {
				t.Errorf("f was left %v after the request, before %s", took, c.waitName)
			}
			st := r.eng.Stats()
			if c.lost && (st.LayersLost == before.LayersLost || st.LayersUndecodable != before.LayersUndecodable+1) {
				t.Errorf("leaving f for h was not counted as a lost layer, and f once as undecodable: %+v", st)
			}
			if !c.lost && st.LayersUndecodable != before.LayersUndecodable+1 {
				t.Errorf("f was not counted once as undecodable: %+v", st)
			}
		})
	}
}

// TestSimulcastUndecodableLayerBackWithLongKeyframes: f judged undecodable while it
// lost nine packets in ten is taken again once the loss ends though its keyframes take
// 2.6 s to arrive (130 packets, one a round, as from the publisher short of uplink
// that the wait is for): the server's next request to f brings one the cache keeps
// whole, and after f's probation the subscriber climbs back and gets a whole keyframe
// of f, within undecodableProbe, layerSettle, two such keyframes and two seconds more.
// Without the cache's hold while f is undecodable, each keyframe's start was gone
// (keyframeReplayAge) before its end came, none was found whole, and the subscriber
// stayed on h for as long as f's keyframes were long.
func TestSimulcastUndecodableLayerBackWithLongKeyframes(t *testing.T) {
	r := newSimRig(t)
	r.pub.mu.Lock()
	r.pub.keyParts[2] = 10
	r.pub.mu.Unlock()
	r.view(camTile(1280, 720))
	r.settleOn(2)
	r.keyframeRequestsDone()
	r.pub.mu.Lock()
	r.pub.lossy[2] = 10
	r.pub.mu.Unlock()
	from := r.sub.count()
	r.pumpWithin("whole keyframe of h while f loses nine packets in ten", 2*keyframeWholeWait+2*time.Second, true,
		r.wholeKeyframeOf(1, 1, from))

	const parts = 130
	r.pub.mu.Lock()
	r.pub.lossy[2], r.pub.keyParts[2], r.pub.keyEvery[2] = 0, parts, 1
	r.pub.mu.Unlock()
	healed := r.sub.count()
	r.pumpWithin("whole keyframe of f, paced over 2.6 s, after its loss",
		undecodableProbe+layerSettle+2*parts*liveStep+2*time.Second, false, r.wholeKeyframeOf(2, parts, healed))
	if l := r.subTrack().up.layer(2); l.undecodable.Load() {
		t.Error("f is undecodable after its keyframe arrived whole")
	}
}
