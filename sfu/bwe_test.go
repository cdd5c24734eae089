package sfu

import (
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

// twccSubscriberAPI is a subscriber like a browser's: it acknowledges transport-wide
// sequence numbers in transport-cc feedback (Pion's generator).
func twccSubscriberAPI(t *testing.T) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
		t.Fatal(err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(testPeerSettings()))
}

// TestSubscriberTransportCC: the subscribe connection negotiates transport-wide
// congestion control; every packet forwarded carries the SFU's own transport-wide
// sequence number (the publisher's extensions are stripped), numbered without gaps
// across the connection, and the subscriber's feedback reaches the estimator.
func TestSubscriberTransportCC(t *testing.T) {
	r := newMediaRigWith(t, twccSubscriberAPI(t))
	var id uint8
	for _, tr := range r.sub.pc.GetTransceivers() {
		for _, e := range tr.Receiver().GetParameters().HeaderExtensions {
			if e.URI == sdp.TransportCCURI {
				id = uint8(e.ID)
			}
		}
	}
	if id == 0 {
		t.Fatal("the subscribe connection did not negotiate transport-cc's header extension")
	}
	var seqs []uint16
	r.sub.mu.Lock()
	defer func() { r.sub.mu.Lock(); r.sub.onPacket = nil; r.sub.mu.Unlock() }()
	r.sub.onPacket = func(ext func(uint8) []byte) {
		if b := ext(id); len(b) == 2 {
			seqs = append(seqs, uint16(b[0])<<8|uint16(b[1]))
		}
	}
	r.sub.mu.Unlock()
	conntest.Eventually(t, "feedback to reach the estimator", func() bool {
		r.pub.send()
		return r.subP.bw.estimated.Load()
	})
	r.sub.mu.Lock()
	got := append([]uint16(nil), seqs...)
	r.sub.mu.Unlock()
	if len(got) < 10 {
		t.Fatalf("%d packets with a transport-wide sequence number, want many", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("transport-wide sequence numbers %d then %d", got[i-1], got[i])
		}
	}
}
