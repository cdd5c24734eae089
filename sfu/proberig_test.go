package sfu

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
)

// The rig of the probes' tests (probebudget_test.go, probecreds_test.go): a room
// whose timers the test runs, answers naming the addresses it listens on, and the
// probes that reached them.

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
		_ = c.SetReadDeadline(time.Now().Add(conntest.Wait))
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

// newPeerBehindSpentBudget is a probe room in which an attacker has named maxProbed
// addresses of 127.0.0.1 and spent that destination's budget of probes (the clock
// stands still), and a peer, p, whose socket is on 127.0.0.1 too, has joined and
// answered naming its address: the round of that answer has been sent.
func newPeerBehindSpentBudget(t *testing.T) (eng *Engine, p *Participant, peer *net.UDPConn, peerAP netip.AddrPort) {
	t.Helper()
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
	peer, peerAP = listenOn(t, "127.0.0.1")
	if p, err = room.Join("peer"); err != nil {
		t.Fatal(err)
	}
	answerOffer(t, p, false, answerNaming(peerAP))
	return eng, p, peer, peerAP
}

// answerTheServer has the peer at peer, which has just checked the server at server
// (every probe before read), answer the request the server sends it next.
func answerTheServer(t *testing.T, peer *net.UDPConn, server netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 1500)
	for {
		_ = peer.SetReadDeadline(time.Now().Add(conntest.Wait))
		n, err := peer.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if uint16(buf[0])<<8|uint16(buf[1]) == stun.BindingRequest.Value() {
			if _, err := peer.WriteToUDPAddrPort(peerReply{pwd: probePeerPwd}.to(t, buf[:n]), server); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}
