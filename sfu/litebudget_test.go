package sfu

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// sentTo is how many datagrams and bytes the agents sent to, and forgets everything
// sent.
func (s *liteSends) sentTo(to netip.AddrPort) (n, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.sent {
		if d.to == to {
			n, bytes = n+1, bytes+len(d.b)
		}
	}
	s.sent = nil
	return n, bytes
}

// TestICELiteUnansweredAsksAreBudgeted: a participant who sends checks of its own
// connection in a victim's name gets the victim each check's answer and, however many
// checks it sends, no more than maxUnansweredAsks requests an askFlight: fewer bytes
// than it sent, where each check earned the victim a request (about 164 bytes for a
// check of 104). The peer's own selected path is asked at its check meanwhile. A
// browser's join is not held back: of four addresses checked at once, the three
// within the budget are asked at once and the fourth at the first answer.
func TestICELiteUnansweredAsksAreBudgeted(t *testing.T) {
	agents, l, log, picked, clock := newProofAgents(t)
	peer := netip.MustParseAddrPort("127.0.0.1:40000")
	victim := netip.MustParseAddrPort("192.0.2.7:5004")
	nominate(t, agents, l, peer)
	agents.take(peerReply{pwd: testPeerPwd}.to(t, log.lastRequest(t, peer)), peer)

	for round := range 3 {
		in := 0
		for range 100 {
			b := check{username: l.ufrag + ":peer", pwd: l.pwd, nominate: true}.bytes(t)
			in += len(b)
			agents.take(b, victim)
		}
		reqs := len(log.requests(victim))
		for range 100 { // the same again, to count the bytes
			agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd, nominate: true}.bytes(t), victim)
		}
		n, out := log.sentTo(victim)
		if reqs != maxUnansweredAsks || n != 100 {
			t.Fatalf("round %d: %d requests to the victim for 100 forged checks, want %d, and then %d datagrams for 100 more, want their answers", round, reqs, maxUnansweredAsks, n)
		}
		if out >= in {
			t.Fatalf("round %d: the victim got %d bytes for %d sent in its name", round, out, in)
		}
		nominate(t, agents, l, peer)
		agents.take(peerReply{pwd: testPeerPwd}.to(t, log.lastRequest(t, peer)), peer)
		*clock = clock.Add(askFlight)
	}
	if len(*picked) != 1 || l.dst().ap != peer {
		t.Fatalf("selected %v, media to %v", *picked, l.dst().ap)
	}

	// A join: four addresses checked at once.
	agents, l, log, picked, _ = newProofAgents(t)
	addrs := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:41000"), netip.MustParseAddrPort("127.0.0.1:41001"),
		netip.MustParseAddrPort("127.0.0.1:41002"), netip.MustParseAddrPort("127.0.0.1:41003")}
	for _, a := range addrs {
		agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd}.bytes(t), a)
	}
	log.mu.Lock()
	sent := append([]liteSent(nil), log.sent...)
	log.sent = nil
	log.mu.Unlock()
	reqs := map[netip.AddrPort][]byte{}
	for _, d := range sent {
		if isSTUN(d.b) && d.b[0] == 0 && d.b[1] == 1 {
			reqs[d.to] = d.b
		}
	}
	if len(reqs) != maxUnansweredAsks || reqs[addrs[3]] != nil {
		t.Fatalf("requests to %d addresses of 4 checked at once, want the first %d", len(reqs), maxUnansweredAsks)
	}
	agents.take(peerReply{pwd: testPeerPwd}.to(t, reqs[addrs[0]]), addrs[0])
	last := log.lastRequest(t, addrs[3]) // at the first answer
	agents.take(peerReply{pwd: testPeerPwd}.to(t, last), addrs[3])
	nominate(t, agents, l, addrs[3])
	if len(*picked) != 1 || (*picked)[0] != addrs[3] {
		t.Fatalf("selected %v, want the fourth address %v", *picked, addrs[3])
	}
}

// TestICELiteBudgetOutlivesTheRing: the requests in flight to addresses that never
// answered are counted apart from the ring of requests awaiting answers (maxAsks),
// which every request joins: a participant whose own selected path checks between
// its forged checks pushed the victim's requests out of the ring, and with them out
// of the count, and got the victim a request for every second check of its own,
// however many a second. Its own checks are still each asked; the victim still gets
// maxUnansweredAsks requests an askFlight, and its checks' answers.
func TestICELiteBudgetOutlivesTheRing(t *testing.T) {
	agents, l, log, _, clock := newProofAgents(t)
	peer := netip.MustParseAddrPort("127.0.0.1:40000")
	victim := netip.MustParseAddrPort("192.0.2.7:5004")
	nominate(t, agents, l, peer)
	agents.take(peerReply{pwd: testPeerPwd}.to(t, log.lastRequest(t, peer)), peer)
	for round := range 3 {
		for range 100 {
			agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd, nominate: true}.bytes(t), victim)
			nominate(t, agents, l, peer) // unanswered: the link is slow, or the peer does not bother
		}
		log.mu.Lock()
		toVictim, toPeer := 0, 0
		for _, d := range log.sent {
			if !isSTUN(d.b) || uint16(d.b[0])<<8|uint16(d.b[1]) != stun.BindingRequest.Value() {
				continue
			}
			switch d.to {
			case victim:
				toVictim++
			case peer:
				toPeer++
			}
		}
		log.sent = nil
		log.mu.Unlock()
		if toVictim != maxUnansweredAsks || toPeer != 100 {
			t.Fatalf("round %d: %d requests to the victim for 100 forged checks between 100 of the peer's own, want %d; %d to the peer, want 100",
				round, toVictim, maxUnansweredAsks, toPeer)
		}
		*clock = clock.Add(askFlight)
	}
}

// TestICELiteHeldRequestsAreCounted: each request that a check (or the peer's password
// arriving after its checks, askProven) earned an address that never answered, and
// that the budget held back, is counted once (liteAgents.asksHeld, Stats.ICERequestsHeld):
// 100 checks forged in a victim's name are 3 requests sent and 97 held back; a held
// request that goes later at an answer is counted sent then, not held again; of four
// addresses checked before the password came, the fourth's request is held back.
func TestICELiteHeldRequestsAreCounted(t *testing.T) {
	agents, l, log, _, _ := newProofAgents(t)
	victim := netip.MustParseAddrPort("192.0.2.7:5004")
	for range 100 {
		agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd, nominate: true}.bytes(t), victim)
	}
	if sent, held := agents.asked.Load(), agents.asksHeld.Load(); sent != maxUnansweredAsks || held != 100-maxUnansweredAsks {
		t.Fatalf("100 forged checks: %d requests sent, %d held back; want %d and %d", sent, held, maxUnansweredAsks, 100-maxUnansweredAsks)
	}
	// Four addresses checked before the peer's password came.
	agents = &liteAgents{send: log.send, now: time.Now}
	l = newICELite(func(litePath) {})
	agents.add(l)
	for i := range 4 {
		agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd}.bytes(t), netip.AddrPortFrom(victim.Addr(), 6000+uint16(i)))
	}
	if n := agents.asked.Load() + agents.asksHeld.Load(); n != 0 {
		t.Fatalf("%d requests sent or held back before the password", n)
	}
	if _, err := l.setRemote("peer", testPeerPwd); err != nil {
		t.Fatal(err)
	}
	agents.askProven(l)
	if sent, held := agents.asked.Load(), agents.asksHeld.Load(); sent != maxUnansweredAsks || held != 1 {
		t.Fatalf("at the password: %d requests sent, %d held back; want %d and 1", sent, held, maxUnansweredAsks)
	}
	newest := netip.AddrPortFrom(victim.Addr(), 6003)
	reqs := log.requests(newest)
	if len(reqs) != 1 {
		t.Fatalf("%d requests to the newest address", len(reqs))
	}
	agents.take(peerReply{pwd: testPeerPwd}.to(t, reqs[0]), newest)
	if sent, held := agents.asked.Load(), agents.asksHeld.Load(); sent != maxUnansweredAsks+1 || held != 1 {
		t.Fatalf("after the first answer: %d requests sent, %d held back; want %d and 1 (the held one sent now)", sent, held, maxUnansweredAsks+1)
	}
}
