package sfu

import (
	"net/netip"
	"testing"
	"time"
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

// TestICELiteRefusedLaterAnswerChangesNothing: an answer refused for naming another
// ICE ufrag than the one accepted before, on the same credentials, changes nothing
// (ownSub.accept promises it, and the offer stays outstanding for the next answer):
// the selected path, the addresses the checks proved and whose records are the
// agent's stay, and so does the consent, which expires when the answers stop. The
// refusal emptied them when the peer had checked before its first answer: the route
// stayed with the writer while the agent no longer had a selected path to sweep, so
// the consent never expired and the media went on to an address that had stopped
// answering; and the addresses whose records were the agent's stayed in the table
// with no eviction left to take them out, eight more for each refused answer.
func TestICELiteRefusedLaterAnswerChangesNothing(t *testing.T) {
	log := &liteSends{}
	clock := time.Unix(1_000_000, 0)
	agents := &liteAgents{send: log.send, now: func() time.Time { return clock }, consent: 25 * time.Second}
	var picked []netip.AddrPort
	l := newICELite(func(p litePath) { picked = append(picked, p.ap) })
	lost, records := 0, 0
	l.onLost = func() { lost++ }
	l.onDTLS = func([]byte) { records++ }
	agents.add(l)
	at := netip.MustParseAddrPort("127.0.0.1:40000")
	record := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}

	// The peer checks and nominates before its answer, which then comes and is asked.
	nominate(t, agents, l, at)
	if newPwd, err := l.setRemote("peer", testPeerPwd); err != nil || !newPwd {
		t.Fatalf("the answer: new password %v, %v", newPwd, err)
	}
	agents.askProven(l)
	if !agents.take(peerReply{pwd: testPeerPwd}.to(t, log.lastRequest(t, at)), at) {
		t.Fatal("the peer's answer was not taken")
	}
	if len(picked) != 1 || picked[0] != at || !agents.takeDTLS(record, at) {
		t.Fatalf("before the refused answer: selected %v, record taken %d times", picked, records)
	}

	if _, err := l.setRemote("other", testPeerPwd); err == nil {
		t.Fatal("a later answer with another ufrag was accepted")
	}
	taken := agents.takeDTLS(record, at)
	if to := l.dst(); to.ap != at || !l.isProven(at) || !taken {
		t.Fatalf("after the refused answer: DTLS to %v, %v proven %v, its record taken %v; want all as before", to.ap, at, l.isProven(at), taken)
	}

	clock = clock.Add(agents.consentTime() + time.Second) // no answer meanwhile
	agents.sweep(clock.UnixNano(), agents.consentTime())
	if lost != 1 || agents.takeDTLS(record, at) {
		t.Fatalf("%v without an answer: the consent lost %d times, want once, and the records let go", agents.consentTime()+time.Second, lost)
	}
}
