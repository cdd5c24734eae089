package sfu

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"conclave/internal/conntest"
)

// The tests in this file play a participant who sends checks of its own subscribe
// connection (whose password its page has) from a forged source: a victim's address,
// which is to get the meeting's media, or its own address once it is gone, which is
// to keep it. The server's own requests, which only the real peer answers, stop both
// (liteproof.go).

// liteCredentials are what a check of the subscriber's connection carries: the
// server's ufrag and password, and the peer's ufrag from its answer.
func (r *mediaRig) liteCredentials() (user, pwd string) {
	o := r.subP.own
	o.mu.Lock()
	l := o.lite
	o.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ufrag + ":" + l.remote, l.pwd
}

// serverAddr is the media socket's address.
func (r *mediaRig) serverAddr() netip.AddrPort {
	return r.eng.udpConn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// routeTo is where the subscriber's media go now; invalid for none.
func (r *mediaRig) routeTo() netip.AddrPort {
	if rt := r.subP.route.Load(); rt != nil {
		return rt.ap
	}
	return netip.AddrPort{}
}

// udpPeer is a socket of the test's on 127.0.0.1.
func udpPeer(t *testing.T) (*net.UDPConn, netip.AddrPort) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// readSTUN reads the next datagram at c, which must be STUN.
func readSTUN(t *testing.T, c *net.UDPConn) *stun.Message {
	t.Helper()
	buf := make([]byte, 1500)
	_ = c.SetReadDeadline(time.Now().Add(conntest.Wait))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var m stun.Message
	if err := stun.Decode(buf[:n], &m); err != nil {
		t.Fatalf("not STUN (%x…): %v", buf[:min(n, 4)], err)
	}
	return &m
}

// TestForgedSourceGetsNoMedia: a check of the subscriber's connection with
// USE-CANDIDATE, valid but for its forged source (a victim's socket that answers
// nothing), does not move the media: the victim gets the check's answer and one
// request of the server's for each check, nothing else, and the subscriber keeps
// receiving. When the real peer moves to a new socket and answers the server's
// request from there, the media follow it, after that answer and not before.
func TestForgedSourceGetsNoMedia(t *testing.T) {
	r := newMediaRigAPIs(t, testPeerAPI(t), testPeerAPI(t), withOwnSubscribe)
	user, pwd := r.liteCredentials()
	server, subscriber := r.serverAddr(), r.routeTo()
	victim, victimAddr := udpPeer(t)
	asked := r.eng.lites.asked.Load()
	const forged = 3
	for range forged {
		if _, err := victim.WriteToUDPAddrPort(check{username: user, pwd: pwd, nominate: true}.bytes(t), server); err != nil {
			t.Fatal(err)
		}
		if m := readSTUN(t, victim); m.Type != stun.BindingSuccess {
			t.Fatalf("got %v, want the check's answer", m.Type)
		}
		if m := readSTUN(t, victim); m.Type != stun.BindingRequest {
			t.Fatalf("got %v, want the server's request", m.Type)
		}
		if to := r.routeTo(); to != subscriber {
			t.Fatalf("the media go to %v after a forged check from %v, not to the subscriber at %v", to, victimAddr, subscriber)
		}
	}
	var seqs []uint16
	for range 20 {
		seqs = append(seqs, r.pub.send())
	}
	conntest.Eventually(t, "the packets sent after the forged checks at the subscriber", func() bool {
		for _, s := range seqs {
			if !r.sub.has(s) {
				return false
			}
		}
		return true
	})
	if n := r.eng.lites.asked.Load() - asked; n > forged+3 {
		// The subscriber's own checks may be asked in between, a few at most.
		t.Fatalf("%d requests for %d forged checks", n, forged)
	}
	// Whatever reached the victim by now is STUN: none of the subscriber's packets.
	buf := make([]byte, 1500)
	_ = victim.SetReadDeadline(time.Now())
	for {
		n, err := victim.Read(buf)
		if err != nil {
			break
		}
		if !isSTUN(buf[:n]) {
			t.Fatalf("the victim got a datagram that is not STUN (%x…)", buf[:min(n, 4)])
		}
	}

	// The real peer moves: its checks come from a new socket, which answers. The
	// requests to the victim are out of flight by then (askFlight): until then the
	// connection's budget of requests to addresses that never answered is spent.
	r.clock.Advance(askFlight)
	moved, movedAddr := udpPeer(t)
	if _, err := moved.WriteToUDPAddrPort(check{username: user, pwd: pwd, nominate: true}.bytes(t), server); err != nil {
		t.Fatal(err)
	}
	if m := readSTUN(t, moved); m.Type != stun.BindingSuccess {
		t.Fatalf("got %v, want the check's answer", m.Type)
	}
	req := readSTUN(t, moved)
	if to := r.routeTo(); to != subscriber {
		t.Fatalf("the media went to %v before it answered", to)
	}
	_, peerPwd := r.subscriberICE()
	if _, err := moved.WriteToUDPAddrPort(peerReply{pwd: peerPwd}.to(t, req.Raw), server); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the media to move", func() bool { return r.routeTo() == movedAddr })
	r.pub.send()
	buf = make([]byte, 1500)
	for {
		_ = moved.SetReadDeadline(time.Now().Add(conntest.Wait))
		n, err := moved.Read(buf)
		if err != nil {
			t.Fatalf("no media at the new socket: %v", err)
		}
		if !isSTUN(buf[:n]) && n > 12 && buf[0]>>6 == 2 {
			break // SRTP
		}
	}
}

// subscriberICE is the subscriber's own ICE ufrag and password, from its answer.
func (r *mediaRig) subscriberICE() (ufrag, pwd string) {
	for _, line := range strings.Split(r.sub.pc.LocalDescription().SDP, "\r\n") {
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok && ufrag == "" {
			ufrag = v
		}
		if v, ok := strings.CutPrefix(line, "a=ice-pwd:"); ok && pwd == "" {
			pwd = v
		}
	}
	return ufrag, pwd
}

// TestForgedChecksKeepNoConsent: checks from the selected address keep the server's
// consent only while its peer answers the server's requests (RFC 7675): a subscriber
// gone silent whose address still sends checks (forged in its name; here written on
// its own socket while its peer answers nothing) loses the media once the consent time
// passes on the engine's clock, as one that sends nothing does; the loss is counted
// once in the engine's Stats (ICEConsentLost).
func TestForgedChecksKeepNoConsent(t *testing.T) {
	conn := &silencedConn{}
	r := ownSubscribeRigOver(t, func(raw net.PacketConn) net.PacketConn { conn.PacketConn = raw; return conn })
	user, pwd := r.liteCredentials()
	server := net.UDPAddrFromAddrPort(r.serverAddr())

	lost := r.eng.Stats().ICEConsentLost
	conn.silent.Store(true) // the peer answers nothing, and checks no more
	conntest.Eventually(t, "the server to stop sending to the silent subscriber", func() bool {
		answered := r.eng.lites.answered.Load()
		if _, err := conn.PacketConn.WriteTo(check{username: user, pwd: pwd, nominate: true}.bytes(t), server); err != nil {
			t.Fatal(err)
		}
		conntest.Eventually(t, "the forged check's answer", func() bool { return r.eng.lites.answered.Load() > answered })
		r.clock.Advance(500 * time.Millisecond)
		r.pub.send()
		return r.eng.Stats().PacketsWithoutRoute > 0
	})
	r.noneReachesTheSubscriber()
	if n := r.eng.Stats().ICEConsentLost - lost; n != 1 {
		t.Fatalf("the consent lost counted %d times, want once", n)
	}
}
