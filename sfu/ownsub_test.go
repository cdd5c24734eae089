package sfu

import (
	"testing"

	"github.com/pion/webrtc/v4"

	"conclave/internal/fakeclock"
)

// withOwnSubscribe runs the engine's subscribe connections itself (ownsub.go).
func withOwnSubscribe(_ *fakeclock.Clock, cfg *Config) { cfg.ownSubscribe = true }

// TestOwnSubscribeConnection: a Pion peer answers the offer of a subscribe connection
// the server runs itself, connects to its ICE-lite agent, completes DTLS and receives
// the publisher's packets; the server holds no PeerConnection for it.
func TestOwnSubscribeConnection(t *testing.T) {
	r := newMediaRigAPIs(t, testPeerAPI(t), testPeerAPI(t), withOwnSubscribe)
	if r.subP.own == nil || r.subP.sub != nil {
		t.Fatal("the subscriber has a PeerConnection")
	}
	seq := r.pub.send()
	waitFor(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
	if s := r.sub.pc.ICEConnectionState(); s != webrtc.ICEConnectionStateConnected && s != webrtc.ICEConnectionStateCompleted {
		t.Fatalf("subscriber ICE %v", s)
	}
}
