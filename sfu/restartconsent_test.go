package sfu

import (
	"context"
	"net"
	"testing"
	"time"

	"conclave/internal/conntest"
)

// TestICERestartKeepsTheConsent: an ICE restart does not let the media outlive the
// consent (RFC 7675). Once the restart's answer is in, the credentials before it are
// forgotten, and the path they selected stays the route until the new ones select
// one; a peer that asks for the restart, answers, and then checks no more (gone, or
// never meaning to) must lose the media after the consent time as a silent one does,
// not keep them going to its old address for as long as its signaling lives. A peer
// that checks the new credentials keeps them.
func TestICERestartKeepsTheConsent(t *testing.T) {
	conn := &silencedConn{}
	r := ownSubscribeRigOver(t, func(raw net.PacketConn) net.PacketConn { conn.PacketConn = raw; return conn })
	// A restart whose peer checks the new credentials keeps the media however far the
	// clock moves: after each half second an answer to the server's request has come.
	r.restartSubscribeICE()
	for range 20 {
		proofs := r.eng.lites.proofs.Load()
		r.clock.Advance(500 * time.Millisecond)
		conntest.Eventually(t, "an answer to the server's request", func() bool { return r.eng.lites.proofs.Load() > proofs })
	}
	seq := r.pub.send()
	conntest.Eventually(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
	if n := r.eng.Stats().PacketsWithoutRoute; n != 0 {
		t.Fatalf("%d packets without a route while the subscriber answered", n)
	}

	conn.silent.Store(true) // from here the peer sends nothing: no check of the new credentials
	r.subP.RestartSubscribeICE()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	o, err := r.subP.NextSubscribeOffer(ctx)
	if err != nil || o == nil {
		t.Fatalf("the restart's offer: %v %v", o, err)
	}
	if err := r.subP.AcceptSubscribeAnswer(answerWith(t, r.sub.pc, o.SDP)); err != nil {
		t.Fatal(err)
	}
	for range 40 { // 20 s of the engine's clock, ten consent times
		r.clock.Advance(500 * time.Millisecond)
	}
	r.pub.send()
	conntest.Eventually(t, "the server to stop sending to the subscriber that restarted and went silent", func() bool {
		r.clock.Advance(500 * time.Millisecond)
		r.pub.send()
		return r.eng.Stats().PacketsWithoutRoute > 0
	})
	r.noneReachesTheSubscriber()
}
