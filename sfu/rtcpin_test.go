package sfu

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

// datagramRecorder keeps a copy of every datagram keep picks that its peer sends (its
// SRTCP, or its SRTP), so a test can send one again (a replay) or a changed one (a
// forgery) from the same address.
type datagramRecorder struct {
	net.PacketConn
	keep func([]byte) bool
	mu   sync.Mutex
	sent [][]byte
	to   net.Addr
	// divert, when set, may take a datagram instead of the socket (reporting true), as
	// a TURN relay on the server's machine hands the SFU what it takes in memory.
	divert func(b []byte) bool
}

func (c *datagramRecorder) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	if c.keep(b) {
		c.sent, c.to = append(c.sent, bytes.Clone(b)), addr
	}
	divert := c.divert
	c.mu.Unlock()
	if divert != nil && divert(b) {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

func (c *datagramRecorder) last() ([]byte, net.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sent) == 0 {
		return nil, nil
	}
	return c.sent[len(c.sent)-1], c.to
}

// recordingAPI is a peer's API over a socket that records what keep picks.
func recordingAPI(t *testing.T, keep func([]byte) bool, replayProtection bool) (*webrtc.API, *datagramRecorder) {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn := &datagramRecorder{PacketConn: raw, keep: keep}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { _ = mux.Close() })
	s := testPeerSettings()
	s.SetICEUDPMux(mux)
	s.DisableSRTPReplayProtection(!replayProtection)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(s)), conn
}

// recordingSubscriberAPI records the subscriber's SRTCP. The retransmission the tests
// ask for repeats a packet the subscriber has: its SRTP replay window would refuse it.
func recordingSubscriberAPI(t *testing.T) (*webrtc.API, *datagramRecorder) {
	t.Helper()
	return recordingAPI(t, isRTCP, false)
}

// waitRegistered waits until the subscriber's SRTCP is read in the socket's reader
// (the DTLS callback registers it a moment after the first packet can be sent).
func waitRegistered(t *testing.T, r *mediaRig) {
	t.Helper()
	conntest.Eventually(t, "the subscriber's SRTCP read by the SFU", func() bool {
		r.subP.routeMu.Lock()
		defer r.subP.routeMu.Unlock()
		return r.subP.rtcpFrom.IsValid()
	})
}

// TestSubscriberRTCPIsReadInTheSocketReader: a subscriber's NACK and keyframe request
// are served by the SFU's own SRTCP reader (counted there, answered as before); the
// same datagram sent again, a changed one and an unencrypted one from the
// subscriber's address are dropped and change nothing, and the genuine feedback after
// them is still served.
func TestSubscriberRTCPIsReadInTheSocketReader(t *testing.T) {
	api, rec := recordingSubscriberAPI(t)
	r := newMediaRigWith(t, api)
	waitRegistered(t, r)
	ssrc := r.subSSRC()
	seq := r.pub.send()
	conntest.Eventually(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
	r.clock.Advance(subscriberKeyframeInterval) // past the join's request
	before := r.eng.Stats()

	nack := &rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{seq})}
	r.sendSubscriberRTCP([]rtcp.Packet{nack, &rtcp.PictureLossIndication{MediaSSRC: ssrc}}, before.KeyframeRequestsReceived+1)
	conntest.Eventually(t, "the retransmission at the subscriber", func() bool {
		r.sub.mu.Lock()
		defer r.sub.mu.Unlock()
		return r.sub.got[seq] == 2
	})
	// The reader counts a datagram read once it has served it: the retransmission can
	// be out before that.
	waitRead(t, r, before.SubscriberRTCPRead)
	st := r.eng.Stats()
	if st.Retransmissions != before.Retransmissions+1 {
		t.Fatalf("retransmissions %d → %d, want one", before.Retransmissions, st.Retransmissions)
	}

	genuine, to := rec.last()
	if genuine == nil {
		t.Fatal("the subscriber's SRTCP was not recorded")
	}
	changed := bytes.Clone(genuine)
	changed[len(changed)/2] ^= 0x40
	plain, err := rtcp.Marshal([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	if err != nil {
		t.Fatal(err)
	}
	for i, bad := range [][]byte{genuine, changed, plain} {
		if _, err := rec.PacketConn.WriteTo(bad, to); err != nil {
			t.Fatal(err)
		}
		conntest.Eventually(t, "the forged SRTCP refused", func() bool { return r.eng.Stats().SubscriberRTCPRefused == st.SubscriberRTCPRefused+uint64(i+1) })
	}
	after := r.eng.Stats()
	if after.KeyframeRequestsReceived != st.KeyframeRequestsReceived || after.Retransmissions != st.Retransmissions ||
		after.NACKsReceived != st.NACKsReceived || after.SubscriberRTCPRead != st.SubscriberRTCPRead {
		t.Fatalf("a replayed or forged SRTCP packet changed something: before %+v, after %+v", st, after)
	}

	r.clock.Advance(rtxRepairWindow + subscriberKeyframeInterval)
	r.sendSubscriberRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}, after.KeyframeRequestsReceived+1)
	waitRead(t, r, after.SubscriberRTCPRead)
}

// waitRead waits until the SFU's own SRTCP reader has read a datagram more than was: a
// request served on Pion's path instead counts there only, and this wait times out.
func waitRead(t *testing.T, r *mediaRig, was uint64) {
	t.Helper()
	conntest.Eventually(t, "the subscriber's SRTCP read by the SFU", func() bool { return r.eng.Stats().SubscriberRTCPRead > was })
}

// TestSubscriberRTCPFollowsTheRoute: the SRTCP reader is registered for the selected
// pair's address, moves with it, leaves a route over ICE-TCP to Pion, and is gone
// once the participant is.
func TestSubscriberRTCPFollowsTheRoute(t *testing.T) {
	r := newMediaRigAPIs(t, testPeerAPI(t), testPeerAPI(t), withPionSubscribe)
	waitRegistered(t, r)
	routes := &r.eng.subRTCP
	lookup := routes.lookup
	first := r.subP.route.Load().ap
	in := lookup(first)
	if in == nil || in.p != r.subP {
		t.Fatalf("nothing registered for the selected pair's address %v", first)
	}
	moved := netip.MustParseAddrPort("127.0.0.1:9")
	r.subP.setRoute(&route{ap: moved})
	if lookup(first) != nil || lookup(moved) != in {
		t.Fatal("the reader did not move with the route")
	}
	if n := r.subP.rtcpReaders.Load(); n != 0 {
		t.Fatalf("%d subscriptions read Pion's RTCP while the socket reader serves it, want 0", n)
	}
	r.subP.setRoute(&route{tcp: nopPacketConn{}, raddr: &net.TCPAddr{}})
	if lookup(moved) != nil {
		t.Fatal("a route over ICE-TCP kept the UDP reader")
	}
	// Over ICE-TCP the RTCP takes Pion's path: the subscription reads it again.
	conntest.Eventually(t, "the subscription's own RTCP reader", func() bool { return r.subP.rtcpReaders.Load() == 1 })
	r.subP.setRoute(&route{ap: first})
	r.subP.Close()
	if lookup(first) != nil {
		t.Fatal("the reader outlived its participant")
	}
}

// nopPacketConn is a route's connection that takes what is written and sends nothing:
// the rig's publisher keeps sending while the test moves the route onto it.
type nopPacketConn struct{ net.PacketConn }

func (nopPacketConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }
func (nopPacketConn) Close() error                              { return nil }

// fuzzRTCPKeys are the keys FuzzSubscriberRTCP encrypts with.
var fuzzRTCPKeys = srtp.SessionKeys{
	RemoteMasterKey:  bytes.Repeat([]byte{7}, 16),
	RemoteMasterSalt: bytes.Repeat([]byte{9}, 12),
}

// subscriberRoute is a socket reader's routes with one subscribe connection read
// there, at the address it returns, keyed with fuzzRTCPKeys.
func subscriberRoute(t *testing.T) (*rtcpRoutes, netip.AddrPort) {
	t.Helper()
	return subscriberRouteOn(t, time.Now)
}

// subscriberRouteOn is subscriberRoute on the clock now.
func subscriberRouteOn(t *testing.T, now func() time.Time) (*rtcpRoutes, netip.AddrPort) {
	t.Helper()
	p := &Participant{downs: map[*upTrack]*downTrack{}}
	in, err := newRTCPIn(p, fuzzRTCPKeys, srtp.ProtectionProfileAeadAes128Gcm, now)
	if err != nil {
		t.Fatal(err)
	}
	routes := &rtcpRoutes{}
	ap := netip.MustParseAddrPort("127.0.0.1:5000")
	routes.set(ap, in)
	return routes, ap
}

// fuzzSRTCPSender encrypts as that subscriber does.
func fuzzSRTCPSender(t *testing.T) *srtp.Context {
	t.Helper()
	sender, err := srtp.CreateContext(fuzzRTCPKeys.RemoteMasterKey, fuzzRTCPKeys.RemoteMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	return sender
}

// FuzzSubscriberRTCP: whatever arrives from a subscriber's address, raw or encrypted
// with its keys, the reader takes it, never panics, and serves only what decrypts.
func FuzzSubscriberRTCP(f *testing.F) {
	for _, pkts := range [][]rtcp.Packet{
		{&rtcp.PictureLossIndication{MediaSSRC: 1}},
		{&rtcp.ReceiverReport{SSRC: 2, Reports: []rtcp.ReceptionReport{{SSRC: 1}}}, &rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: []rtcp.NackPair{{PacketID: 5, LostPackets: 3}}}},
		fuzzFeedback(),
		{&rtcp.FullIntraRequest{MediaSSRC: 1, FIR: []rtcp.FIREntry{{SSRC: 1}}}},
	} {
		b, err := rtcp.Marshal(pkts)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		f.Add(b, false)
	}
	f.Add([]byte{0x80, 0xc8, 0, 1, 0, 0, 0, 1}, true)
	f.Fuzz(func(t *testing.T, b []byte, encrypt bool) {
		routes, ap := subscriberRoute(t)
		if encrypt && isRTCP(b) {
			sender := fuzzSRTCPSender(t)
			if enc, err := sender.EncryptRTCP(nil, b, nil); err == nil {
				b = enc
			}
		}
		took := routes.take(b, ap)
		if took != isRTCP(b) {
			t.Fatalf("took %v, isRTCP %v", took, isRTCP(b))
		}
		if routes.take(b, netip.MustParseAddrPort("127.0.0.1:5001")) {
			t.Fatal("a datagram from an unknown address was taken")
		}
		if routes.read.Load()+routes.refused.Load() != map[bool]uint64{true: 1, false: 0}[took] {
			t.Fatal("a datagram taken was not counted once")
		}
	})
}

// TestSubscriberFeedbackReachesTheEstimator: transport-cc feedback read in the socket
// reader is the connection's estimator's.
func TestSubscriberFeedbackReachesTheEstimator(t *testing.T) {
	r := newMediaRig(t)
	waitRegistered(t, r)
	est, ok := r.subP.bw.est.(*estimator)
	if !ok {
		t.Fatal("the subscriber has no estimator")
	}
	fed := func() bool {
		est.mu.Lock()
		defer est.mu.Unlock()
		return est.haveRef
	}
	if fed() {
		t.Fatal("the estimator had feedback before any was sent")
	}
	read := r.eng.Stats().SubscriberRTCPRead
	rec := twcc.NewRecorder(1)
	rec.Record(r.subSSRC(), 1, 1000)
	rec.Record(r.subSSRC(), 2, 1250)
	fb := rec.BuildFeedbackPacket()
	if len(fb) == 0 {
		t.Fatal("no feedback built")
	}
	if err := r.sub.pc.WriteRTCP(fb); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the feedback read by the SFU", func() bool { return r.eng.Stats().SubscriberRTCPRead > read })
	if !fed() {
		t.Fatal("the feedback read by the SFU did not reach the estimator")
	}
}

// fuzzFeedback is transport-cc feedback for two packets, as a subscriber sends it.
func fuzzFeedback() []rtcp.Packet {
	rec := twcc.NewRecorder(2)
	rec.Record(1, 5, 1000)
	rec.Record(1, 7, 1900)
	return rec.BuildFeedbackPacket()
}

// TestSSRCIndexFollowsBindings: the socket reader finds a subscription by the SSRC it
// is bound to, until it is unbound; unbinding one never removes another's.
func TestSSRCIndexFollowsBindings(t *testing.T) {
	p := &Participant{}
	a, b := &downTrack{}, &downTrack{}
	if p.downBySSRC(1) != nil {
		t.Fatal("an empty index found a subscription")
	}
	p.indexSSRC(1, a, true)
	p.indexSSRC(2, b, true)
	if p.downBySSRC(1) != a || p.downBySSRC(2) != b || p.downBySSRC(3) != nil {
		t.Fatal("the index does not follow the bindings")
	}
	p.indexSSRC(1, b, false) // not b's
	if p.downBySSRC(1) != a {
		t.Fatal("unbinding b removed a")
	}
	p.indexSSRC(1, a, false)
	if p.downBySSRC(1) != nil || p.downBySSRC(2) != b {
		t.Fatal("unbinding a did not remove it alone")
	}
}

// overlongFeedback is transport-cc feedback in 40 bytes that claims 65535 packets not
// received, in nine run-length chunks.
func overlongFeedback() []byte {
	b := []byte{0x8f, 205, 0, 9, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1, 0xff, 0xff, 0, 0, 1, 0}
	for range 8 {
		b = append(b, 0x1f, 0xff) // not received, 8191 times
	}
	return append(b, 0x00, 0x07, 0, 0) // 7 more, and padding to a word
}

// TestOverlongFeedbackIsRefused: a datagram whose transport-cc feedback claims more
// packets than maxFeedbackStatuses is refused before it is parsed (Pion's parser makes
// room for every packet claimed), alone or beside honest packets; honest feedback is
// read.
func TestOverlongFeedbackIsRefused(t *testing.T) {
	honest, err := rtcp.Marshal(fuzzFeedback())
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := feedbackClaims(honest); n != 3 {
		t.Fatalf("honest feedback claims %d statuses, want 3", n)
	}
	if n, _ := feedbackClaims(append(append([]byte(nil), honest...), overlongFeedback()...)); n != 3+65535 {
		t.Fatalf("a compound packet claims %d statuses, want %d", n, 3+65535)
	}
	routes, ap := subscriberRoute(t)
	send := srtcpSender(t, routes, ap)
	send(overlongFeedback())
	send(append(append([]byte(nil), honest...), overlongFeedback()...))
	if r, f := routes.read.Load(), routes.refused.Load(); r != 0 || f != 2 {
		t.Fatalf("read %d, refused %d; want the overlong feedback refused twice", r, f)
	}
	send(honest)
	if r := routes.read.Load(); r != 1 {
		t.Fatalf("honest feedback: read %d", r)
	}
}

// srtcpSender returns a function that encrypts a plain compound RTCP packet as the
// subscriber at ap and hands it to routes, failing the test if routes does not take it.
func srtcpSender(t *testing.T, routes *rtcpRoutes, ap netip.AddrPort) func(plain []byte) {
	t.Helper()
	sender := fuzzSRTCPSender(t)
	return func(plain []byte) {
		t.Helper()
		b, err := sender.EncryptRTCP(nil, plain, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !routes.take(b, ap) {
			t.Fatal("not taken")
		}
	}
}
