package sfu

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

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
	s.SetICETimeouts(2*time.Second, 2*time.Second, 100*time.Millisecond) // the subscriber's own agent keeps checking while it can
	subAPI := webrtc.NewAPI(webrtc.WithSettingEngine(s))
	r := newMediaRigAPIs(t, testPeerAPI(t), subAPI, withPionSubscribe, func(_ *fakeclock.Clock, cfg *Config) {
		// Far longer than the checks' spacing, so a busy machine's pause does not
		// fail an agent whose peer answers.
		cfg.iceTimeouts = iceTimeouts{disconnected: time.Second, failed: time.Second, keepalive: 100 * time.Millisecond}
	})
	// Past the timeouts while the subscriber answers: consent holds.
	for range 25 {
		seq := r.pub.send()
		waitFor(t, "the subscriber to get the packet", func() bool { return r.sub.has(seq) })
		time.Sleep(100 * time.Millisecond)
	}
	if n := r.eng.Stats().PacketsWithoutRoute; n != 0 {
		t.Fatalf("%d packets without a route while the subscriber answered", n)
	}

	conn.silent.Store(true)
	var sent []uint16
	waitFor(t, "the server to stop sending to the silent subscriber", func() bool {
		sent = append(sent, r.pub.send())
		return r.eng.Stats().PacketsWithoutRoute > 0
	})
	r.noneReachesTheSubscriber()
	t.Logf("%d packets sent before the route went", len(sent))

	conn.silent.Store(false)
	r.restartSubscribeICE()
}
