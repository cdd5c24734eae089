package sfu

import (
	"net/netip"
	"testing"
)

// TestICELiteDTLSGoesOnlyWhereAnAnswerCameFrom: the DTLS flights (dst, which the
// handshake's writes follow: ownSub.sendToPeer) go only to a path that answered one of
// the server's requests, like the media: a nomination forged from a victim's address
// gets the victim no flight (a server's flight with its certificate is about a
// kilobyte, sent up to five times in the handshake's 30 s, for a check and a record
// of the forger's), before the peer's own address has answered and after.
func TestICELiteDTLSGoesOnlyWhereAnAnswerCameFrom(t *testing.T) {
	agents, l, log, picked, _ := newProofAgents(t)
	own := netip.MustParseAddrPort("127.0.0.1:40000")
	victim := netip.MustParseAddrPort("127.0.0.1:40001")

	nominate(t, agents, l, victim)
	log.lastRequest(t, victim)
	if to := l.dst(); to.valid() {
		t.Fatalf("DTLS goes to %v, which never answered", to.ap)
	}
	// The peer's own check, not nominating, answered from its address.
	if !agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd}.bytes(t), own) {
		t.Fatal("the peer's check was not taken")
	}
	req := log.lastRequest(t, own)
	if !agents.take(peerReply{pwd: testPeerPwd}.to(t, req), own) {
		t.Fatal("the answer was not taken")
	}
	if to := l.dst(); to.ap != own {
		t.Fatalf("DTLS goes to %v, not to the peer's answered address %v", to.ap, own)
	}
	nominate(t, agents, l, victim)
	if to := l.dst(); to.ap != own {
		t.Fatalf("DTLS goes to %v after a forged nomination, not to the peer's answered address %v", to.ap, own)
	}
	if len(*picked) != 0 {
		t.Fatalf("selected %v", *picked)
	}
	// The peer nominates its own address, routable at once: selected.
	nominate(t, agents, l, own)
	if len(*picked) != 1 || (*picked)[0] != own || l.dst().ap != own {
		t.Fatalf("selected %v, DTLS to %v; want %v both", *picked, l.dst().ap, own)
	}
}
