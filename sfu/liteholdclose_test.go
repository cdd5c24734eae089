package sfu

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"conclave/internal/conntest"
)

// The tests in this file are about when the DTLS records held for an answer go
// (litehold.go): with the agents that could take them, and with the last agent.

// heldState is what the hold keeps, read under the agents' lock: the addresses and
// their records' count, its bytes and sources. The test fails when the sources'
// shares and the hold's totals disagree.
func heldState(t *testing.T, agents *liteAgents) (addrs map[netip.AddrPort]int, bytes, sources int) {
	t.Helper()
	agents.mu.RLock()
	defer agents.mu.RUnlock()
	addrs = make(map[netip.AddrPort]int)
	counted, shared, sharedAddrs := 0, 0, 0
	for ap, r := range agents.hold.addrs {
		addrs[ap] = len(r.records)
		for _, b := range r.records {
			counted += len(b)
		}
	}
	for _, s := range agents.hold.sources {
		shared += s.bytes
		sharedAddrs += s.addrs
	}
	if counted != agents.hold.bytes || shared != agents.hold.bytes || sharedAddrs != len(addrs) {
		t.Fatalf("the hold counts %d bytes, its records %d, its sources %d bytes of %d addresses, its addresses %d",
			agents.hold.bytes, counted, shared, sharedAddrs, len(addrs))
	}
	return addrs, agents.hold.bytes, len(agents.hold.sources)
}

// TestHeldRecordsGoWithTheirAgents: the records held from an address go when every
// agent whose request went there is removed, since no other answer can take them,
// and all of them go with the last agent. An address that another agent also asked
// (a check forged in its name) keeps its records for that one's answer, as does one
// that more agents asked than the hold remembers (crowded) until the last is removed.
// A request of an agent already removed holds nothing. Before, the records stayed
// until the engine's sweep half a second later, and after the last agent, which stops
// the sweep, until the next join started it again.
func TestHeldRecordsGoWithTheirAgents(t *testing.T) {
	agents, l, log, _, clock := newProofAgents(t)
	newAgent := func(i int) (*iceLite, string) {
		x := newICELite(func(litePath) {})
		agents.add(x)
		pwd := fmt.Sprintf("password-of-connection-%04d", i)
		if _, err := x.setRemote("x", pwd); err != nil {
			t.Fatal(err)
		}
		return x, pwd
	}
	checkFrom := func(x *iceLite, remote string, ap netip.AddrPort) []byte {
		t.Helper()
		if !agents.take(check{username: x.ufrag + ":" + remote, pwd: x.pwd}.bytes(t), ap) {
			t.Fatalf("a check from %v was not taken", ap)
		}
		return log.lastRequest(t, ap)
	}
	records := func(ap netip.AddrPort, n int) {
		for i := range n {
			if agents.takeDTLS(dtlsTestRecord(byte(i), 100), ap) {
				t.Fatalf("a record from %v, before any answer, was taken", ap)
			}
		}
	}

	mine := netip.MustParseAddrPort("192.0.2.1:5000")    // only l asked it
	theirs := netip.MustParseAddrPort("192.0.2.2:5000")  // only other asked it
	shared := netip.MustParseAddrPort("192.0.2.3:5000")  // both did
	crowded := netip.MustParseAddrPort("192.0.2.4:5000") // l and maxHeldAskers others did
	other, otherPwd := newAgent(0)
	checkFrom(l, "peer", mine)
	checkFrom(other, "x", theirs)
	checkFrom(l, "peer", shared)
	sharedReq := checkFrom(other, "x", shared)
	checkFrom(l, "peer", crowded)
	var crowd []*iceLite
	var lastReq []byte
	var lastPwd string
	var lastGot atomic.Int32
	for i := range maxHeldAskers {
		x, pwd := newAgent(1 + i)
		crowd = append(crowd, x)
		lastReq, lastPwd = checkFrom(x, "x", crowded), pwd
		x.onDTLS = func([]byte) { lastGot.Add(1) }
	}
	for _, ap := range []netip.AddrPort{mine, theirs, shared, crowded} {
		records(ap, 2)
	}
	if addrs, _, _ := heldState(t, agents); len(addrs) != 4 {
		t.Fatalf("records held from %v; want 2 from each of 4 addresses", addrs)
	}

	// l goes: mine, which only l's answer could take, goes with it.
	agents.remove(l)
	if addrs, bytes, _ := heldState(t, agents); len(addrs) != 3 || addrs[mine] != 0 || bytes != 6*100 {
		t.Fatalf("after the removal of the agent that alone asked %v: records held %v, %d bytes; want 2 from each of the 3 others", mine, addrs, bytes)
	}
	// Asked by an agent removed meanwhile (its check read before the removal), an
	// address holds nothing.
	agents.expectAnswer(l, mine, clock.UnixNano())
	records(mine, 1)
	if addrs, _, _ := heldState(t, agents); len(addrs) != 3 {
		t.Fatalf("a removed agent's request holds records: %v", addrs)
	}

	// other's answer from shared takes what came from there.
	var otherGot atomic.Int32
	other.onDTLS = func([]byte) { otherGot.Add(1) }
	if !agents.take(peerReply{pwd: otherPwd}.to(t, sharedReq), shared) {
		t.Fatal("other's answer was not taken")
	}
	if n := otherGot.Load(); n != 2 {
		t.Fatalf("other's answer from %v, where l's request had gone too, took %d held records, want 2", shared, n)
	}

	// The crowd but one go: crowded stays (the last one's answer may still come)
	// and is taken by that answer.
	for _, x := range crowd[:len(crowd)-1] {
		agents.remove(x)
	}
	if addrs, _, _ := heldState(t, agents); addrs[crowded] != 2 {
		t.Fatalf("records held %v: the address more agents asked than the hold remembers went while one of them was left", addrs)
	}
	if !agents.take(peerReply{pwd: lastPwd}.to(t, lastReq), crowded) {
		t.Fatal("the last asker's answer was not taken")
	}
	if n := lastGot.Load(); n != 2 {
		t.Fatalf("the last asker's answer from %v took %d held records, want 2", crowded, n)
	}

	// Another address more agents ask than the hold remembers, the last of the crowd
	// among them: it stays while that one is left, theirs (only other's) goes with
	// other, and everything with the last agent.
	records(theirs, 1)
	crowded2 := netip.MustParseAddrPort("192.0.2.5:5000")
	last := crowd[len(crowd)-1]
	agents.expectAnswer(last, crowded2, clock.UnixNano())
	late := []*iceLite{other}
	for i := range maxHeldAskers {
		x, _ := newAgent(100 + i)
		late = append(late, x)
		agents.expectAnswer(x, crowded2, clock.UnixNano())
	}
	records(crowded2, 1)
	for _, x := range late {
		agents.remove(x)
	}
	if addrs, _, _ := heldState(t, agents); len(addrs) != 1 || addrs[crowded2] != 1 {
		t.Fatalf("with one agent left, records held %v; want the one from %v, which it asked", addrs, crowded2)
	}
	agents.remove(last)
	if addrs, bytes, sources := heldState(t, agents); len(addrs) != 0 || bytes != 0 || sources != 0 {
		t.Fatalf("after the last agent's removal: records held from %v, %d bytes, %d sources; want none", addrs, bytes, sources)
	}
}

// TestHeldRecordsGoWhenTheSubscriberLeaves: through the engine, a DTLS record from
// an address the subscriber's agent sent a request to, held for its answer, goes when
// the subscriber leaves, on a clock that stands still (the sweep that lets it go
// after askFlight never comes). Before, it stayed until the clock moved on.
func TestHeldRecordsGoWhenTheSubscriberLeaves(t *testing.T) {
	r := newMediaRigAPIs(t, testPeerAPI(t), testPeerAPI(t), withOwnSubscribe)
	user, pwd := r.liteCredentials()
	server := r.serverAddr()
	prober, at := udpPeer(t)
	if _, err := prober.WriteToUDPAddrPort(check{username: user, pwd: pwd}.bytes(t), server); err != nil {
		t.Fatal(err)
	}
	readSTUN(t, prober) // the check's answer
	readSTUN(t, prober) // the server's request, never answered
	if _, err := prober.WriteToUDPAddrPort(dtlsTestRecord(1, 100), server); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the record held", func() bool {
		addrs, _, _ := heldState(t, &r.eng.lites)
		return addrs[at] == 1
	})
	r.subP.Close()
	if addrs, _, _ := heldState(t, &r.eng.lites); addrs[at] != 0 {
		t.Fatalf("after the subscriber left: %d records from %v held for its answer", addrs[at], at)
	}
}

// TestExpectAnswerIsTheSameUnderLoad: requests and records from many goroutines at
// once, to and from an address that is an agent's already (decided under the read
// lock) and to and from addresses awaiting answers (armed under the write lock),
// while agents are removed, leave the hold as the same calls one after the other
// would: the agent's address unheld and its records given, each other address held
// with maxHeldRecords records, those of the agents removed none. Run under -race.
func TestExpectAnswerIsTheSameUnderLoad(t *testing.T) {
	agents, l, log, _, clock := newProofAgents(t)
	sel := netip.MustParseAddrPort("192.0.2.1:5000")
	nominate(t, agents, l, sel)
	if !agents.take(peerReply{pwd: testPeerPwd}.to(t, log.lastRequest(t, sel)), sel) {
		t.Fatal("the peer's answer was not taken")
	}
	var given atomic.Int32
	l.onDTLS = func([]byte) { given.Add(1) }
	const goroutines, rounds = 8, 200
	kept := make([]*iceLite, goroutines)
	gone := make([]*iceLite, goroutines)
	addr := func(i, removed int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i)}), uint16(6000+removed))
	}
	for i := range goroutines {
		kept[i], gone[i] = newICELite(func(litePath) {}), newICELite(func(litePath) {})
		agents.add(kept[i])
		agents.add(gone[i])
	}
	now := clock.UnixNano()
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for n := range rounds {
				agents.expectAnswer(l, sel, now)
				agents.expectAnswer(kept[i], addr(i, 0), now)
				agents.expectAnswer(gone[i], addr(i, 1), now)
				agents.takeDTLS(dtlsTestRecord(byte(n), 100), sel)
				agents.takeDTLS(dtlsTestRecord(byte(n), 100), addr(i, 0))
				agents.takeDTLS(dtlsTestRecord(byte(n), 100), addr(i, 1))
			}
		}()
		go func() {
			defer wg.Done()
			agents.remove(gone[i])
		}()
	}
	wg.Wait()
	addrs, _, _ := heldState(t, agents)
	want := make(map[netip.AddrPort]int)
	for i := range goroutines {
		want[addr(i, 0)] = maxHeldRecords
	}
	if !maps.Equal(addrs, want) || given.Load() != goroutines*rounds {
		t.Fatalf("records held %v, %d given to the agent whose address it is; want %v and %d", addrs, given.Load(), want, goroutines*rounds)
	}
}

// TestHeldRecordsWaitForTheRestartsAnswer: through the engine, a DTLS record held for
// the answer to a request of the subscriber's first credentials stays held when an
// ICE restart's answer replaces them, and is given at the peer's answer from there
// to the request of the restart's credentials: both are the connection's, and the
// record is its handshake's. Before, the first credentials' removal let go of it, and
// the peer waited for its retransmission.
func TestHeldRecordsWaitForTheRestartsAnswer(t *testing.T) {
	_, eng, room := newProbeRoom(t)
	p, err := room.Join("p")
	if err != nil {
		t.Fatal(err)
	}
	answerOffer(t, p, false, answerNamingWith(probePeerUfrag, probePeerPwd)) // no candidate: no probe
	peer, at := listenOn(t, "127.0.0.1")
	server := eng.udpConn.LocalAddr().(*net.UDPAddr).AddrPort()
	write := func(b []byte) {
		t.Helper()
		if _, err := peer.WriteToUDPAddrPort(b, server); err != nil {
			t.Fatal(err)
		}
	}
	first := p.own.lite
	write(check{username: first.ufrag + ":" + probePeerUfrag, pwd: first.pwd}.bytes(t))
	readSTUN(t, peer) // the check's answer
	readSTUN(t, peer) // the server's request, whose answer the restart overtakes
	write(dtlsTestRecord(1, 100))
	conntest.Eventually(t, "the record held", func() bool {
		addrs, _, _ := heldState(t, &eng.lites)
		return addrs[at] == 1
	})

	// The restart: the peer checks with the new credentials before its answer, which
	// carries the password the server's requests need, reaches the server.
	if _, err := p.own.offer(true); err != nil {
		t.Fatal(err)
	}
	next := p.own.lite
	const nextUfrag, nextPwd = "peer2", "the-peers-new-password-56"
	write(check{username: next.ufrag + ":" + nextUfrag, pwd: next.pwd}.bytes(t))
	readSTUN(t, peer) // the check's answer; no request without the peer's password
	p.mu.Lock()
	p.offerPending = true
	p.mu.Unlock()
	if err := p.AcceptSubscribeAnswer(answerNamingWith(nextUfrag, nextPwd)); err != nil {
		t.Fatal(err)
	}
	if addrs, _, _ := heldState(t, &eng.lites); addrs[at] != 1 {
		t.Fatalf("after the restart's answer: %d records from %v held, want the 1 held for the first credentials' answer", addrs[at], at)
	}
	req := readSTUN(t, peer) // the restart's request to the address proven before its answer
	write(peerReply{pwd: nextPwd}.to(t, req.Raw))
	conntest.Eventually(t, "the held record given at the restart's answer", func() bool { return eng.lites.dtlsGiven.Load() == 1 })
}
