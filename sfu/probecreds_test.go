package sfu

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/pion/stun/v4"
)

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
