package sfu

import (
	"context"
	"net"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The tests in this file run the real engine on 127.0.0.1 with Go Pion peers that have
// no interceptors, so every NACK, PLI and sender report on the wire is the SFU's or the
// test's own. Loss is made at the publisher: it leaves out packets and answers (or not)
// the NACKs that ask for them. The engine's clock is fake; tests wait for each packet or
// RTCP message to arrive before moving it, so verdicts do not depend on machine speed.

// defaultMediaEngine is a media engine with Pion's default codecs, for a test's own
// Pion peer.
func defaultMediaEngine(t testing.TB) *webrtc.MediaEngine {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	return m
}

func testPeerAPI(t *testing.T) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	// An empty registry: without one Pion registers its default interceptors.
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
		webrtc.WithSettingEngine(testPeerSettings()))
}

func testPeerSettings() webrtc.SettingEngine {
	var s webrtc.SettingEngine
	s.SetIncludeLoopbackCandidate(true)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return s
}

type mediaRig struct {
	t     *testing.T
	clock *fakeclock.Clock
	eng   *Engine
	pub   *testPublisher
	sub   *testSubscriber
	subP  *Participant
	pubP  *Participant
}

// newMediaRig starts an engine, a subscriber and a publisher of one camera track, and
// returns once the subscriber receives the publisher's packets.
func newMediaRig(t *testing.T) *mediaRig {
	t.Helper()
	return newMediaRigWith(t, testPeerAPI(t))
}

// newClockedRoom starts an engine on 127.0.0.1 whose clock is a fake one (and its
// timers too, with timers) and a room in it, both closed when the test ends. Each
// option may change the engine's configuration, seeing the clock.
func newClockedRoom(t *testing.T, timers bool, options ...engineOption) (*fakeclock.Clock, *Engine, *Room) {
	t.Helper()
	clock := fakeclock.New(time.Unix(1_000_000, 0))
	cfg := Config{UDPAddr: "127.0.0.1:0", Loopback: true, Now: clock.Now}
	if timers {
		cfg.AfterFunc = clock.AfterFunc
	}
	for _, o := range options {
		o(clock, &cfg)
	}
	eng, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	room := eng.NewRoom()
	t.Cleanup(func() {
		room.Close()
		_ = eng.Close()
	})
	return clock, eng, room
}

// newCameraSender is a peer connection of api's that sends one VP8 track.
func newCameraSender(t *testing.T, api *webrtc.API) (*webrtc.PeerConnection, *webrtc.TrackLocalStaticRTP, *webrtc.RTPTransceiver) {
	t.Helper()
	return newSenderOf(t, api, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video")
}

// newSenderOf is a peer connection of api's that sends one track of codec, its id id.
func newSenderOf(t *testing.T, api *webrtc.API, codec webrtc.RTPCodecCapability, id string) (*webrtc.PeerConnection, *webrtc.TrackLocalStaticRTP, *webrtc.RTPTransceiver) {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	track, err := webrtc.NewTrackLocalStaticRTP(codec, id, "pub")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	return pc, track, tr
}

// newMediaRigWith is newMediaRig with the subscriber's API given.
func newMediaRigWith(t *testing.T, subAPI *webrtc.API) *mediaRig {
	t.Helper()
	return newMediaRigAPIs(t, testPeerAPI(t), subAPI)
}

// engineOption changes a test engine's configuration (newClockedRoom).
type engineOption func(clock *fakeclock.Clock, cfg *Config)

// newMediaRigAPIs is newMediaRig with the publisher's and the subscriber's APIs given.
func newMediaRigAPIs(t *testing.T, api, subAPI *webrtc.API, options ...engineOption) *mediaRig {
	t.Helper()
	return newMediaRigOf(t, api, subAPI, newCameraSender, SourceCamera, options...)
}

// newMediaRigOf is newMediaRigAPIs with the publisher's connection and track made by
// sender and published as source.
func newMediaRigOf(t *testing.T, api, subAPI *webrtc.API,
	sender func(*testing.T, *webrtc.API) (*webrtc.PeerConnection, *webrtc.TrackLocalStaticRTP, *webrtc.RTPTransceiver),
	source Source, options ...engineOption) *mediaRig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	clock, eng, room := newClockedRoom(t, false, options...)
	r := &mediaRig{t: t, clock: clock, eng: eng}

	subP, err := room.Join("sub")
	if err != nil {
		t.Fatal(err)
	}
	r.subP = subP
	pubP, err := room.Join("pub")
	if err != nil {
		t.Fatal(err)
	}
	r.pubP = pubP

	// Publisher.
	pc, track, tr := sender(t, api)
	pub := &testPublisher{t: t, pc: pc, track: track, seq: 1000, sent: map[uint16]*rtp.Packet{}, nacks: map[uint16]int{},
		answer: func(uint16) bool { return true }}
	pub.ssrc = uint32(tr.Sender().GetParameters().Encodings[0].SSRC)
	r.pub = pub
	go pub.readRTCP(tr.Sender())
	publishTo(ctx, t, pubP, pc, func() map[string]Source { return map[string]Source{tr.Mid(): source} })

	// Subscriber: answers the SFU's offer once the track is published.
	spc, err := subAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = spc.Close() })
	sub := &testSubscriber{pc: spc, got: map[uint16]int{}}
	r.sub = sub
	spc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		sub.mu.Lock()
		sub.track = tr
		sub.mu.Unlock()
		go sub.readRTCP(recv)
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			sub.mu.Lock()
			sub.got[p.SequenceNumber]++
			if sub.onPacket != nil {
				sub.onPacket(p.GetExtension)
			}
			sub.mu.Unlock()
		}
	})

	// The SFU publishes the track at its first packet; keep sending until the
	// subscriber is connected and receiving.
	negotiated := make(chan error, 1)
	go func() {
		select {
		case <-subP.NegotiationNeeded():
		case <-ctx.Done():
			negotiated <- ctx.Err()
			return
		}
		o, err := subP.NextSubscribeOffer(ctx)
		if err == nil && o == nil {
			err = context.Canceled
		}
		if err == nil {
			err = spc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP})
		}
		var a webrtc.SessionDescription
		if err == nil {
			a, err = spc.CreateAnswer(nil)
		}
		g := webrtc.GatheringCompletePromise(spc)
		if err == nil {
			err = spc.SetLocalDescription(a)
		}
		if err == nil {
			<-g
			err = subP.AcceptSubscribeAnswer(spc.LocalDescription().SDP)
		}
		negotiated <- err
	}()
	deadline := time.Now().Add(conntest.Wait)
	for sub.count() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the subscriber never received the publisher's packets")
		}
		pub.send()
		if source == SourceMicrophone {
			// A microphone's packets come 10 ms apart on the engine's clock too, so
			// that however long the handshake takes, the audio bound (audiocap.go)
			// never holds back the rig's own.
			clock.Advance(10 * time.Millisecond)
		}
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

// sendSubscriberRTCP sends pkts from the subscriber and waits until the SFU has counted
// n keyframe requests in all.
func (r *mediaRig) sendSubscriberRTCP(pkts []rtcp.Packet, n uint64) {
	r.t.Helper()
	if err := r.sub.pc.WriteRTCP(pkts); err != nil {
		r.t.Fatal(err)
	}
	conntest.Eventually(r.t, "the keyframe request at the SFU", func() bool { return r.eng.Stats().KeyframeRequestsReceived >= n })
}

func (r *mediaRig) subSSRC() uint32 {
	r.sub.mu.Lock()
	defer r.sub.mu.Unlock()
	return uint32(r.sub.track.SSRC())
}

// answerWith has the subscriber's connection spc answer the offer sdp; the answer, once
// gathered.
func answerWith(t *testing.T, spc *webrtc.PeerConnection, sdp string) string {
	t.Helper()
	if err := spc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		t.Fatal(err)
	}
	a, err := spc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(spc)
	if err := spc.SetLocalDescription(a); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return spc.LocalDescription().SDP
}

// restartSubscribeICE restarts the subscriber's ICE as a browser whose connection
// failed does, and waits until the publisher's packets reach it again.
func (r *mediaRig) restartSubscribeICE() {
	t := r.t
	t.Helper()
	r.offerRestart() // restartloss_test.go
	var again []uint16
	conntest.Eventually(t, "packets to reach the subscriber after the restart", func() bool {
		again = append(again, r.pub.send())
		for _, seq := range again {
			if r.sub.has(seq) {
				return true
			}
		}
		return false
	})
}

// noneReachesTheSubscriber sends 20 packets once the server has no route to the
// subscriber: each is counted as without one, and none arrives.
func (r *mediaRig) noneReachesTheSubscriber() {
	t := r.t
	t.Helper()
	before := r.eng.Stats().PacketsWithoutRoute
	var after []uint16
	for range 20 {
		after = append(after, r.pub.send())
	}
	conntest.Eventually(t, "the next 20 packets counted as without a route", func() bool {
		return r.eng.Stats().PacketsWithoutRoute >= before+20
	})
	for _, seq := range after {
		if r.sub.has(seq) {
			t.Errorf("packet %d reached the subscriber after its consent expired", seq)
		}
	}
}
