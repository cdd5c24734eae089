package sfu

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
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

// lossyConn loses every nth RTP packet it receives (never STUN, DTLS or RTCP), like
// a subscriber's lossy downlink.
type lossyConn struct {
	net.PacketConn
	every int
	mu    sync.Mutex
	n     int
	lost  int
}

func (c *lossyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || n < 2 || b[0]>>6 != 2 || (b[1] >= 192 && b[1] <= 223) {
			return n, addr, err
		}
		c.mu.Lock()
		c.n++
		drop := c.n%c.every == 0
		if drop {
			c.lost++
		}
		c.mu.Unlock()
		if !drop {
			return n, addr, err
		}
	}
}

// lossySubscriberAPI is a subscriber like a browser's: it NACKs what it misses (Pion's
// generator), behind a link that loses one RTP packet in every.
func lossySubscriberAPI(t *testing.T, every int) (*webrtc.API, *lossyConn) {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	gen, err := nack.NewGeneratorInterceptor(nack.GeneratorInterval(20 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	reg.Add(gen)
	raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn := &lossyConn{PacketConn: raw, every: every}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { _ = mux.Close() })
	s := testPeerSettings()
	s.SetICEUDPMux(mux)
	// The tests send far faster than real media (hundreds of packets in a fraction of a
	// second), so a retransmission can land more than 64 packets behind the newest,
	// outside Pion's SRTP replay window, and be refused there rather than by the SFU.
	s.DisableSRTPReplayProtection(true)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(s)), conn
}

// testPublisher sends VP8-shaped RTP with sequence numbers the test chooses, keeps what
// it sent, and records the RTCP the SFU sends back.
type testPublisher struct {
	t      *testing.T
	pc     *webrtc.PeerConnection
	track  *webrtc.TrackLocalStaticRTP
	ssrc   uint32
	seq    uint16
	mu     sync.Mutex
	sent   map[uint16]*rtp.Packet
	nacks  map[uint16]int // times each packet was asked for
	plis   int
	answer func(seq uint16) bool // whether to resend a NACKed packet
}

// testSubscriber records the sequence numbers and sender reports it receives.
type testSubscriber struct {
	pc    *webrtc.PeerConnection
	mu    sync.Mutex
	track *webrtc.TrackRemote
	got   map[uint16]int
	srs   []rtcp.SenderReport
	// onPacket, when set, sees each packet's header extensions (under mu).
	onPacket func(ext func(id uint8) []byte)
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

func (s *testSubscriber) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *testSubscriber) has(seq uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[seq] > 0
}

func (s *testSubscriber) readRTCP(recv *webrtc.RTPReceiver) {
	for {
		pkts, _, err := recv.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok {
				s.mu.Lock()
				s.srs = append(s.srs, *sr)
				s.mu.Unlock()
			}
		}
	}
}

// send sends the next packet and returns its sequence number.
func (p *testPublisher) send() uint16 {
	seq := p.next()
	p.write(seq)
	return seq
}

// skip takes the next sequence number without sending it: a packet lost on the way.
func (p *testPublisher) skip() uint16 { return p.next() }

// frame makes the next n packets one frame (one timestamp, the marker on the last) and
// sends those send says to; it returns their sequence numbers.
func (p *testPublisher) frame(n int, send func(i int) bool) []uint16 {
	seqs := make([]uint16, n)
	for i := range seqs {
		seqs[i] = p.next()
		p.mu.Lock()
		h := &p.sent[seqs[i]].Header
		h.Timestamp = uint32(seqs[0]) * 3000
		h.Marker = i == n-1
		p.mu.Unlock()
		if send(i) {
			p.write(seqs[i])
		}
	}
	return seqs
}

func (p *testPublisher) next() uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	seq := p.seq
	// Delta frames, so that a subscriber's stream starts with the live packets: a
	// cached keyframe would be replayed to it first (replay.go).
	p.sent[seq] = &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true},
		Payload: []byte{0x10, 0x01, 0x00, 0x9d, 0x01, 0x2a, byte(seq)},
	}
	return seq
}

func (p *testPublisher) write(seq uint16) {
	p.mu.Lock()
	pkt := p.sent[seq]
	p.mu.Unlock()
	if err := p.track.WriteRTP(pkt); err != nil {
		p.t.Errorf("write: %v", err)
	}
}

func (p *testPublisher) readRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication:
				p.mu.Lock()
				p.plis++
				p.mu.Unlock()
			case *rtcp.TransportLayerNack:
				for _, pair := range pkt.Nacks {
					for _, seq := range pair.PacketList() {
						p.mu.Lock()
						p.nacks[seq]++
						resend := p.sent[seq] != nil && p.answer(seq)
						p.mu.Unlock()
						if resend {
							p.write(seq)
						}
					}
				}
			}
		}
	}
}

func (p *testPublisher) nacksFor(seq uint16) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nacks[seq]
}

func (p *testPublisher) pliCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.plis
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
