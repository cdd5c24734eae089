package sfu

import (
	"fmt"
	"testing"
	"time"

	"conclave/internal/conntest"

	"github.com/pion/rtcp"
)

// The tests in this file run the real engine with a Pion publisher that sends a camera
// in three RID layers of VP8-shaped RTP, as a browser does: every packet is one frame
// with a payload descriptor (15-bit picture ID, TL0PICIDX), keyframes carry their size
// in bytes 6..9 of the frame, and after the frame header come the layer and a frame
// number, so the subscriber can tell what it got. The publisher answers a PLI with a
// keyframe on that layer's next frame.

// TestSimulcastLayerFollowsTile: without a view the subscriber gets the largest layer;
// a small tile gets q, a large one f, a middle one h; each switch starts at a keyframe of
// the new layer, asked for by PLI to that layer, and the subscriber sees one continuous
// stream throughout.
func TestSimulcastLayerFollowsTile(t *testing.T) {
	r := newSimRig(t)
	r.settleOn(2)
	// The first packets may reach the subscriber before its SRTP is ready: judge the
	// stream from here on.
	from := r.sub.count() - 1
	switches := r.eng.Stats().LayerSwitches
	for _, tc := range []struct {
		w, h, layer int
	}{{320, 180, 0}, {1280, 720, 2}, {600, 300, 1}, {200, 100, 0}, {1920, 1080, 2}} {
		before := r.pub.pliCount(tc.layer)
		r.view(camTile(tc.w, tc.h))
		r.settleOn(tc.layer)
		if r.pub.pliCount(tc.layer) == before {
			t.Errorf("tile %dx%d: no keyframe request to layer %s", tc.w, tc.h, layerRIDs[tc.layer])
		}
	}
	got := r.sub.packets()[from:]
	checkContinuous(t, got)
	st := r.eng.Stats()
	if n := st.LayerSwitches - switches; n != 5 {
		t.Errorf("%d layer switches counted, want 5", n)
	}
	if st.SendingLayer != [maxLayers]int64{0, 0, 1} {
		t.Errorf("subscriptions sending q, h, f: %v, want 0, 0, 1", st.SendingLayer)
	}
}

// TestSubscribeTwiceKeepsOneSubscription: Join and publish may both subscribe someone to
// the same track (a join while the track is published); the second is a no-op, else the
// first subscription would stay in the track's fan-out, out of reach of the view.
func TestSubscribeTwiceKeepsOneSubscription(t *testing.T) {
	r := newSimRig(t)
	up := r.subTrack().up
	r.subP.subscribe(up)
	if n := len(*up.subs.Load()); n != 1 {
		t.Fatalf("the track fans out to %d subscriptions, want 1", n)
	}
	if n := len(r.subP.subscriptions()); n != 1 {
		t.Fatalf("the subscriber has %d subscriptions, want 1", n)
	}
}

// TestSimulcastHiddenTileGetsNothing: a subscriber whose view leaves the camera out gets
// no packet of it and asks for no keyframe; shown again, it starts at a keyframe and
// the stream goes on without a gap.
func TestSimulcastHiddenTileGetsNothing(t *testing.T) {
	r := newSimRig(t)
	r.view(camTile(320, 180))
	r.settleOn(0)
	from := r.sub.count() - 1
	// Keyframe requests from before (still deferred, or on their way) are not the
	// hidden track's: wait until every one sent has reached the publisher.
	plis := func() (n [maxLayers]int, sum int) {
		for i := range n {
			n[i] = r.pub.pliCount(i)
			sum += n[i]
		}
		return n, sum
	}
	conntest.Eventually(t, "keyframe requests settled", func() bool {
		if r.keyframeDeferred() {
			r.stepIfKeyframeDeferred()
			return false
		}
		_, sum := plis()
		return uint64(sum) == r.eng.Stats().KeyframeRequestsSent
	})
	before, _ := plis()
	sentBefore := r.eng.Stats().KeyframeRequestsSent
	r.view() // shows nothing
	if w := ctlWant(r.subTrack().ctl.Load()); w != -1 {
		t.Fatalf("right after the hide the subscription wants layer %d", w)
	}
	// Frames sent while hidden: from the first frame after the view on.
	r.pub.mu.Lock()
	hiddenFrom := r.pub.frame + 1
	r.pub.mu.Unlock()
	for i := 0; i < 50; i++ {
		r.pub.sendRound()
	}
	r.pub.mu.Lock()
	hiddenTo := r.pub.frame
	r.pub.mu.Unlock()
	if w := ctlWant(r.subTrack().ctl.Load()); w != -1 {
		t.Fatalf("after the hidden rounds the subscription wants layer %d", w)
	}
	// The claim is about what the server reads while the tile is hidden. On a loaded
	// machine its reader may still be behind the publisher when the test shows the tile
	// again, and frames it then reads go to a shown tile, rightly: so wait until it has
	// read the last one sent (this was the test's flake, 3-6 in 80 runs under load).
	r.pub.mu.Lock()
	lastSeq := r.pub.layers[0].seq
	r.pub.mu.Unlock()
	conntest.Eventually(t, "the server to read the frames sent while hidden", func() bool { return r.subTrack().up.layer(0).cache.get(lastSeq) != nil })
	if sent := r.eng.Stats().KeyframeRequestsSent; sent != sentBefore {
		t.Errorf("%d keyframe requests sent while the camera was hidden", sent-sentBefore)
	}
	if after, _ := plis(); after != before {
		t.Errorf("keyframe requests per layer %v while hidden, %v before", after, before)
	}
	r.view(camTile(320, 180))
	r.pumpUntil("the camera shown again", func() bool { return r.sub.last().frame > hiddenTo })
	got := r.sub.packets()
	for _, p := range got {
		if p.frame >= hiddenFrom && p.frame <= hiddenTo {
			var fr []string
			for _, q := range got[from:] {
				fr = append(fr, fmt.Sprintf("%d/%d", q.frame, q.layer))
			}
			// Who was sending: every subscription in the track's fan-out, and whether
			// the subscriber knows it (a subscription outside p.downs is beyond the
			// view's reach).
			var fan []string
			up := r.subTrack().up
			if subs := up.subs.Load(); subs != nil {
				for _, d := range *subs {
					r.subP.mu.Lock()
					known := r.subP.downs[d.up] == d
					r.subP.mu.Unlock()
					fan = append(fan, fmt.Sprintf("{known %v want %d ideal %d skip %b}", known, ctlWant(d.ctl.Load()), d.ideal.Load()-1, d.skip.Load()&7))
				}
			}
			t.Fatalf("frame %d (sent while hidden %d..%d) reached the subscriber; replayed %d; fan-out %v; %v", p.frame, hiddenFrom, hiddenTo, r.eng.Stats().KeyframesReplayed, fan, fr)
		}
	}
	checkContinuous(t, got[from:])
}

// TestSimulcastNackAfterSwitch: NACKs name the sequence numbers the subscriber got;
// after a switch the SFU resends, from the right layer's cache, the very packets sent
// under those numbers, before and after the switch.
func TestSimulcastNackAfterSwitch(t *testing.T) {
	r := newSimRig(t)
	r.view(camTile(1280, 720))
	r.settleOn(2)
	r.view(camTile(320, 180))
	r.settleOn(0)
	got := r.sub.packets()
	var before, after simPacket
	for i := len(got) - 1; i > 0; i-- {
		if got[i].layer == 0 && got[i-1].layer == 2 {
			before, after = got[i-2], got[i+1]
			break
		}
	}
	if before.layer != 2 || after.layer != 0 {
		t.Fatalf("no switch from f to q among %d packets", len(got))
	}
	r.sub.mu.Lock()
	ssrc := r.sub.ssrc
	r.sub.mu.Unlock()
	n := r.sub.count()
	if err := r.sub.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: ssrc,
		Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{before.seq, after.seq})}}); err != nil {
		t.Fatal(err)
	}
	resent := map[uint16]simPacket{}
	conntest.Eventually(t, "the retransmissions", func() bool {
		for _, p := range r.sub.packets()[n:] {
			if p.seq == before.seq || p.seq == after.seq {
				resent[p.seq] = p
			}
		}
		return len(resent) == 2
	})
	for _, want := range []simPacket{before, after} {
		if got := resent[want.seq]; got != want {
			t.Errorf("sequence number %d resent as %+v, want %+v", want.seq, got, want)
		}
	}
}

// TestSimulcastSenderReportOfLayerSent: a subscription forwards the sender reports of
// the layer it sends, with timestamps on its own stream's timeline, and not those of the
// other layers.
func TestSimulcastSenderReportOfLayerSent(t *testing.T) {
	r := newSimRig(t)
	r.view(camTile(320, 180))
	r.settleOn(0)
	r.pub.mu.Lock()
	q, f := r.pub.layers[0], r.pub.layers[2]
	qts, fts := q.ts, f.ts
	r.pub.mu.Unlock()
	if err := r.pub.pc.WriteRTCP([]rtcp.Packet{&rtcp.SenderReport{SSRC: f.ssrc, NTPTime: 1 << 32, RTPTime: fts}}); err != nil {
		t.Fatal(err)
	}
	if err := r.pub.pc.WriteRTCP([]rtcp.Packet{&rtcp.SenderReport{SSRC: q.ssrc, NTPTime: 2 << 32, RTPTime: qts}}); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the sender report", func() bool { return len(r.sub.reports()) > 0 })
	srs := r.sub.reports()
	if len(srs) != 1 || srs[0].NTPTime != 2<<32 {
		t.Fatalf("the subscriber got reports %+v, want only q's", srs)
	}
	// The report maps q's last timestamp to the last one the subscriber is sent. Packets
	// of the last round may still be on their way: once they are in, the subscriber's
	// last packet carries the report's timestamp (nothing is sent after the report).
	conntest.Eventually(t, fmt.Sprintf("the subscriber's last packet at the report's timestamp %d (q's %d)", srs[0].RTPTime, qts), func() bool {
		return r.sub.last().ts == srs[0].RTPTime
	})
}

// TestSimulcastEncodingsFollowSubscribers: the publisher is told the layers subscribers
// need, plus the lowest while anyone shows the camera: a layer needed is asked for at
// once, one no longer needed is let go after three seconds without need (on the fake
// clock), and nothing at all once nobody shows the camera.
func TestSimulcastEncodingsFollowSubscribers(t *testing.T) {
	r := newSimRig(t)
	r.settleOn(2)
	// Without a view the subscriber needs f; h goes three seconds after it was last
	// needed (settling on f may have moved the clock on since).
	if got := r.takeEncodings(); len(got) != 0 {
		t.Fatalf("encodings %v before any layer was unneeded for 3 s", got)
	}
	due := r.unneededSince(1).Add(encodingOffDelay)
	left := due.Sub(r.clock.Now())
	if left <= time.Millisecond {
		t.Fatalf("h unneeded for %v before the test could look", encodingOffDelay-left)
	}
	r.advance(left - time.Millisecond)
	if got := r.takeEncodings(); len(got) != 0 {
		t.Fatalf("encodings %v before 3 s", got)
	}
	r.advance(time.Millisecond)
	r.waitEncodings("q", "f")

	// A small tile: f goes after three seconds, unless it is needed again before.
	r.view(camTile(320, 180))
	r.advance(2 * time.Second)
	r.view(camTile(1280, 720))
	r.advance(2 * time.Second)
	if got := r.takeEncodings(); len(got) != 0 {
		t.Fatalf("encodings %v although f was needed again", got)
	}
	r.view(camTile(320, 180))
	r.settleOn(0)
	r.advance(encodingOffDelay)
	r.waitEncodings("q")

	// A middle tile needs h: at once.
	r.view(camTile(640, 360))
	r.waitEncodings("q", "h")
	r.settleOn(1)

	// Hidden: nothing after three seconds.
	r.view()
	if got := r.takeEncodings(); len(got) != 0 {
		t.Fatalf("encodings %v at once on hiding", got)
	}
	r.advance(encodingOffDelay)
	r.waitEncodings()
	// Shown again: the layer and the lowest, at once.
	r.view(camTile(1280, 720))
	r.waitEncodings("q", "f")
}

// TestSimulcastEncodingsAskForTheAllottedLayer: a subscriber whose bandwidth allows h
// under a tile that calls for f has the publisher asked for h as well (the allocation
// gives layers nobody else may take, in a climb or a probe, and they must arrive to be
// taken), and gets it.
func TestSimulcastEncodingsAskForTheAllottedLayer(t *testing.T) {
	r := newSimRig(t)
	r.settleOn(2)
	r.advance(encodingOffDelay)
	r.waitEncodings("q", "f")
	d := r.subTrack()
	r.pumpTicking("q and f live, h paused", func() bool {
		in := d.up.layerInfos()
		return in[0].live && in[2].live && in[1].held
	})
	r.subP.bw.alloc.Store(&allocation{d.up: 1})
	d.choose()
	r.waitEncodings("q", "h", "f")
	r.pumpTicking("layer h", r.lastAre(1, 5))
}
