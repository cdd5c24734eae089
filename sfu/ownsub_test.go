package sfu

import (
	"context"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
)

// withOwnSubscribe makes sure the engine runs its subscribe connections itself
// (ownsub.go), as it does unless told otherwise.
func withOwnSubscribe(_ *fakeclock.Clock, cfg *Config) { cfg.pionSubscribe = false }

// withPionSubscribe runs the engine's subscribe connections on Pion's PeerConnection,
// for the tests of that path.
func withPionSubscribe(_ *fakeclock.Clock, cfg *Config) { cfg.pionSubscribe = true }

// TestOwnSubscribeConnection: a Pion peer answers the offer of a subscribe connection
// the server runs itself, connects to its ICE-lite agent, completes DTLS in the role
// it chose and receives the publisher's packets; the server holds no PeerConnection
// for it, and once the handshake is over, none of its goroutines: at once as the DTLS
// client, at the peer's first SRTCP as the server, or after dtlsLinger on the engine's
// clock when the peer sends none.
func TestOwnSubscribeConnection(t *testing.T) {
	for _, tc := range []struct {
		name string
		role webrtc.DTLSRole // the peer's
		rtcp bool
	}{
		{"peer as DTLS server", webrtc.DTLSRoleServer, false},
		{"peer as DTLS client", webrtc.DTLSRoleClient, true},
		{"peer as DTLS client sending no RTCP", webrtc.DTLSRoleClient, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testPeerSettings()
			if err := s.SetAnsweringDTLSRole(tc.role); err != nil {
				t.Fatal(err)
			}
			// No interceptors: the peer sends RTCP only when the test does (Pion's
			// defaults would send receiver reports every second).
			subAPI := webrtc.NewAPI(webrtc.WithSettingEngine(s), webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
			opts := []engineOption{withOwnSubscribe}
			if tc.role == webrtc.DTLSRoleClient && !tc.rtcp {
				opts = append(opts, func(c *fakeclock.Clock, cfg *Config) { cfg.AfterFunc = c.AfterFunc })
			}
			r := newMediaRigAPIs(t, testPeerAPI(t), subAPI, opts...)
			if r.subP.own == nil || r.subP.sub != nil {
				t.Fatal("the subscriber has a PeerConnection")
			}
			seq := r.pub.send()
			conntest.Eventually(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
			if tc.role == webrtc.DTLSRoleClient {
				select {
				case <-r.subP.own.dtls.done:
					t.Fatal("as the DTLS server the server stopped reading before the peer's SRTCP")
				default:
				}
				if tc.rtcp {
					if err := r.sub.pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1}}); err != nil {
						t.Fatal(err)
					}
				} else {
					r.clock.Advance(dtlsLinger)
				}
			}
			conntest.Eventually(t, "the handshake's goroutines to end", func() bool {
				select {
				case <-r.subP.own.dtls.done:
					return true
				default:
					return false
				}
			})
			if tc.role == webrtc.DTLSRoleClient && !tc.rtcp {
				return // 30 s of the engine's clock without a check: no consent to send now
			}
			seq = r.pub.send()
			conntest.Eventually(t, "a packet after the handshake ended", func() bool { return r.sub.has(seq) })
		})
	}
}

var fingerprintLine = regexp.MustCompile(`a=fingerprint:sha-256 [0-9A-F:]+`)

// TestOwnSubscribeRefusesAnotherCertificate: an answer whose fingerprint is not the
// peer's certificate (a forged answer, or a machine in the middle of the media path)
// gets no keys: the handshake fails and nothing is sent.
func TestOwnSubscribeRefusesAnotherCertificate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	_, _, room := newClockedRoom(t, false, withOwnSubscribe)
	subP, err := room.Join("sub")
	if err != nil {
		t.Fatal(err)
	}
	pubP, err := room.Join("pub")
	if err != nil {
		t.Fatal(err)
	}
	spc, err := testPeerAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = spc.Close() })
	got := make(chan struct{}, 1)
	spc.OnTrack(func(*webrtc.TrackRemote, *webrtc.RTPReceiver) { got <- struct{}{} })
	keepPublishingCamera(ctx, t, pubP)
	genuine := answerWith(t, spc, nextSubscribeOffer(ctx, t, subP))
	_, other := testCertificate(t)
	forged := fingerprintLine.ReplaceAllString(genuine, "a=fingerprint:sha-256 "+other["sha-256"])
	if forged == genuine {
		t.Fatal("no fingerprint replaced")
	}
	if err := subP.AcceptSubscribeAnswer(forged); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the handshake to fail", func() bool {
		select {
		case <-subP.own.dtls.done:
			return true
		default:
			return false
		}
	})
	if subP.srtp.Load() != nil {
		t.Fatal("keys from a handshake with another certificate")
	}
	select {
	case <-got:
		t.Fatal("media reached a peer with another certificate")
	default:
	}
}

// TestOwnSubscribeConsent: a subscriber that stops checking loses the server's consent
// to send once the timeout passes on the engine's clock (RFC 7675), while one that
// checks keeps it however far the clock moves; after an ICE restart, as a browser
// makes, it is sent to again.
func TestOwnSubscribeConsent(t *testing.T) {
	conn := &silencedConn{}
	r := ownSubscribeRigOver(t, func(raw net.PacketConn) net.PacketConn { conn.PacketConn = raw; return conn })
	// Ten seconds of the engine's clock while the subscriber checks: after each half
	// second a check arrives before the clock moves on.
	for range 20 {
		answered := r.eng.lites.answered.Load()
		r.clock.Advance(500 * time.Millisecond)
		conntest.Eventually(t, "a check", func() bool { return r.eng.lites.answered.Load() > answered })
	}
	seq := r.pub.send()
	conntest.Eventually(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
	if n := r.eng.Stats().PacketsWithoutRoute; n != 0 {
		t.Fatalf("%d packets without a route while the subscriber checked", n)
	}

	conn.silent.Store(true)
	conntest.Eventually(t, "the server to stop sending to the silent subscriber", func() bool {
		r.clock.Advance(500 * time.Millisecond)
		r.pub.send()
		return r.eng.Stats().PacketsWithoutRoute > 0
	})
	r.noneReachesTheSubscriber()

	conn.silent.Store(false)
	r.restartSubscribeICE()
}

// TestOwnSubscribeOverICETCP: a subscriber that can only use TCP reaches the server's
// lite agent on its ICE-TCP port and gets its media framed there, its RTCP served
// from there; a publisher on TCP only, whose first frame is not for a lite agent, is
// handed on to Pion's TCP mux on the same port, and its SRTP is read by the server.
func TestOwnSubscribeOverICETCP(t *testing.T) {
	tcpOnly := func() *webrtc.API {
		s := testPeerSettings()
		s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
		return webrtc.NewAPI(webrtc.WithSettingEngine(s))
	}
	r := newMediaRigAPIs(t, tcpOnly(), tcpOnly(), withOwnSubscribe, func(_ *fakeclock.Clock, cfg *Config) { cfg.TCPAddr = "127.0.0.1:0" })
	if rt := r.subP.route.Load(); rt == nil || rt.tcp == nil {
		t.Fatalf("route %+v, want one over ICE-TCP", rt)
	}
	seq := r.pub.send()
	conntest.Eventually(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
	// A frame's packets, which the subscriber's writer writes to the connection
	// together (liteTCP.queueFrame), each arrive.
	seqs := r.pub.frame(5, func(int) bool { return true })
	conntest.Eventually(t, "the frame at the subscriber", func() bool {
		for _, s := range seqs {
			if !r.sub.has(s) {
				return false
			}
		}
		return true
	})
	// The publisher's SRTP over ICE-TCP, once its stream is known, is read by the
	// connection's reader (pubTCPConn), as the media socket's reader reads it over UDP.
	conntest.Eventually(t, "the publisher's SRTP read off its ICE-TCP connection", func() bool {
		r.pub.send()
		return r.eng.pubTCP.read.Load() > 0
	})
	seq = r.pub.send()
	conntest.Eventually(t, "a packet read there at the subscriber", func() bool { return r.sub.has(seq) })
	before := r.eng.Stats().KeyframeRequestsReceived
	r.sendSubscriberRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: r.subSSRC()}}, before+1)
	if s := r.eng.Stats(); s.SubscriberRTCPRead == 0 || s.SubscriberRTCPRefused != 0 {
		t.Fatalf("the subscriber's SRTCP over ICE-TCP: %d read, %d refused", s.SubscriberRTCPRead, s.SubscriberRTCPRefused)
	}
}

// TestOwnSubscribeProbesThePeer: after the answer the connection probes the peer's
// candidates as a controlled agent (the peer's ufrag and password, ICE-CONTROLLED),
// again as the engine's clock moves, and stops once the peer has nominated a pair.
func TestOwnSubscribeProbesThePeer(t *testing.T) {
	clock, _, room := newClockedRoom(t, true)
	p, err := room.Join("sub")
	if err != nil {
		t.Fatal(err)
	}
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	o, err := p.own.offer(false)
	if err != nil {
		t.Fatal(err)
	}
	_ = o
	const peerUfrag, peerPwd = "peer", "the-peers-password-1234"
	port := peer.LocalAddr().(*net.UDPAddr).Port
	answer := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-ufrag:" + peerUfrag + "\r\na=ice-pwd:" + peerPwd +
		"\r\na=fingerprint:sha-256 AB:CD\r\na=setup:active\r\na=candidate:1 1 udp 2130706431 127.0.0.1 " + strconv.Itoa(port) + " typ host\r\n"
	p.mu.Lock()
	p.offerPending = true
	p.mu.Unlock()
	if err := p.AcceptSubscribeAnswer(answer); err != nil {
		t.Fatal(err)
	}
	readProbe := func() (*stun.Message, netip.AddrPort) {
		t.Helper()
		buf := make([]byte, 1500)
		_ = peer.SetReadDeadline(time.Now().Add(conntest.Wait))
		n, from, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		var m stun.Message
		if err := stun.Decode(buf[:n], &m); err != nil {
			t.Fatal(err)
		}
		return &m, from
	}
	m, server := readProbe()
	var user stun.Username
	if err := user.GetFrom(m); err != nil || string(user) != peerUfrag+":"+p.own.lite.ufrag {
		t.Fatalf("probe username %q, %v", user, err)
	}
	if m.Type != stun.BindingRequest || !m.Contains(stun.AttrICEControlled) || stun.NewShortTermIntegrity(peerPwd).Check(m) != nil || stun.Fingerprint.Check(m) != nil {
		t.Fatalf("probe %v", m)
	}
	clock.Advance(probeDelays[0])
	readProbe() // the next round

	// The peer, now knowing the server's address, checks it and nominates; it gets
	// the answer and the server's request, which it answers: the pair is selected.
	req := check{username: p.own.lite.ufrag + ":" + peerUfrag, pwd: p.own.lite.pwd, nominate: true}.bytes(t)
	if _, err := peer.WriteToUDPAddrPort(req, server); err != nil {
		t.Fatal(err)
	}
	if m, _ := readProbe(); m.Type != stun.BindingSuccess {
		t.Fatalf("got %v, want the check's answer", m.Type)
	}
	m, _ = readProbe()
	if p.route.Load() != nil {
		t.Fatal("selected before the peer answered the server's request")
	}
	if _, err := peer.WriteToUDPAddrPort(peerReply{pwd: peerPwd}.to(t, m.Raw), server); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the nomination", func() bool { return p.route.Load() != nil })
	for _, d := range probeDelays[1:] {
		clock.Advance(d)
	}
	conntest.Eventually(t, "the probing to stop", func() bool {
		p.own.mu.Lock()
		defer p.own.mu.Unlock()
		return p.own.probeStop == nil
	})
}

// TestOwnSubscribeReusesASection: when a publisher leaves, its section of the
// subscribe connection is freed; the next track of its kind takes the section (as a
// PeerConnection reuses a transceiver) with an SSRC of its own, and the subscriber,
// answering the new offer, receives the new publisher's packets on it.
func TestOwnSubscribeReusesASection(t *testing.T) {
	r := newMediaRigAPIs(t, testPeerAPI(t), testPeerAPI(t), withOwnSubscribe)
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	firstSSRC := r.subSSRC()
	r.pubP.Close()
	answer := func(o *Offer) *Offer {
		t.Helper()
		if o == nil {
			t.Fatal("no offer")
		}
		if err := r.subP.AcceptSubscribeAnswer(answerWith(t, r.sub.pc, o.SDP)); err != nil {
			t.Fatal(err)
		}
		return o
	}
	if o := answer(r.nextOffer(ctx)); len(o.Tracks) != 0 || !strings.Contains(o.SDP, "a=inactive") {
		t.Fatalf("after the publisher left: tracks %v, offer %s", o.Tracks, o.SDP)
	}

	_, pub, o := r.secondCameraOffered(ctx, t)
	if o == nil || len(o.Tracks) != 1 || o.Tracks[0].Mid != "0" || o.Tracks[0].ParticipantID != "second" {
		t.Fatalf("offer %+v, want the second publisher's camera in section 0", o)
	}
	answer(o)
	var seqs []uint16
	conntest.Eventually(t, "the second publisher's packets at the subscriber", func() bool {
		seqs = append(seqs, pub.send())
		for _, s := range seqs {
			if r.sub.has(s) {
				return true
			}
		}
		return false
	})
	if r.subSSRC() == firstSSRC {
		t.Fatal("the reused section kept the first track's SSRC")
	}
}

// nextOffer waits until the subscribe connection needs an offer and makes it: nil when
// ctx ends first or the offer fails. It reports nothing through a testing.T, so it may
// run off the test's goroutine (secondCameraOffered), where t.Fatal must not be called.
func (r *mediaRig) nextOffer(ctx context.Context) *Offer {
	select {
	case <-r.subP.NegotiationNeeded():
	case <-ctx.Done():
		return nil
	}
	o, err := r.subP.NextSubscribeOffer(ctx)
	if err != nil {
		return nil
	}
	return o
}

// secondCameraOffered has a participant "second" join the subscriber's room and
// publish a camera from a Pion peer, and returns it, its publisher and the subscriber's
// next offer (nextOffer, unanswered; nil if none came). The track is published at its
// first packet: the publisher sends until the offer is made.
func (r *mediaRig) secondCameraOffered(ctx context.Context, t *testing.T) (*Participant, *testPublisher, *Offer) {
	t.Helper()
	second, err := r.subP.room.Join("second")
	if err != nil {
		t.Fatal(err)
	}
	pc, track, tr := newCameraSender(t, testPeerAPI(t))
	pub := &testPublisher{t: t, pc: pc, track: track, seq: 30000, sent: map[uint16]*rtp.Packet{}, nacks: map[uint16]int{},
		answer: func(uint16) bool { return true }}
	go pub.readRTCP(tr.Sender())
	publishTo(ctx, t, second, pc, func() map[string]Source { return map[string]Source{tr.Mid(): SourceCamera} })
	offered := make(chan *Offer, 1)
	go func() { offered <- r.nextOffer(ctx) }()
	var o *Offer
	conntest.Eventually(t, "the second publisher's track offered", func() bool {
		pub.send()
		select {
		case o = <-offered:
			return true
		default:
			return false
		}
	})
	return second, pub, o
}
