package sfu

import (
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"conclave/addrgroup"
	"conclave/internal/conntest"
)

// TestProbesToOneVictimAreBudgeted: ten participants name the same eight addresses of
// a victim (someone else's machine, which never answers) in their answers, and restart
// ICE three times; the victim gets the budget of one destination (probeBurst at once,
// probeRate a second of the engine's clock) and each connection's first probe to it
// that found the budget spent (the ninth's and the tenth's: the first eight took
// eight each), not each participant's rounds at each answer (2880 probes), and the
// probes held back are counted.
func TestProbesToOneVictimAreBudgeted(t *testing.T) {
	clock, eng, room := newProbeRoom(t)
	var victims []*net.UDPConn
	var aps []netip.AddrPort
	for range 8 {
		c, ap := listenOn(t, "127.0.0.2")
		victims, aps = append(victims, c), append(aps, ap)
	}
	var subs []*ownSub
	for i := range 10 {
		p, err := room.Join("p" + strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, p.own)
		answerOffer(t, p, false, answerNaming(aps...))
	}
	window := probeRounds(clock, subs...)
	for range 3 {
		for _, o := range subs {
			answerOffer(t, o.p, true, answerNaming(aps...))
		}
		window += probeRounds(clock, subs...)
	}
	got := 0
	for _, c := range victims {
		got += probesAt(t, eng, c)
	}
	budget := probeBurst + int(probeRate*window.Seconds()) + len(subs) - probeBurst/len(aps)
	if got > budget || got < budget-1 {
		t.Fatalf("the victim got %d probes from 10 participants in %v, want the budget, %d", got, window, budget)
	}
	if s := eng.Stats(); s.ICEProbesSent != uint64(got) || s.ICEProbesHeld == 0 {
		t.Fatalf("Stats: %d probes sent, %d held; the victim got %d", s.ICEProbesSent, s.ICEProbesHeld, got)
	}
}

// TestProbesAreNotRenewedForAnAddressThatNeverAnswered: an address that never answered
// gets the rounds of one answer for the connection's life; the ICE restarts that
// follow (ten a second the signaling allows) start the rounds again, but not for it.
func TestProbesAreNotRenewedForAnAddressThatNeverAnswered(t *testing.T) {
	clock, eng, room := newProbeRoom(t)
	victim, ap := listenOn(t, "127.0.0.2")
	p, err := room.Join("p")
	if err != nil {
		t.Fatal(err)
	}
	answerOffer(t, p, false, answerNaming(ap))
	probeRounds(clock, p.own)
	if got := probesAt(t, eng, victim); got != maxUnansweredProbes {
		t.Fatalf("%d probes for the first answer, want its %d rounds", got, maxUnansweredProbes)
	}
	for range 20 {
		answerOffer(t, p, true, answerNaming(ap))
		probeRounds(clock, p.own)
	}
	if got := probesAt(t, eng, victim); got != 0 {
		t.Fatalf("%d more probes in 20 ICE restarts to an address that never answered, want none", got)
	}
}

// TestProbedPeerThatAnsweredIsNotHeldBack: another participant has spent the budget of
// the peer's address (the peer is behind the address it names, a NAT's, say); the
// peer gets the connection's first probe to it, and the next round's is held back,
// but the peer checks the server itself and answers its request: from then on its
// address is its own and gets its probes, and its nomination is selected.
func TestProbedPeerThatAnsweredIsNotHeldBack(t *testing.T) {
	eng, p, peer, peerAP := newPeerBehindSpentBudget(t)
	if got := probesAt(t, eng, peer); got != 1 {
		t.Fatalf("%d probes to the peer in its first round, its address's budget spent, want the first", got)
	}
	p.own.probe()
	if got := probesAt(t, eng, peer); got != 0 {
		t.Fatalf("%d probes to the peer in its second round, its address's budget spent, want none", got)
	}

	// The peer checks the server and answers its request.
	server := eng.udpConn.LocalAddr().(*net.UDPAddr).AddrPort()
	req := check{username: p.own.lite.ufrag + ":" + probePeerUfrag, pwd: p.own.lite.pwd}.bytes(t)
	if _, err := peer.WriteToUDPAddrPort(req, server); err != nil {
		t.Fatal(err)
	}
	answerTheServer(t, peer, server)
	conntest.Eventually(t, "the peer's answer taken", func() bool { return p.own.lite.answeredFrom(peerAP) })

	p.own.probe()
	if got := probesAt(t, eng, peer); got != 1 {
		t.Fatalf("%d probes to the peer in the round after it answered, want 1", got)
	}
	nominate := check{username: p.own.lite.ufrag + ":" + probePeerUfrag, pwd: p.own.lite.pwd, nominate: true}.bytes(t)
	if _, err := peer.WriteToUDPAddrPort(nominate, server); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the peer's nomination selected", func() bool { return p.route.Load() != nil })
}

// TestPeerThatCannotCheckFirstGetsItsFirstProbe: a peer that checks the server only
// once a probe told it where the server is (Firefox, which pairs none of its
// addresses with a server's loopback candidate) names an address whose budget another
// participant has spent, and keeps spending; the connection's first probe to it goes
// all the same, the only one of its nine rounds, and the peer finds the server with
// it: it checks, answers the server's request, nominates and is selected.
func TestPeerThatCannotCheckFirstGetsItsFirstProbe(t *testing.T) {
	eng, p, peer, _ := newPeerBehindSpentBudget(t)
	for range probeDelays {
		p.own.probe()
	}
	probes, server := probesFrom(t, eng, peer)
	if got := len(probes); got != 1 {
		t.Fatalf("%d probes to the peer in its nine rounds with its address's budget spent, want its first", got)
	}

	// The probe told the peer the server's address: it checks it, nominating, and
	// answers the server's request.
	nominate := check{username: p.own.lite.ufrag + ":" + probePeerUfrag, pwd: p.own.lite.pwd, nominate: true}.bytes(t)
	if _, err := peer.WriteToUDPAddrPort(nominate, server); err != nil {
		t.Fatal(err)
	}
	answerTheServer(t, peer, server)
	conntest.Eventually(t, "the peer's nomination selected", func() bool { return p.route.Load() != nil })
}

// TestProbeBudgetByDestination: an IPv4 address is a destination, an IPv6 /64 is one,
// an IPv4 address through a translator (64:ff9b::/96) is its IPv4 address; the budget
// refills on the clock, and a destination whose budget is whole again is forgotten.
func TestProbeBudgetByDestination(t *testing.T) {
	var b probeBudget
	now := time.Unix(1_000_000, 0)
	spend := func(ip string) int {
		n := 0
		for b.take(addrgroup.Of(netip.MustParseAddr(ip)), now, false) {
			n++
		}
		return n
	}
	if n := spend("2001:db8::1"); n != probeBurst {
		t.Fatalf("%d probes at once to 2001:db8::1, want %d", n, probeBurst)
	}
	if n := spend("2001:db8::2"); n != 0 {
		t.Fatalf("%d probes to 2001:db8::2 after its /64's budget was spent, want none", n)
	}
	if n := spend("2001:db8:0:1::1"); n != probeBurst {
		t.Fatalf("%d probes to another /64, want %d", n, probeBurst)
	}
	if n := spend("::ffff:192.0.2.1"); n != probeBurst || spend("192.0.2.1") != 0 {
		t.Fatal("an IPv4-mapped address is not the IPv4 address's destination")
	}
	if n := spend("64:ff9b::192.0.2.1"); n != 0 {
		t.Fatalf("%d probes to 192.0.2.1 through a translator after its budget was spent, want none", n)
	}
	if n := spend("64:ff9b::192.0.2.2"); n != probeBurst {
		t.Fatalf("%d probes to another IPv4 address through a translator, want %d: it is not the first one's destination", n, probeBurst)
	}
	now = now.Add(time.Second)
	if n := spend("192.0.2.1"); n != probeRate {
		t.Fatalf("%d probes a second later, want %d", n, probeRate)
	}
	b.forget(now.Add(time.Duration(probeBurst/probeRate) * time.Second))
	if len(b.dsts) != 0 {
		t.Fatalf("%d destinations kept with their budgets whole again", len(b.dsts))
	}
}
