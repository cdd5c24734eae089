package sfu

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

// sendPayload sends the next packet with the given VP8 payload.
func (p *testPublisher) sendPayload(payload []byte, marker bool) uint16 {
	p.mu.Lock()
	p.seq++
	seq := p.seq
	p.sent[seq] = &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: marker},
		Payload: payload,
	}
	p.mu.Unlock()
	p.write(seq)
	return seq
}

// orderedSub records every packet a subscriber receives, in arrival order.
type orderedSub struct {
	pc   *webrtc.PeerConnection
	mu   sync.Mutex
	got  []*rtp.Packet
	ssrc webrtc.SSRC // of the track received
}

// sendPLI asks for a keyframe of the track received, as a browser's decoder does.
func (s *orderedSub) sendPLI(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	ssrc := s.ssrc
	s.mu.Unlock()
	if err := s.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(ssrc)}}); err != nil {
		t.Fatal(err)
	}
}

func (s *orderedSub) packets() []*rtp.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*rtp.Packet(nil), s.got...)
}

// joinLate adds a participant to room that subscribes over a Pion peer without
// interceptors, and returns what it receives.
func joinLate(t *testing.T, room *Room, id string) *orderedSub {
	t.Helper()
	p, err := room.Join(id)
	if err != nil {
		t.Fatal(err)
	}
	return subscribeLate(t, p)
}

// subscribeLate answers p's subscribe offer from a Pion peer without interceptors,
// and returns what it receives.
func subscribeLate(t *testing.T, p *Participant) *orderedSub {
	t.Helper()
	pc := newPlainPeer(t)
	s := &orderedSub{pc: pc}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		s.mu.Lock()
		s.ssrc = tr.SSRC()
		s.mu.Unlock()
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.got = append(s.got, pkt)
			s.mu.Unlock()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	t.Cleanup(cancel)
	go func() {
		if err := answerSubscribeOffer(ctx, p, pc); err != nil {
			t.Errorf("late subscriber: %v", err)
		}
	}()
	return s
}

// newPlainPeer is a Pion peer with the default codecs (and what configure adds) and no
// interceptors, closed with the test.
func newPlainPeer(t *testing.T, configure ...func(*webrtc.MediaEngine) error) *webrtc.PeerConnection {
	t.Helper()
	return newPlainPeerWith(t, testPeerSettings(), configure...)
}

// newPlainPeerWith is newPlainPeer with the settings s.
func newPlainPeerWith(t testing.TB, s webrtc.SettingEngine, configure ...func(*webrtc.MediaEngine) error) *webrtc.PeerConnection {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	for _, c := range configure {
		if err := c(m); err != nil {
			t.Fatal(err)
		}
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
		webrtc.WithSettingEngine(s))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// TestLateSubscriberGetsCachedKeyframe: a subscriber that joins after the publisher's
// keyframe is sent that keyframe and everything after it from the SFU's cache, in order
// and without a gap, while the publisher sends nothing (the rig's publisher never answers
// the keyframe request the join makes); the live packets then continue the same stream.
func TestLateSubscriberGetsCachedKeyframe(t *testing.T) {
	r := newMediaRig(t)
	// A keyframe of three packets, then two delta frames.
	key := r.pub.sendPayload([]byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x01}, false)
	r.pub.sendPayload([]byte{0x00, 0xaa, 0xbb}, false)
	r.pub.sendPayload([]byte{0x00, 0xcc, 0xdd}, true)
	r.pub.sendPayload([]byte{0x10, 0x01, 0x00, 0x00}, true)
	last := r.pub.sendPayload([]byte{0x10, 0x01, 0x00, 0x01}, true)
	conntest.Eventually(t, "the packets at the first subscriber", func() bool { return r.sub.has(last) })
	before := r.eng.Stats()

	late := joinLate(t, r.subP.room, "late")
	conntest.Eventually(t, "the replay at the late subscriber", func() bool {
		got := late.packets()
		return len(got) > 0 && got[len(got)-1].SequenceNumber == last
	})
	got := late.packets()
	if got[0].SequenceNumber != key || !startsKeyframe(got[0].Payload) {
		t.Fatalf("first packet %d (keyframe start: %v), want the keyframe's %d", got[0].SequenceNumber, startsKeyframe(got[0].Payload), key)
	}
	for i := 1; i < len(got); i++ {
		if got[i].SequenceNumber != got[i-1].SequenceNumber+1 || got[i].Timestamp < got[i-1].Timestamp {
			t.Fatalf("packet %d: sequence number %d after %d", i, got[i].SequenceNumber, got[i-1].SequenceNumber)
		}
	}
	st := r.eng.Stats()
	if st.KeyframeRequestsReceived != before.KeyframeRequestsReceived+1 {
		t.Errorf("%d keyframe requests, want the join's one more than %d: an encrypted meeting needs a new keyframe",
			st.KeyframeRequestsReceived, before.KeyframeRequestsReceived)
	}
	if st.KeyframesReplayed != before.KeyframesReplayed+1 {
		t.Errorf("%d replays counted, want %d", st.KeyframesReplayed, before.KeyframesReplayed+1)
	}

	// Live packets go on from where the replay ended, none twice.
	for i := 0; i < 5; i++ {
		last = r.pub.send()
	}
	conntest.Eventually(t, "the live packets at the late subscriber", func() bool {
		got := late.packets()
		return got[len(got)-1].SequenceNumber == last
	})
	got = late.packets()
	for i := 1; i < len(got); i++ {
		if got[i].SequenceNumber != got[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d: sequence number %d after %d", i, got[i].SequenceNumber, got[i-1].SequenceNumber)
		}
	}
}

// TestLateSubscriberWithoutReplayAsks: a subscriber that joins when the cached keyframe
// is too old to replay gets no replay, and its subscription asks the publisher for a
// keyframe by itself.
func TestLateSubscriberWithoutReplayAsks(t *testing.T) {
	r := newMediaRig(t)
	r.pub.sendPayload([]byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x01}, true)
	last := r.pub.send()
	conntest.Eventually(t, "the packets at the first subscriber", func() bool { return r.sub.has(last) })
	r.clock.Advance(keyframeReplayAge + 1)
	before := r.eng.Stats()
	late := joinLate(t, r.subP.room, "late")
	conntest.Eventually(t, "the late subscription's keyframe request", func() bool {
		return r.eng.Stats().KeyframeRequestsReceived == before.KeyframeRequestsReceived+1
	})
	noReplay(t, r, late, last, before)
}

// noReplay checks that late, joined after the publisher's packet joined, gets only the
// packets sent after it joined.
func noReplay(t *testing.T, r *mediaRig, late *orderedSub, joined uint16, before Stats) {
	t.Helper()
	// Live packets reach it once its connection is up.
	conntest.Eventually(t, "a live packet at the late subscriber", func() bool {
		r.pub.send()
		return len(late.packets()) > 0
	})
	if got := late.packets(); int16(got[0].SequenceNumber-joined) <= 0 {
		t.Errorf("the late subscriber got %d first, want only packets after %d (nothing replayed)", got[0].SequenceNumber, joined)
	}
	if st := r.eng.Stats(); st.KeyframesReplayed != before.KeyframesReplayed {
		t.Errorf("%d replays, want none", st.KeyframesReplayed-before.KeyframesReplayed)
	}
}

// TestSimulcastLateSubscriberGetsCachedKeyframe: a late subscriber of a simulcast track
// is sent the cached keyframe of the layer it starts with and what followed while the
// publisher sends nothing, and then the live packets: one continuous stream (sequence
// numbers, timestamps, picture IDs, TL0PICIDX).
func TestSimulcastLateSubscriberGetsCachedKeyframe(t *testing.T) {
	r := newSimRig(t)
	r.settleOn(2)
	r.pub.mu.Lock()
	var lastF uint32 // the last frame sent on layer f
	for frame, layer := range r.pub.sent {
		if layer == 2 && frame > lastF {
			lastF = frame
		}
	}
	r.pub.mu.Unlock()
	replayed := r.eng.Stats().KeyframesReplayed

	late := joinLate(t, r.room, "late")
	decoded := func() []simPacket {
		var out []simPacket
		for _, p := range late.packets() {
			out = append(out, decodeSimPacket(p))
		}
		return out
	}
	conntest.Eventually(t, "the replay at the late subscriber", func() bool {
		got := decoded()
		return len(got) > 0 && got[len(got)-1].frame == lastF
	})
	got := decoded()
	if !got[0].key || got[0].layer != 2 {
		t.Fatalf("first packet: keyframe %v of layer %d, want a keyframe of layer f", got[0].key, got[0].layer)
	}
	checkContinuous(t, got)
	if n := r.eng.Stats().KeyframesReplayed; n != replayed+1 {
		t.Errorf("%d replays counted, want %d", n, replayed+1)
	}
	n := len(got)
	r.pumpUntil("live packets at the late subscriber", func() bool { return len(late.packets()) >= n+5 })
	checkContinuous(t, decoded())
}

// TestReplayRun: what the writer replays and drops, without connections. A marker
// replays the keyframe and all after it; the live packets queued meanwhile that it
// carried are dropped. A first live packet replays up to itself. A gap in the cache,
// or a keyframe too old, replays nothing.
func TestReplayRun(t *testing.T) {
	newSub := func(up *upTrack) (*downTrack, *recordingWriter) {
		w := &recordingWriter{}
		q := newIdleSendQueue(4, 4, 4)
		d := &downTrack{up: up, sub: &Participant{out: q}, fw: &forwarder{passthrough: true, rp: replayState{pending: true}}}
		d.binding.Store(&binding{ssrc: 1, pt: 96, stream: w})
		return d, w
	}
	pkt := func(seq uint16, key bool) *packet {
		payload := []byte{0x10, 0x01, 0x00}
		if key {
			payload = []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a}
		}
		return &packet{header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}, payload: payload}
	}
	seqs := func(w *recordingWriter) []uint16 {
		var out []uint16
		for _, h := range w.got() {
			out = append(out, h.SequenceNumber)
		}
		return out
	}
	up := newTestUpTrack()
	c := &up.layer(0).cache
	c.put(pkt(9, false))
	c.putKeyframe(pkt(10, true), time.Now())
	for s := uint16(11); s <= 13; s++ {
		c.put(pkt(s, false))
	}

	d, w := newSub(up)
	d.sub.out.write(sendItem{d: d, p: replayMarker}, false)
	for _, s := range []uint16{12, 13, 14} { // 12 and 13 were queued before the replay
		d.sub.out.write(sendItem{d: d, p: pkt(s, false)}, false)
	}
	if got := seqs(w); !slices.Equal(got, []uint16{10, 11, 12, 13, 14}) {
		t.Errorf("marker: sent %v, want 10..14 once each", got)
	}

	d, w = newSub(up)
	d.sub.out.write(sendItem{d: d, p: pkt(13, false)}, false)
	if got := seqs(w); !slices.Equal(got, []uint16{10, 11, 12, 13}) {
		t.Errorf("first live packet: sent %v, want 10..13", got)
	}

	c.slots[11%cacheSize] = nil // lost on the way in
	d, w = newSub(up)
	d.sub.out.write(sendItem{d: d, p: replayMarker}, false)
	d.sub.out.write(sendItem{d: d, p: pkt(14, false)}, false)
	if got := seqs(w); !slices.Equal(got, []uint16{14}) {
		t.Errorf("gap: sent %v, want the live 14 alone", got)
	}

	if _, ok := c.keyframeRun(time.Now().Add(keyframeReplayAge+time.Second), keyframeReplayAge, 0, true, nil); ok {
		t.Error("a keyframe older than keyframeReplayAge is replayable")
	}
}

// TestBlockedSourceIsNotReplayed: a subscriber that joins while a moderator has
// stopped the camera is not replayed the keyframe cached from before the stop; once
// the camera may send again, the first thing it gets is a new keyframe.
func TestBlockedSourceIsNotReplayed(t *testing.T) {
	r := newMediaRig(t)
	r.pub.sendPayload([]byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x01}, false)
	r.pub.sendPayload([]byte{0x00, 0xaa, 0xbb}, true)
	last := r.pub.sendPayload([]byte{0x10, 0x01, 0x00, 0x01}, true)
	conntest.Eventually(t, "the packets at the first subscriber", func() bool { return r.sub.has(last) })
	r.pubP.Block(SourceCamera, true)
	late := joinLate(t, r.subP.room, "late")
	conntest.Eventually(t, "the late subscriber's connection", func() bool {
		return late.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	// From here nothing cached is young enough to replay, so a replay the server makes
	// later cannot pass for one made while the camera was stopped.
	r.clock.Advance(keyframeReplayAge + time.Second)
	r.pubP.Block(SourceCamera, false)
	// A keyframe sent at one poll must have arrived by a later one (asked at once, the
	// check would wait on the machine's speed).
	var key uint16
	sent := false
	conntest.Eventually(t, "a new keyframe at the late subscriber", func() bool {
		if got := late.packets(); sent && len(got) > 0 && got[len(got)-1].SequenceNumber == key {
			return true
		}
		key, sent = r.pub.sendPayload([]byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x01}, true), true
		return false
	})
	// (A replay the server makes after the camera may send again is of a new keyframe.)
	if got := late.packets(); int16(got[0].SequenceNumber-last) <= 0 {
		t.Fatalf("the late subscriber got %d first, a packet from before the camera was stopped (last %d)", got[0].SequenceNumber, last)
	}
}
