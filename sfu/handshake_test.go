package sfu

import (
	"sync/atomic"
	"testing"

	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// TestSubscribeHandshakeHasNoCookieRoundTrip: the subscriber sends one ClientHello,
// not two: the server answers it with its ServerHello, not with a HelloVerifyRequest
// that the client would have to answer with a second one (ICE has already proved
// the subscriber's address).
func TestSubscribeHandshakeHasNoCookieRoundTrip(t *testing.T) {
	var hellos atomic.Int32
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	s := testPeerSettings()
	s.SetDTLSClientHelloMessageHook(func(h handshake.MessageClientHello) handshake.Message {
		hellos.Add(1)
		return &h
	})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(s))
	r := newMediaRigWith(t, api)
	seq := r.pub.send()
	waitFor(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
	if n := hellos.Load(); n != 1 {
		t.Fatalf("the subscriber sent %d ClientHellos, want 1 (no HelloVerifyRequest)", n)
	}
}
