package sfu

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The rig of the tests that run a Pion subscriber over a socket they shape against
// the subscribe connections the server runs itself (litedtls_test.go,
// litehold_test.go, ownsub_test.go).

// keepPublishingCamera has pub publish a camera whose packets keep coming, one every
// 10 ms, until the test ends: the track is published at its first packet, and a
// subscriber that joins late still gets packets.
func keepPublishingCamera(ctx context.Context, t *testing.T, pub *Participant) {
	t.Helper()
	pc, track, tr := newCameraSender(t, testPeerAPI(t))
	publishTo(ctx, t, pub, pc, func() map[string]Source { return map[string]Source{tr.Mid(): SourceCamera} })
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true}, Payload: []byte{0x10, 0, 0x9d, 0x01, 0x2a}})
		}
	}()
}

// nextSubscribeOffer is p's subscribe offer once it has a track to offer.
func nextSubscribeOffer(ctx context.Context, t *testing.T, p *Participant) string {
	t.Helper()
	select {
	case <-p.NegotiationNeeded():
	case <-ctx.Done():
		t.Fatal("no track to subscribe to")
	}
	o, err := p.NextSubscribeOffer(ctx)
	if err != nil || o == nil {
		t.Fatalf("offer %v, %v", o, err)
	}
	return o.SDP
}

// pionSubscriberOver is a Pion subscriber whose ICE runs over conn, answering in the
// DTLS role role, and a channel closed once it has read an RTP packet of a track.
func pionSubscriberOver(t *testing.T, conn net.PacketConn, role webrtc.DTLSRole) (*webrtc.PeerConnection, <-chan struct{}) {
	t.Helper()
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { _ = mux.Close() })
	s := testPeerSettings()
	s.SetICEUDPMux(mux)
	if err := s.SetAnsweringDTLSRole(role); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(defaultMediaEngine(t)), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(s))
	spc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = spc.Close() })
	got := make(chan struct{})
	var gotOnce sync.Once
	spc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if _, _, err := tr.ReadRTP(); err == nil {
			gotOnce.Do(func() { close(got) })
		}
	})
	return spc, got
}
