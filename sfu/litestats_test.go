package sfu

import (
	"net"
	"testing"

	"github.com/pion/stun/v4"

	"conclave/internal/conntest"
)

// TestICELiteCountsAreInStats: what the server's own ICE-lite agent does with checks
// and with the answers to its requests reaches Engine.Stats, where the operator's
// metrics read it. The subscriber is silenced first, so that only the test's own
// socket moves the counts of refusals: a check signed with another password and one
// that claims the controlled role are refused, one each; a valid check from a new
// address is answered and earns it a request; an answer to that request signed with
// the wrong password is refused, and the genuine answer proves the address. Checks
// from an address that never answers beyond the budget of requests in flight are
// counted held back.
func TestICELiteCountsAreInStats(t *testing.T) {
	conn := &silencedConn{}
	r := ownSubscribeRigOver(t, func(raw net.PacketConn) net.PacketConn { conn.PacketConn = raw; return conn })
	user, pwd := r.liteCredentials()
	_, peerPwd := r.subscriberICE()
	server := r.serverAddr()
	conn.silent.Store(true)
	before := r.eng.Stats()
	if before.ICEChecksAnswered == 0 || before.ICERequestsSent == 0 || before.ICERequestsAnswered == 0 {
		t.Fatalf("the subscriber connected with %d checks answered, %d requests sent, %d answered",
			before.ICEChecksAnswered, before.ICERequestsSent, before.ICERequestsAnswered)
	}

	prober, _ := udpPeer(t)
	for i, c := range []check{
		{username: user, pwd: "not the connection's password"},
		{username: user, pwd: pwd, controlled: true},
	} {
		if _, err := prober.WriteToUDPAddrPort(c.bytes(t), server); err != nil {
			t.Fatal(err)
		}
		want := before.ICEChecksRefused + uint64(i+1)
		conntest.Eventually(t, "the check counted as refused", func() bool { return r.eng.Stats().ICEChecksRefused == want })
	}

	if _, err := prober.WriteToUDPAddrPort(check{username: user, pwd: pwd}.bytes(t), server); err != nil {
		t.Fatal(err)
	}
	if m := readSTUN(t, prober); m.Type != stun.BindingSuccess {
		t.Fatalf("got %v, want the check's answer", m.Type)
	}
	req := readSTUN(t, prober)
	if req.Type != stun.BindingRequest {
		t.Fatalf("got %v, want the server's request", req.Type)
	}
	conntest.Eventually(t, "the check answered and the request counted", func() bool {
		st := r.eng.Stats()
		return st.ICEChecksAnswered > before.ICEChecksAnswered && st.ICERequestsSent > before.ICERequestsSent
	})

	proofs := r.eng.Stats().ICERequestsAnswered
	if _, err := prober.WriteToUDPAddrPort(peerReply{pwd: pwd}.to(t, req.Raw), server); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the answer with the wrong password counted as refused", func() bool {
		return r.eng.Stats().ICEAnswersRefused == before.ICEAnswersRefused+1
	})
	if _, err := prober.WriteToUDPAddrPort(peerReply{pwd: peerPwd}.to(t, req.Raw), server); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the genuine answer counted", func() bool { return r.eng.Stats().ICERequestsAnswered > proofs })
	if st := r.eng.Stats(); st.ICEChecksRefused != before.ICEChecksRefused+2 || st.ICEAnswersRefused != before.ICEAnswersRefused+1 {
		t.Fatalf("%d checks and %d answers refused, want 2 and 1",
			st.ICEChecksRefused-before.ICEChecksRefused, st.ICEAnswersRefused-before.ICEAnswersRefused)
	}

	// Valid checks from an address that never answers, two more than the budget of
	// requests in flight (the engine's clock stands still): those two are held back.
	victim, _ := udpPeer(t)
	before = r.eng.Stats()
	const flood = maxUnansweredAsks + 2
	for range flood {
		if _, err := victim.WriteToUDPAddrPort(check{username: user, pwd: pwd}.bytes(t), server); err != nil {
			t.Fatal(err)
		}
	}
	conntest.Eventually(t, "the checks answered and their requests sent or held back", func() bool {
		st := r.eng.Stats()
		return st.ICEChecksAnswered-before.ICEChecksAnswered == flood &&
			st.ICERequestsSent-before.ICERequestsSent+st.ICERequestsHeld-before.ICERequestsHeld >= flood
	})
	if st := r.eng.Stats(); st.ICERequestsSent-before.ICERequestsSent != maxUnansweredAsks || st.ICERequestsHeld-before.ICERequestsHeld != 2 {
		t.Fatalf("%d checks from an address that never answers: %d requests sent, %d held back; want %d and 2",
			flood, st.ICERequestsSent-before.ICERequestsSent, st.ICERequestsHeld-before.ICERequestsHeld, maxUnansweredAsks)
	}
}
