package sfu

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"conclave/internal/fakeclock"
)

// newProbeRoom is a room whose engine's timers never fire: the test runs each round of
// probes itself (ownSub.probe), so that the round's probes are queued on the media
// socket, in order, when the call returns.
func newProbeRoom(t *testing.T) (*fakeclock.Clock, *Engine, *Room) {
	t.Helper()
	return newClockedRoom(t, false, func(_ *fakeclock.Clock, cfg *Config) {
		cfg.AfterFunc = func(time.Duration, func()) func() bool { return func() bool { return true } }
	})
}

const probePeerUfrag, probePeerPwd = "peer", "the-peers-password-1234"

// answerNaming is a subscribe answer (to an offer without sections) whose candidates
// are aps.
func answerNaming(aps ...netip.AddrPort) string {
	return answerNamingWith(probePeerUfrag, probePeerPwd, aps...)
}

// answerNamingWith is answerNaming with the ICE credentials ufrag and pwd.
func answerNamingWith(ufrag, pwd string, aps ...netip.AddrPort) string {
	a := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-ufrag:" + ufrag + "\r\na=ice-pwd:" + pwd +
		"\r\na=fingerprint:sha-256 AB:CD\r\na=setup:active\r\n"
	for i, ap := range aps {
		a += "a=candidate:" + strconv.Itoa(i) + " 1 udp 2130706431 " + ap.Addr().String() + " " + strconv.Itoa(int(ap.Port())) + " typ host\r\n"
	}
	return a
}

// answerOffer has the subscriber p offered (with new ICE credentials when restart)
// and answer.
func answerOffer(t *testing.T, p *Participant, restart bool, answer string) {
	t.Helper()
	if _, err := p.own.offer(restart); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.offerPending = true
	p.mu.Unlock()
	if err := p.AcceptSubscribeAnswer(answer); err != nil {
		t.Fatal(err)
	}
}

// listenOn is a UDP socket on ip, and its address.
func listenOn(t *testing.T, ip string) (*net.UDPConn, netip.AddrPort) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadBuffer(1 << 20)
	t.Cleanup(func() { _ = c.Close() })
	return c, c.LocalAddr().(*net.UDPAddr).AddrPort()
}

var probeEnd = []byte("the test's end of the probes")

// probesAt counts the probes that reached c: the engine sends c a marker after
// everything queued so far, and its socket sends in order, so once the marker is
// read every probe sent before has been.
func probesAt(t *testing.T, e *Engine, c *net.UDPConn) int {
	t.Helper()
	probes, _ := probesFrom(t, e, c)
	return len(probes)
}

// probesFrom are the probes that reached c as probesAt counts them, and where the
// last came from (the server's address, as the peer learns it).
func probesFrom(t *testing.T, e *Engine, c *net.UDPConn) ([]*stun.Message, netip.AddrPort) {
	t.Helper()
	if err := e.writeTo(probeEnd, c.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	var probes []*stun.Message
	var sender netip.AddrPort
	buf := make([]byte, 1500)
	for {
		_ = c.SetReadDeadline(time.Now().Add(mediaWait))
		k, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("the marker after %d probes did not come: %v", len(probes), err)
		}
		if bytes.Equal(buf[:k], probeEnd) {
			return probes, sender
		}
		m := new(stun.Message)
		if isSTUN(buf[:k]) && stun.Decode(buf[:k], m) == nil && m.Type == stun.BindingRequest {
			probes, sender = append(probes, m), from
		}
	}
}

// probeRounds runs the rounds after an answer's first of each connection, the
// engine's clock moving as their timers would have, and returns the time they took.
func probeRounds(clock *fakeclock.Clock, subs ...*ownSub) time.Duration {
	var took time.Duration
	for _, d := range probeDelays {
		clock.Advance(d)
		took += d
		for _, o := range subs {
			o.probe()
		}
	}
	return took
}

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

// TestProbesCarryTheAnswersCredentials: every probe carries the credentials of one
// answer, the peer's and those of the offer it answered, which the peer checks: the
// rounds of the first answer still do while an ICE restart's offer awaits its answer
// (the peer does not know the new ufrag yet), and the address the restart's answer
// names gets one probe in its first round, with the restart's credentials.
func TestProbesCarryTheAnswersCredentials(t *testing.T) {
	_, eng, room := newProbeRoom(t)
	p, err := room.Join("p")
	if err != nil {
		t.Fatal(err)
	}
	wifi, wifiAP := listenOn(t, "127.0.0.1")
	lte, lteAP := listenOn(t, "127.0.0.1")
	first, restarted := probeCredentials{"peer", "the-peers-password-1234"}, probeCredentials{"peer2", "the-peers-new-password-56"}
	probedWith := func(m *stun.Message, creds probeCredentials, lite *iceLite) bool {
		var user stun.Username
		return user.GetFrom(m) == nil && string(user) == creds.ufrag+":"+lite.ufrag &&
			stun.NewShortTermIntegrity(creds.pwd).Check(m) == nil
	}
	answerOffer(t, p, false, answerNamingWith(first.ufrag, first.pwd, wifiAP))
	before := p.own.lite
	if _, err := p.own.offer(true); err != nil {
		t.Fatal(err)
	}
	p.own.probe() // a round of the first answer's, the restart's offer out
	probes, _ := probesFrom(t, eng, wifi)
	if len(probes) != 2 || !probedWith(probes[0], first, before) || !probedWith(probes[1], first, before) {
		t.Fatalf("%d probes of the first answer's two rounds, with its credentials: %v, %v; want 2, both",
			len(probes), len(probes) > 0 && probedWith(probes[0], first, before), len(probes) > 1 && probedWith(probes[1], first, before))
	}

	p.mu.Lock()
	p.offerPending = true
	p.mu.Unlock()
	if err := p.AcceptSubscribeAnswer(answerNamingWith(restarted.ufrag, restarted.pwd, lteAP)); err != nil {
		t.Fatal(err)
	}
	probes, _ = probesFrom(t, eng, lte)
	if len(probes) != 1 || !probedWith(probes[0], restarted, p.own.lite) {
		t.Fatalf("%d probes to the address the restart's answer named in its first round, the first with its credentials %v; want 1",
			len(probes), len(probes) > 0 && probedWith(probes[0], restarted, p.own.lite))
	}
}

// TestProbesReachTheAddressesOfARestart: a peer named maxProbed addresses (its
// candidates on the network it left, and those of restarts before), then restarts ICE
// from a new network: its new address takes the place of one named before and gets
// its probe. A participant that names fresh addresses at every restart gets no more
// probes for them than the rounds of one answer to maxProbed addresses, for the
// connection's life.
func TestProbesReachTheAddressesOfARestart(t *testing.T) {
	clock, eng, room := newProbeRoom(t)
	p, err := room.Join("p")
	if err != nil {
		t.Fatal(err)
	}
	// Each address in a destination of its own: no budget but the connection's holds
	// back a probe.
	fresh := func() ([]*net.UDPConn, []netip.AddrPort) {
		var cs []*net.UDPConn
		var aps []netip.AddrPort
		for i := range maxProbed {
			c, ap := listenOn(t, "127.0.0."+strconv.Itoa(10+i))
			cs, aps = append(cs, c), append(aps, ap)
		}
		return cs, aps
	}
	sockets, left := fresh()
	answerOffer(t, p, false, answerNaming(left...)) // its first round; the peer moves
	lte, lteAP := listenOn(t, "127.0.0.2")
	answerOffer(t, p, true, answerNaming(lteAP))
	if got := probesAt(t, eng, lte); got != 1 {
		t.Fatalf("%d probes to the address named after an ICE restart, %d named before; want 1", got, maxProbed)
	}

	got := 1
	for range 10 {
		cs, aps := fresh()
		sockets = append(sockets, cs...)
		answerOffer(t, p, true, answerNaming(aps...))
		probeRounds(clock, p.own)
	}
	sockets = append(sockets, lte)
	for _, c := range sockets {
		got += probesAt(t, eng, c)
	}
	if got != maxUnansweredPerConn {
		t.Fatalf("%d probes to addresses that never answered, %d named fresh at each of 10 more restarts; want %d for the connection's life",
			got, maxProbed, maxUnansweredPerConn)
	}
}

// TestProbesCarryTheAgentsTiebreaker: the probes of every round carry the agent's
// tiebreaker in ICE-CONTROLLED, the one its own requests carry.
func TestProbesCarryTheAgentsTiebreaker(t *testing.T) {
	_, eng, room := newProbeRoom(t)
	p, err := room.Join("p")
	if err != nil {
		t.Fatal(err)
	}
	peer, peerAP := listenOn(t, "127.0.0.1")
	answerOffer(t, p, false, answerNaming(peerAP))
	p.own.probe()
	p.own.probe()
	probes, _ := probesFrom(t, eng, peer)
	var want [8]byte
	binary.BigEndian.PutUint64(want[:], p.own.lite.tiebreaker)
	for i, m := range probes {
		if got, err := m.Get(stun.AttrICEControlled); err != nil || !bytes.Equal(got, want[:]) {
			t.Fatalf("probe %d of %d: ICE-CONTROLLED %x (%v), want the agent's tiebreaker %x", i, len(probes), got, err, want)
		}
	}
	if len(probes) != 3 {
		t.Fatalf("%d probes in three rounds, want 3", len(probes))
	}
}

// TestProbedPeerThatAnsweredIsNotHeldBack: another participant has spent the budget of
// the peer's address (the peer is behind the address it names, a NAT's, say); the
// peer gets the connection's first probe to it, and the next round's is held back,
// but the peer checks the server itself and answers its request: from then on its
// address is its own and gets its probes, and its nomination is selected.
func TestProbedPeerThatAnsweredIsNotHeldBack(t *testing.T) {
	_, eng, room := newProbeRoom(t)
	attacker, err := room.Join("attacker")
	if err != nil {
		t.Fatal(err)
	}
	var aimed []netip.AddrPort
	for range maxProbed {
		_, ap := listenOn(t, "127.0.0.1")
		aimed = append(aimed, ap)
	}
	answerOffer(t, attacker, false, answerNaming(aimed...))
	for range probeBurst/maxProbed - 1 {
		attacker.own.probe() // the clock stands still: the budget is spent
	}
	peer, peerAP := listenOn(t, "127.0.0.1")
	p, err := room.Join("peer")
	if err != nil {
		t.Fatal(err)
	}
	answerOffer(t, p, false, answerNaming(peerAP))
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
	buf := make([]byte, 1500)
	var ask []byte
	for ask == nil {
		_ = peer.SetReadDeadline(time.Now().Add(mediaWait))
		n, err := peer.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if uint16(buf[0])<<8|uint16(buf[1]) == stun.BindingRequest.Value() {
			ask = append([]byte(nil), buf[:n]...)
		}
	}
	if _, err := peer.WriteToUDPAddrPort(peerReply{pwd: probePeerPwd}.to(t, ask), server); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the peer's answer taken", func() bool { return p.own.lite.answeredFrom(peerAP) })

	p.own.probe()
	if got := probesAt(t, eng, peer); got != 1 {
		t.Fatalf("%d probes to the peer in the round after it answered, want 1", got)
	}
	nominate := check{username: p.own.lite.ufrag + ":" + probePeerUfrag, pwd: p.own.lite.pwd, nominate: true}.bytes(t)
	if _, err := peer.WriteToUDPAddrPort(nominate, server); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the peer's nomination selected", func() bool { return p.route.Load() != nil })
}

// TestPeerThatCannotCheckFirstGetsItsFirstProbe: a peer that checks the server only
// once a probe told it where the server is (Firefox, which pairs none of its
// addresses with a server's loopback candidate) names an address whose budget another
// participant has spent, and keeps spending; the connection's first probe to it goes
// all the same, the only one of its nine rounds, and the peer finds the server with
// it: it checks, answers the server's request, nominates and is selected.
func TestPeerThatCannotCheckFirstGetsItsFirstProbe(t *testing.T) {
	_, eng, room := newProbeRoom(t)
	attacker, err := room.Join("attacker")
	if err != nil {
		t.Fatal(err)
	}
	var aimed []netip.AddrPort
	for range maxProbed {
		_, ap := listenOn(t, "127.0.0.1")
		aimed = append(aimed, ap)
	}
	answerOffer(t, attacker, false, answerNaming(aimed...))
	for range probeBurst/maxProbed - 1 {
		attacker.own.probe() // the clock stands still: the budget is spent
	}
	peer, peerAP := listenOn(t, "127.0.0.1")
	p, err := room.Join("peer")
	if err != nil {
		t.Fatal(err)
	}
	answerOffer(t, p, false, answerNaming(peerAP))
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
	buf := make([]byte, 1500)
	for {
		_ = peer.SetReadDeadline(time.Now().Add(mediaWait))
		n, err := peer.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if uint16(buf[0])<<8|uint16(buf[1]) == stun.BindingRequest.Value() {
			if _, err := peer.WriteToUDPAddrPort(peerReply{pwd: probePeerPwd}.to(t, buf[:n]), server); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	waitFor(t, "the peer's nomination selected", func() bool { return p.route.Load() != nil })
}

// TestProbeBudgetByDestination: an IPv4 address is a destination, an IPv6 /64 is one;
// the budget refills on the clock, and a destination whose budget is whole again is
// forgotten.
func TestProbeBudgetByDestination(t *testing.T) {
	var b probeBudget
	now := time.Unix(1_000_000, 0)
	spend := func(ip string) int {
		n := 0
		for b.take(addrGroup(netip.MustParseAddr(ip)), now, false) {
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
	now = now.Add(time.Second)
	if n := spend("192.0.2.1"); n != probeRate {
		t.Fatalf("%d probes a second later, want %d", n, probeRate)
	}
	b.forget(now.Add(time.Duration(probeBurst/probeRate) * time.Second))
	if len(b.dsts) != 0 {
		t.Fatalf("%d destinations kept with their budgets whole again", len(b.dsts))
	}
}
