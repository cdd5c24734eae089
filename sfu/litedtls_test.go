package sfu

import (
	"context"
	"net"
	"net/netip"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
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

// TestICELiteDTLSFollowsTheAnswer: the DTLS records from an address go to the agent
// whose peer answered one of the server's requests from it, not to the one whose
// check came from it last: another participant's valid check of its own connection,
// from the address of a peer that answered, takes none of that peer's records (had
// it, the peer's handshake would have failed). A record from an address that only
// passed a check is not taken; of two agents answered from one address (a NAT that
// gave the port to another), the newer answer's gets the records; an agent that
// forgot the address, or is removed, no longer does.
func TestICELiteDTLSFollowsTheAnswer(t *testing.T) {
	agents, l, log, _, clock := newProofAgents(t)
	other := newICELite(func(litePath) {})
	agents.add(other)
	if _, err := other.setRemote("other", "the-others-own-password-456"); err != nil {
		t.Fatal(err)
	}
	var got []*iceLite
	l.onDTLS = func([]byte) { got = append(got, l) }
	other.onDTLS = func([]byte) { got = append(got, other) }
	record := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	at := netip.MustParseAddrPort("127.0.0.1:40000")
	recordGoesTo := func(when string, want *iceLite) {
		t.Helper()
		got = nil
		taken := agents.takeDTLS(record, at)
		switch {
		case want == nil && (taken || len(got) != 0):
			t.Fatalf("%s: the record was taken (by %d agents)", when, len(got))
		case want != nil && (len(got) != 1 || got[0] != want):
			t.Fatalf("%s: the record went to %d agents, the peer's: %v", when, len(got), len(got) == 1 && got[0] == l)
		}
	}

	// The peer's check from at, and the server's request it earned.
	if !agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd}.bytes(t), at) {
		t.Fatal("the peer's check was not taken")
	}
	req := log.lastRequest(t, at)
	recordGoesTo("after a check, before its answer", nil)
	if !agents.take(peerReply{pwd: testPeerPwd}.to(t, req), at) {
		t.Fatal("the peer's answer was not taken")
	}
	recordGoesTo("after the peer's answer", l)

	// The other participant's valid check of its own connection, in at's name.
	if !agents.take(check{username: other.ufrag + ":other", pwd: other.pwd, nominate: true}.bytes(t), at) {
		t.Fatal("the other's check was not taken")
	}
	otherReq := log.lastRequest(t, at)
	recordGoesTo("after the other's check from the peer's address", l)

	// The address answers the other's request: it is the other's peer's now.
	if !agents.take(peerReply{pwd: "the-others-own-password-456"}.to(t, otherReq), at) {
		t.Fatal("the other's answer was not taken")
	}
	recordGoesTo("after the other's answer from the address", other)

	// The other forgets at: maxProven checks of its peer from other addresses.
	for i := range maxProven {
		from := netip.AddrPortFrom(at.Addr(), at.Port()+1+uint16(i))
		if !agents.take(check{username: other.ufrag + ":other", pwd: other.pwd}.bytes(t), from) {
			t.Fatal("the other's check was not taken")
		}
	}
	recordGoesTo("after the other forgot the address", nil)

	// Answered again for the peer (its answer is old enough to be asked again),
	// then the peer's agent removed.
	*clock = clock.Add(agents.consentTime()/5 + time.Second)
	if !agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd}.bytes(t), at) {
		t.Fatal("the peer's check was not taken")
	}
	if !agents.take(peerReply{pwd: testPeerPwd}.to(t, log.lastRequest(t, at)), at) {
		t.Fatal("the peer's answer was not taken")
	}
	recordGoesTo("after the peer's new answer", l)
	agents.remove(l)
	recordGoesTo("after the peer's agent was removed", nil)
}

// forgingConn is a subscriber's socket that, before each DTLS record the subscriber
// sends, sends another participant's check (from next) from the same socket, and
// waits until the server answered it: the check comes between the subscriber's last
// check and each of its records, however the two race.
type forgingConn struct {
	net.PacketConn
	next func() []byte // the next forged check; nil when there is none left

	mu       sync.Mutex
	tid      [stun.TransactionIDSize]byte // the forged check awaiting its answer
	answered chan struct{}
	forged   atomic.Int32 // the checks answered before a record
}

func (c *forgingConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if dtlsRecord(b) {
		c.forge(addr)
	}
	return c.PacketConn.WriteTo(b, addr)
}

func (c *forgingConn) forge(to net.Addr) {
	chk := c.next()
	var m stun.Message
	if chk == nil || stun.Decode(chk, &m) != nil {
		return
	}
	answered := make(chan struct{})
	c.mu.Lock()
	c.tid, c.answered = m.TransactionID, answered
	c.mu.Unlock()
	if _, err := c.PacketConn.WriteTo(chk, to); err != nil {
		return
	}
	select {
	case <-answered:
		c.forged.Add(1)
	case <-time.After(conntest.Wait): // the test fails on what the subscriber got
	}
}

func (c *forgingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.PacketConn.ReadFrom(b)
	if err == nil && isSTUN(b[:n]) && stun.BindingSuccess.Value() == uint16(b[0])<<8|uint16(b[1]) {
		c.mu.Lock()
		if c.answered != nil && [stun.TransactionIDSize]byte(b[8:20]) == c.tid {
			close(c.answered)
			c.answered = nil
		}
		c.mu.Unlock()
	}
	return n, from, err
}

var (
	iceUfragLine = regexp.MustCompile(`a=ice-ufrag:(\S+)`)
	icePwdLine   = regexp.MustCompile(`a=ice-pwd:(\S+)`)
)

// TestForgedCheckTakesNoHandshake: participant B, who has only the ICE credentials of
// its own subscribe connection (from its offer), sends a valid check of that
// connection from subscriber A's address before each DTLS record A sends, in either
// DTLS role. A's records still reach A's connection: A completes its handshake and
// receives the publisher's packets, and B's connection gets none of A's records.
// With the records routed by the newest check from their address, each went to B's
// connection and A's handshake never completed.
func TestForgedCheckTakesNoHandshake(t *testing.T) {
	for _, role := range []webrtc.DTLSRole{webrtc.DTLSRoleClient, webrtc.DTLSRoleServer} {
		t.Run("A as DTLS "+role.String(), func(t *testing.T) { forgedCheckTakesNoHandshake(t, role) })
	}
}

func forgedCheckTakesNoHandshake(t *testing.T, role webrtc.DTLSRole) {
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	_, _, room := newClockedRoom(t, false, withOwnSubscribe)
	var parts [3]*Participant
	for i, name := range []string{"a", "b", "pub"} {
		p, err := room.Join(name)
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = p
	}
	a, b, pubP := parts[0], parts[1], parts[2]
	keepPublishingCamera(ctx, t, pubP)

	// B's credentials, from its own offer, and its checks, made ahead.
	bOffer := nextSubscribeOffer(ctx, t, b)
	ufrag, pwd := iceUfragLine.FindStringSubmatch(bOffer), icePwdLine.FindStringSubmatch(bOffer)
	if ufrag == nil || pwd == nil {
		t.Fatalf("no ICE credentials in B's offer:\n%s", bOffer)
	}
	var (
		checksMu sync.Mutex
		checks   [][]byte
	)
	for range 64 {
		checks = append(checks, check{username: ufrag[1] + ":forger", pwd: pwd[1], nominate: true}.bytes(t))
	}
	raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn := &forgingConn{PacketConn: raw, next: func() []byte {
		checksMu.Lock()
		defer checksMu.Unlock()
		if len(checks) == 0 {
			return nil
		}
		c := checks[0]
		checks = checks[1:]
		return c
	}}
	spc, got := pionSubscriberOver(t, conn, role)
	if err := a.AcceptSubscribeAnswer(answerWith(t, spc, nextSubscribeOffer(ctx, t, a))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatalf("A got no packet: %d forged checks answered before its records, %d of its records at B's connection",
			conn.forged.Load(), len(b.own.dtls.in))
	}
	if conn.forged.Load() == 0 {
		t.Fatal("no forged check came before A's records")
	}
	if n := len(b.own.dtls.in); n != 0 {
		t.Fatalf("%d of A's records at B's connection", n)
	}
}
