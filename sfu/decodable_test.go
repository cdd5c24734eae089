package sfu

import (
	"testing"
	"time"

	"conclave/internal/conntest"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// The tests in this file check that a layer whose keyframes no longer arrive whole is
// left for the best layer whose keyframes do (decodable.go), and taken again once they
// do. The rig's f keyframes take ten packets, and its loss keeps one packet of f in ten
// on its way to the server, so no keyframe of f arrives whole while f stays live. Every
// bound is on the fake clock, which moves only by rounds of frames the server has read,
// each keyframe request the server sends having reached the publisher first.

// subscriberPLI sends a PLI from the subscriber, as a browser with a frozen picture
// does, and waits until the server has read it.
func (r *simRig) subscriberPLI() {
	r.t.Helper()
	r.sub.mu.Lock()
	ssrc := r.sub.ssrc
	r.sub.mu.Unlock()
	before := r.eng.Stats().KeyframeRequestsReceived
	if err := r.sub.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
		r.t.Fatal(err)
	}
	conntest.Eventually(r.t, "the server reading the subscriber's PLI", func() bool {
		return r.eng.Stats().KeyframeRequestsReceived > before
	})
}

// pumpWithin sends rounds of frames, moving the fake clock on by liveStep after each,
// until cond holds; it fails the test when the clock moved on by within first. Each keyframe
// request the server sent reaches the publisher before the next round, and with frozen
// the subscriber asks for a keyframe every tenth round (the server passes one in
// subscriberKeyframeInterval on).
func (r *simRig) pumpWithin(what string, within time.Duration, frozen bool, cond func() bool) {
	r.t.Helper()
	by := r.clock.Now().Add(within)
	for round := 0; !cond(); round++ {
		if r.clock.Now().After(by) {
			r.t.Fatalf("no %s within %v of the fake clock; the subscriber's last packet %+v, stats %+v",
				what, within, r.sub.last(), r.eng.Stats())
		}
		if frozen && round%10 == 0 {
			r.subscriberPLI()
		}
		r.pub.sendRound()
		r.stepClock()
		r.keyframeRequestsArrived()
	}
}

// keyframeRequestsArrived waits until the publisher got every keyframe request the
// server sent.
func (r *simRig) keyframeRequestsArrived() {
	r.t.Helper()
	sent := r.eng.Stats().KeyframeRequestsSent
	conntest.Eventually(r.t, "the publisher getting the keyframe requests", func() bool {
		got := 0
		for i := range maxLayers {
			got += r.pub.pliCount(i)
		}
		return uint64(got) >= sent
	})
}

// wholeKeyframeOf reports whether the subscriber got, after its packet from, a keyframe
// of layer in n packets of consecutive sequence numbers, all of the keyframe's frame.
func (r *simRig) wholeKeyframeOf(layer, n, from int) func() bool {
	return func() bool {
		got := r.sub.packets()
		for i := from; i+n <= len(got); i++ {
			if !got[i].key || got[i].layer != layer {
				continue
			}
			whole := true
			for j := 1; j < n && whole; j++ {
				p := got[i+j]
				whole = p.layer == layer && p.frame == got[i].frame && p.seq == got[i].seq+uint16(j)
			}
			if whole {
				return true
			}
		}
		return false
	}
}

// TestSimulcastUndecodableLayerLeftAndBack: a subscriber of a large tile on f (long
// enough for the publisher to have been told to stop h), when nine packets of f in ten
// are lost on the way to the server (f still live, its packets coming every round) and
// its PLIs are answered by keyframes that never arrive whole, gets a whole keyframe of
// h within two of keyframeWholeWait of its first request (the second when no keyframe
// of f began since it) and two seconds more, and stays on h while the loss lasts (the
// server's own keyframe requests to f bringing nothing whole). When the loss ends, the server's next request to f
// brings a whole keyframe, and after f's probation the subscriber climbs back to f and
// gets a whole keyframe of it, within undecodableProbe, layerSettle and two seconds
// more. Without decodable.go the subscriber stays on f's fragments for as long as the
// loss lasts.
func TestSimulcastUndecodableLayerLeftAndBack(t *testing.T) {
	r := newSimRig(t)
	r.pub.mu.Lock()
	r.pub.keyParts[2] = 10
	r.pub.mu.Unlock()
	r.view(camTile(1280, 720))
	r.settleOn(2)
	r.keyframeRequestsDone()
	// On f long enough for h to be let go (encodingOffDelay), as a subscriber of a
	// large tile is.
	onF := r.clock.Now().Add(encodingOffDelay + time.Second)
	r.pumpWithin("f for a while", encodingOffDelay+2*time.Second, false, func() bool { return !r.clock.Now().Before(onF) })
	if paused := r.subTrack().up.enc.paused.Load(); paused&(1<<1) == 0 {
		t.Fatalf("h still asked for after %v on f (paused %03b)", encodingOffDelay+time.Second, paused)
	}

	r.pub.mu.Lock()
	r.pub.lossy[2] = 10
	r.pub.mu.Unlock()
	from := r.sub.count()
	before := r.eng.Stats()
	r.pumpWithin("whole keyframe of h while f loses nine packets in ten", 2*keyframeWholeWait+2*time.Second, true,
		r.wholeKeyframeOf(1, 1, from))
	if st := r.eng.Stats(); st.LayersLost == before.LayersLost || st.LayersUndecodable != before.LayersUndecodable+1 {
		t.Errorf("leaving f for h was not counted as a lost layer, and f once as undecodable: %+v", st)
	}
	plisF := r.pub.pliCount(2)
	on := r.sub.count()
	end := r.clock.Now().Add(2 * undecodableProbe)
	r.pumpWithin("the loss going on", 2*undecodableProbe+liveStep, false, func() bool { return !r.clock.Now().Before(end) })
	noneOf(t, r.sub.packets()[on:], 2)
	if r.pub.pliCount(2) == plisF {
		t.Error("f was never asked for a keyframe while it lost its packets")
	}

	r.pub.mu.Lock()
	r.pub.lossy[2] = 0
	r.pub.mu.Unlock()
	healed := r.sub.count()
	r.pumpWithin("whole keyframe of f after its loss", undecodableProbe+layerSettle+2*time.Second, false,
		r.wholeKeyframeOf(2, 10, healed))
	if st := r.eng.Stats(); st.LayersUndecodable != before.LayersUndecodable+1 || st.LayersDecodable != before.LayersDecodable+1 {
		t.Errorf("f's judgement was not counted once and its end once: %+v", st)
	}
}

// TestKeyframeWhole: a keyframe is whole when the cache holds every packet from its
// first to the one with the marker bit, all of its timestamp, across the numbers' wrap
// and with the repair of a lost packet arriving late; a gap, a packet of another frame
// before the marker (the marker's packet lost) or a keyframe not ended yet is not
// whole; one longer than the cache's half without a gap is taken as whole.
func TestKeyframeWhole(t *testing.T) {
	const ts = 90_000
	cases := []struct {
		name  string
		n     int    // packets of the keyframe from 65530 on, the last with the marker
		drop  []int  // of those, the ones not put
		then  uint32 // a packet after them of this timestamp, 0: none
		noEnd bool   // the last has no marker
		late  []int  // put after the rest, as a repair
		whole bool
	}{
		{name: "one packet", n: 1, whole: true},
		{name: "ten across the wrap", n: 10, then: ts + 3000, whole: true},
		{name: "a packet lost", n: 10, drop: []int{4}, then: ts + 3000},
		{name: "the first lost", n: 10, drop: []int{0}},
		{name: "the marker's lost", n: 10, drop: []int{9}, then: ts + 3000},
		{name: "not ended yet", n: 10, noEnd: true},
		{name: "a lost packet repaired", n: 10, drop: []int{4}, late: []int{4}, then: ts + 3000, whole: true},
		{name: "longer than the cache's half", n: cacheSize/2 + 10, noEnd: true, whole: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &packetCache{}
			at := time.Unix(1_000_000, 0).UnixNano()
			put := func(i int, stamp uint32, marker bool) {
				at += int64(time.Millisecond)
				c.put(&packet{header: rtp.Header{SequenceNumber: uint16(65530 + i), Timestamp: stamp, Marker: marker}, payload: []byte{0}, arrival: at})
			}
			dropped := map[int]bool{}
			for _, i := range tc.drop {
				dropped[i] = true
			}
			for i := range tc.n {
				if !dropped[i] {
					put(i, ts, i == tc.n-1 && !tc.noEnd)
				}
			}
			if tc.then != 0 {
				put(tc.n, tc.then, true)
			}
			for _, i := range tc.late {
				put(i, ts, i == tc.n-1 && !tc.noEnd)
			}
			if got, _, _ := c.keyframeProgress(65530, ts, false); got != tc.whole {
				t.Errorf("whole: %v, want %v", got, tc.whole)
			}
		})
	}
}

// TestSimulcastUnansweredKeyframeRequestKeepsTheLayer: a request for a keyframe of f
// that the publisher lets pass (libwebrtc answers one request in 300 ms for all the
// layers of a track, so one for f just after one for h brings nothing), while f goes
// on arriving whole, does not take the subscriber off f: with no keyframe of f begun
// since the request, the server asks f again before it judges, and the keyframe that
// answers arrives whole. Without the second request f is judged undecodable once the
// wait runs out and the subscriber goes down to h, counted as a lost layer.
func TestSimulcastUnansweredKeyframeRequestKeepsTheLayer(t *testing.T) {
	r := newSimRig(t)
	r.pub.mu.Lock()
	r.pub.keyParts[2] = 10
	r.pub.mu.Unlock()
	r.view(camTile(1280, 720))
	r.settleOn(2)
	r.keyframeRequestsDone()

	r.pub.mu.Lock()
	r.pub.unanswered[2] = 1
	r.pub.mu.Unlock()
	before := r.eng.Stats()
	plis := r.pub.pliCount(2)
	on := r.sub.count()
	r.subscriberPLI()
	end := r.clock.Now().Add(2*keyframeWholeWait + layerSettle)
	r.pumpWithin("f going on", 2*keyframeWholeWait+layerSettle+liveStep, false, func() bool { return !r.clock.Now().Before(end) })
	noneOf(t, r.sub.packets()[on:], 1)
	if st := r.eng.Stats(); st.LayersLost != before.LayersLost {
		t.Errorf("f was left as lost after one unanswered keyframe request: %+v", st)
	}
	if got := r.pub.pliCount(2); got < plis+2 {
		t.Errorf("f was asked for %d keyframes after the unanswered one, want it asked again", got-plis-1)
	}
}
