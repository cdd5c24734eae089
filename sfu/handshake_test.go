package sfu

import (
	"sync/atomic"
	"testing"

	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

// TestSubscribeHandshakeHasNoCookieRoundTrip: the server answers the subscriber's
// ClientHello with its ServerHello, not with a HelloVerifyRequest that the client
// would have to answer with a second ClientHello carrying the cookie (ICE has already
// proved the subscriber's address). Judged by the cookie, not by the count: a slow
// machine may make the client retransmit its first ClientHello.
func TestSubscribeHandshakeHasNoCookieRoundTrip(t *testing.T) {
	var hellos, cookies atomic.Int32
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	s := testPeerSettings()
	// The subscriber takes the client's role, as browsers do (a Pion peer answering
	// an ICE-lite offer would take the server's).
	if err := s.SetAnsweringDTLSRole(webrtc.DTLSRoleClient); err != nil {
		t.Fatal(err)
	}
	s.SetDTLSClientHelloMessageHook(func(h handshake.MessageClientHello) handshake.Message {
		hellos.Add(1)
		if len(h.Cookie) > 0 {
			cookies.Add(1)
		}
		return &h
	})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(s))
	r := newMediaRigWith(t, api)
	seq := r.pub.send()
	conntest.Eventually(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
	if n := cookies.Load(); hellos.Load() == 0 || n != 0 {
		t.Fatalf("%d of the subscriber's %d ClientHellos answered a HelloVerifyRequest's cookie, want none", n, hellos.Load())
	}
}
