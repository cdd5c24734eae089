package sfu

import (
	"net/netip"
	"testing"
)

// The addresses an ICE-lite agent forgets take their DTLS records with them: the table
// that routes the records (liteAgents.byAddr) holds an agent's proven addresses at most.

// TestICELiteLateAnswerTakesNoRecords: an answer that comes after its address fell off
// the agent's proven paths (maxProven checks of the peer's from other addresses came
// first) routes no DTLS record from that address to the agent, so that the table of
// the addresses whose records are an agent's holds its proven ones at most. Had the
// late answer made an entry, the eviction that takes an address's records from the
// agent, passed already, would never have come, and a peer that checked from fresh
// addresses and answered late grew the table by one entry each time, for as long as
// its connection lived.
func TestICELiteLateAnswerTakesNoRecords(t *testing.T) {
	agents, l, log, _, clock := newProofAgents(t)
	taken := 0
	l.onDTLS = func([]byte) { taken++ }
	record := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	const rounds = 50
	for r := range rounds {
		base := netip.MustParseAddrPort("127.0.0.1:20000")
		at := netip.AddrPortFrom(base.Addr(), base.Port()+uint16(r*(maxProven+1)))
		if !agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd}.bytes(t), at) {
			t.Fatal("the peer's check was not taken")
		}
		req := log.lastRequest(t, at)
		for i := range maxProven { // at falls off the proven paths
			from := netip.AddrPortFrom(at.Addr(), at.Port()+1+uint16(i))
			if !agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd}.bytes(t), from) {
				t.Fatal("the peer's check was not taken")
			}
		}
		if l.isProven(at) {
			t.Fatalf("round %d: %v still proven after %d checks from elsewhere", r, at, maxProven)
		}
		if !agents.take(peerReply{pwd: testPeerPwd}.to(t, req), at) {
			t.Fatalf("round %d: the late answer was not taken", r)
		}
		agents.takeDTLS(record, at)   // counted by onDTLS
		*clock = clock.Add(askFlight) // the budget's places free for the next round
	}
	agents.mu.RLock()
	n := len(agents.byAddr)
	agents.mu.RUnlock()
	if n > maxProven || taken != 0 {
		t.Fatalf("after %d late answers: %d addresses route records to the agent, %d records taken; want at most %d and 0",
			rounds, n, taken, maxProven)
	}
}
