package sfu

// The simulcast tests' rig (simulcast_test.go): the engine, a Pion publisher of three
// RID layers of VP8-shaped RTP and a Pion subscriber, joined and negotiated.

import (
	"context"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

var simSizes = [maxLayers][2]uint16{{320, 180}, {640, 360}, {1280, 720}}

type simLayer struct {
	track *webrtc.TrackLocalStaticRTP
	ssrc  uint32
	seq   uint16
	ts    uint32
	pid   uint16
	tl0   uint8
	plis  int
	key   bool // the next frame is a keyframe
	sent  bool // a frame was sent: a stream starts with a keyframe
	// written is the last sequence number put on the wire (lossy drops the others);
	// dealt counts the packets sent or dropped since the layer became lossy.
	written uint16
	dealt   int
	// paced is the rest of a keyframe the layer sends one packet of every keyEvery
	// rounds instead of a frame, as a pacer sends a large keyframe at a low rate;
	// waited counts the rounds since its latest packet.
	paced  []*rtp.Packet
	waited int
}

type simPublisher struct {
	t      *testing.T
	pc     *webrtc.PeerConnection
	midID  uint8
	ridID  uint8
	mid    string
	mu     sync.Mutex
	layers [maxLayers]*simLayer
	frame  uint32
	sent   map[uint32]int  // frame number → layer, for what was sent
	silent [maxLayers]bool // layers sendRound leaves out (live_test.go)
	pad    [maxLayers]bool // layers sendRound sends only padding on (live_test.go)
	bulk   [maxLayers]int  // bytes added to each frame's payload (rtxbound_test.go)
	// keyParts is how many packets a keyframe of each layer takes (0: one), and lossy
	// keeps one packet in n of a layer on its way to the server (0: all;
	// decodable_test.go).
	keyParts [maxLayers]int
	lossy    [maxLayers]int
	// unanswered is how many of the next PLIs for each layer the publisher lets pass
	// without a keyframe, as libwebrtc does with a request that comes within 300 ms of
	// one for any layer of the track (decodable_test.go).
	unanswered [maxLayers]int
	// keyEvery paces each layer's keyframes: their packets after the first go one
	// every keyEvery rounds, no frame of the layer meanwhile (0: all at once); keyHole
	// is the packet of each keyframe (from 1) the network loses, never repaired (0:
	// none; decodable_long_test.go).
	keyEvery [maxLayers]int
	keyHole  [maxLayers]int
}

// simPacket is what the subscriber got.
type simPacket struct {
	seq   uint16
	ts    uint32
	pid   uint16
	tl0   uint8
	key   bool
	layer int
	pad   bool // padding only (a train, train.go)
	frame uint32
	size  int // payload bytes
}

type simSubscriber struct {
	pc   *webrtc.PeerConnection
	mu   sync.Mutex
	ssrc uint32
	got  []simPacket
	srs  []rtcp.SenderReport
}

func (s *simSubscriber) reports() []rtcp.SenderReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rtcp.SenderReport(nil), s.srs...)
}

type simRig struct {
	t     *testing.T
	clock *fakeclock.Clock
	eng   *Engine
	room  *Room
	pub   *simPublisher
	pubP  *Participant
	sub   *simSubscriber
	subP  *Participant
}

// newSimRig starts the rig; the publisher never sends the layers named in silent.
func newSimRig(t *testing.T, silent ...int) *simRig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	clock, eng, room := newClockedRoom(t, true)
	r := &simRig{t: t, clock: clock, eng: eng, room: room}
	var err error
	if r.subP, err = room.Join("sub"); err != nil {
		t.Fatal(err)
	}
	if r.pubP, err = room.Join("pub"); err != nil {
		t.Fatal(err)
	}

	// Publisher: three encodings of one sender.
	pc := newPlainPeer(t, webrtc.ConfigureSimulcastExtensionHeaders)
	pub := &simPublisher{t: t, pc: pc, sent: map[uint32]int{}}
	for _, i := range silent {
		pub.silent[i] = true
	}
	tr, sender := addSimulcastCamera(t, pc, pub.newLayer)
	publishTo(ctx, t, r.pubP, pc, func() map[string]Source { return map[string]Source{tr.Mid(): SourceCamera} })
	pub.useSender(tr, sender)
	r.pub = pub

	// Subscriber.
	// The NACK test has packets the subscriber already got sent again: SRTP's replay
	// protection would drop them before the test sees them.
	sm := &webrtc.MediaEngine{}
	if err := sm.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ss := testPeerSettings()
	ss.DisableSRTPReplayProtection(true)
	subAPI := webrtc.NewAPI(webrtc.WithMediaEngine(sm), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(ss))
	spc, err := subAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = spc.Close() })
	sub := &simSubscriber{pc: spc}
	r.sub = sub
	spc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		sub.mu.Lock()
		sub.ssrc = uint32(tr.SSRC())
		sub.mu.Unlock()
		go func() {
			for {
				pkts, _, err := recv.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if sr, ok := p.(*rtcp.SenderReport); ok {
						sub.mu.Lock()
						sub.srs = append(sub.srs, *sr)
						sub.mu.Unlock()
					}
				}
			}
		}()
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			sub.mu.Lock()
			sub.got = append(sub.got, decodeSimPacket(p))
			sub.mu.Unlock()
		}
	})
	negotiated := make(chan error, 1)
	go func() { negotiated <- answerSubscribeOffer(ctx, r.subP, spc) }()
	deadline := time.Now().Add(conntest.Wait)
	for sub.count() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the subscriber never received the publisher's packets; stats %+v, layers %v %v %v", eng.Stats(), pub.pliCount(0), pub.pliCount(1), pub.pliCount(2))
		}
		pub.sendRound()
		select {
		case err := <-negotiated:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Millisecond):
		}
	}
	return r
}

// answerSubscribeOffer answers p's next subscribe offer from pc.
func answerSubscribeOffer(ctx context.Context, p *Participant, pc *webrtc.PeerConnection) error {
	same := func(sdp string) string { return sdp }
	return answerSubscribeOfferAs(ctx, p, pc, same, same)
}

// answerSubscribeOfferAs answers p's next subscribe offer from pc, with the offer's
// and the answer's SDP as editOffer and editAnswer make them.
func answerSubscribeOfferAs(ctx context.Context, p *Participant, pc *webrtc.PeerConnection, editOffer, editAnswer func(string) string) error {
	select {
	case <-p.NegotiationNeeded():
	case <-ctx.Done():
		return ctx.Err()
	}
	o, err := p.NextSubscribeOffer(ctx)
	if err == nil && o == nil {
		err = context.Canceled
	}
	if err == nil {
		err = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: editOffer(o.SDP)})
	}
	var a webrtc.SessionDescription
	if err == nil {
		a, err = pc.CreateAnswer(nil)
	}
	g := webrtc.GatheringCompletePromise(pc)
	if err == nil {
		err = pc.SetLocalDescription(a)
	}
	if err == nil {
		<-g
		err = p.AcceptSubscribeAnswer(editAnswer(pc.LocalDescription().SDP))
	}
	return err
}

// newLayer makes layer i of p's camera, on track: its numbers start apart from the
// other layers'.
func (p *simPublisher) newLayer(i int, track *webrtc.TrackLocalStaticRTP) {
	p.layers[i] = &simLayer{track: track, seq: uint16(1000 + 20000*i), ts: uint32(5_000_000 * (i + 1)), pid: uint16(100 * (i + 1)), tl0: uint8(7 * (i + 1))}
}
