package sfu

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// silencedConn is a subscriber's socket that can stop sending (a peer gone silent:
// a laptop closed, a network lost) while it still reads what reaches it.
type silencedConn struct {
	net.PacketConn
	silent atomic.Bool
}

func (c *silencedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.silent.Load() {
		return len(b), nil // lost on the way
	}
	return c.PacketConn.WriteTo(b, addr)
}

// TestSilentSubscriberIsNoLongerSent (on Pion's path; TestOwnSubscribeConsent for the
// connections the server runs itself): a subscriber that stops answering (no STUN, no
// RTCP) loses the server's consent to send once its ICE agent fails (RFC 7675): the
// publisher's packets after that are not sent to it, each counted as without a route,
// and none reaches it. When it is back and restarts ICE, as a browser does, the new
// pair is sent to again. The agents' timers are shortened for the test.
func TestSilentSubscriberIsNoLongerSent(t *testing.T) {
	raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn := &silencedConn{PacketConn: raw}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { _ = mux.Close() })
	s := testPeerSettings()
	s.SetICEUDPMux(mux)
	// The agents' timers run on the system's clock, which the test cannot move: a
	// pause of the machine longer than the server's disconnected+failed fails an agent
	// whose peer answers. 3 s each tolerate a 6 s pause; a passing run grows by the
	// added 4 s twice (the span past the timeouts, the silent peer's expiry) and no more.
	const disconnected, failed = 3 * time.Second, 3 * time.Second
	s.SetICETimeouts(2*disconnected, 2*failed, 100*time.Millisecond) // the subscriber's own agent keeps checking while it can
	subAPI := webrtc.NewAPI(webrtc.WithSettingEngine(s))
	r := newMediaRigAPIs(t, testPeerAPI(t), subAPI, withPionSubscribe, func(_ *fakeclock.Clock, cfg *Config) {
		cfg.iceTimeouts = iceTimeouts{disconnected: disconnected, failed: failed, keepalive: 100 * time.Millisecond}
	})
	// Past the timeouts while the subscriber answers: consent holds.
	for start := time.Now(); time.Since(start) < disconnected+failed+time.Second; {
		seq := r.pub.send()
		conntest.Eventually(t, "the subscriber to get the packet", func() bool { return r.sub.has(seq) })
		time.Sleep(100 * time.Millisecond)
	}
	if n := r.eng.Stats().PacketsWithoutRoute; n != 0 {
		t.Fatalf("%d packets without a route while the subscriber answered", n)
	}

	conn.silent.Store(true)
	var sent []uint16
	conntest.Eventually(t, "the server to stop sending to the silent subscriber", func() bool {
		sent = append(sent, r.pub.send())
		return r.eng.Stats().PacketsWithoutRoute > 0
	})
	r.noneReachesTheSubscriber()
	t.Logf("%d packets sent before the route went", len(sent))

	conn.silent.Store(false)
	r.restartSubscribeICE()
}

// ownSubscribeRigOver is a media rig whose subscriber, on a subscribe connection the
// server runs itself, reads and writes its UDP socket through what wrap makes of it
// (a conn that a test silences or thins), checks every 100 ms and never gives up;
// the engine's own agent gives a silent peer up after its consent time, 2 s of the
// engine's clock.
func ownSubscribeRigOver(t *testing.T, wrap func(net.PacketConn) net.PacketConn) *mediaRig {
	t.Helper()
	raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: wrap(raw)})
	t.Cleanup(func() { _ = mux.Close() })
	s := testPeerSettings()
	s.SetICEUDPMux(mux)
	s.SetICETimeouts(time.Hour, time.Hour, 100*time.Millisecond)
	return newMediaRigAPIs(t, testPeerAPI(t), webrtc.NewAPI(webrtc.WithSettingEngine(s)), withOwnSubscribe, func(_ *fakeclock.Clock, cfg *Config) {
		// Pion's agents (the server's publish connection) run on the system's clock,
		// which the test cannot move: they get an hour, as the subscriber's own agent
		// does, so that no pause of a loaded machine fails one whose peer answers. The
		// consent time of the server's own subscribe connection, on the engine's clock,
		// is what the tests count with: 2 s.
		cfg.iceTimeouts = iceTimeouts{disconnected: time.Hour, failed: time.Hour, keepalive: 100 * time.Millisecond}
		cfg.liteConsent = 2 * time.Second
	})
}

// checklessConn is a subscriber's socket that loses the checks its agent sends once
// told to (a link that loses them all), and nothing else: the answers to the
// server's requests still go.
type checklessConn struct {
	net.PacketConn
	noChecks atomic.Bool
}

func (c *checklessConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.noChecks.Load() && isSTUN(b) && b[0] == 0 && b[1] == 1 {
		return len(b), nil // a Binding request, lost on the way
	}
	return c.PacketConn.WriteTo(b, addr)
}

// TestOwnSubscribeConsentWithoutChecks: a subscriber none of whose checks arrive any
// more, but which answers the server's requests, keeps its media: the engine's sweep
// asks its path on the engine's clock once the answer is overdue (liteconsent.go),
// and the answers renew the consent, across five consent times. Asked only at checks,
// it was asked no more and lost them after one.
func TestOwnSubscribeConsentWithoutChecks(t *testing.T) {
	conn := &checklessConn{}
	r := ownSubscribeRigOver(t, func(raw net.PacketConn) net.PacketConn { conn.PacketConn = raw; return conn })
	conn.noChecks.Store(true)
	// Each step leaves the answer overdue (more than a fifth of the 2 s consent time
	// old): the sweep it fires asks, and the clock waits for the answer.
	for range 20 {
		proofs := r.eng.lites.proofs.Load()
		r.clock.Advance(500 * time.Millisecond)
		conntest.Eventually(t, "an answer to the request the sweep sent", func() bool { return r.eng.lites.proofs.Load() > proofs })
	}
	seq := r.pub.send()
	conntest.Eventually(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
	if n := r.eng.Stats().PacketsWithoutRoute; n != 0 {
		t.Fatalf("%d packets without a route while the subscriber answered", n)
	}
}
