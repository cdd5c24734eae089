package sfu

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

// dtlsTestRecord is a DTLS handshake record whose last byte is n, size bytes long.
func dtlsTestRecord(n byte, size int) []byte {
	b := make([]byte, size)
	copy(b, []byte{22, 0xfe, 0xfd})
	b[size-1] = n
	return b
}

// TestICELiteRecordBeforeItsAnswerWaitsForIt: DTLS records from an address that was
// sent a request awaiting its answer, which come before the answer (a peer's
// ClientHello, sent once the response to its check makes its pair usable), are given
// to the agent whose answer from there comes, in the order they came, before any
// record after the answer. Another participant's check from that address (whose
// request nobody there answers) gets none of them. Records that came before any
// request, or that waited longer than askFlight for the answer, are not kept. Before,
// such a record was left to Pion's mux, which drops it, and the handshake waited for
// the peer's retransmission (a second for Pion).
func TestICELiteRecordBeforeItsAnswerWaitsForIt(t *testing.T) {
	agents, l, log, _, clock := newProofAgents(t)
	other := newICELite(func(litePath) {})
	agents.add(other)
	if _, err := other.setRemote("other", "the-others-own-password-456"); err != nil {
		t.Fatal(err)
	}
	var gotten []string // who got which record
	l.onDTLS = func(b []byte) { gotten = append(gotten, fmt.Sprint("peer's ", b[len(b)-1])) }
	other.onDTLS = func(b []byte) { gotten = append(gotten, fmt.Sprint("other's ", b[len(b)-1])) }
	at := netip.MustParseAddrPort("127.0.0.1:40000")

	// The peer's check, then the other's in at's name: two requests to at.
	if !agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd}.bytes(t), at) {
		t.Fatal("the peer's check was not taken")
	}
	req := log.lastRequest(t, at)
	if !agents.take(check{username: other.ufrag + ":other", pwd: other.pwd, nominate: true}.bytes(t), at) {
		t.Fatal("the other's check was not taken")
	}
	log.lastRequest(t, at)
	for n := range byte(2) {
		if agents.takeDTLS(dtlsTestRecord(n, 100), at) {
			t.Fatalf("record %d, before any answer, taken from Pion's mux", n)
		}
	}
	if len(gotten) != 0 {
		t.Fatalf("before the answer: %d records given", len(gotten))
	}
	if !agents.take(peerReply{pwd: testPeerPwd}.to(t, req), at) {
		t.Fatal("the peer's answer was not taken")
	}
	if !agents.takeDTLS(dtlsTestRecord(2, 100), at) {
		t.Fatal("the record after the answer was not taken")
	}
	if want := []string{"peer's 0", "peer's 1", "peer's 2"}; fmt.Sprint(gotten) != fmt.Sprint(want) {
		t.Fatalf("records given %q, want %q", gotten, want)
	}

	// A record before any request, and one that waited longer than askFlight.
	gotten = nil
	early := netip.MustParseAddrPort("127.0.0.1:40001")
	agents.takeDTLS(dtlsTestRecord(3, 100), early)
	if !agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd}.bytes(t), early) {
		t.Fatal("the peer's check was not taken")
	}
	earlyReq := log.lastRequest(t, early)
	*clock = clock.Add(askFlight)
	agents.takeDTLS(dtlsTestRecord(4, 100), early)
	if !agents.take(peerReply{pwd: testPeerPwd}.to(t, earlyReq), early) {
		t.Fatal("the peer's answer was not taken")
	}
	if len(gotten) != 0 {
		t.Fatalf("records given %v; want none: one before any request, one after askFlight", gotten)
	}
}

// TestDTLSHoldIsBounded: a flood of DTLS records from many addresses that were sent
// requests (checks of forty connections from three fresh addresses each, each
// connection from a source of its own, forty records from each address) holds records from maxHeldAddrs addresses at most,
// maxHeldRecords of each and maxHeldBytes in all; a record larger than a datagram of
// a peer's first flight is not held; and what is held is let go at askFlight's sweep.
func TestDTLSHoldIsBounded(t *testing.T) {
	for _, c := range []struct {
		size, want int
	}{
		{100, maxHeldAddrs * maxHeldRecords}, // the addresses' and records' bounds
		{1400, maxHeldBytes / 1400},          // the bytes'
		{maxHeldRecordSize + 1, 0},
	} {
		t.Run(fmt.Sprint(c.size, " bytes"), func(t *testing.T) {
			agents, _, log, _, clock := newProofAgents(t)
			delivered := 0
			type asked struct {
				at  netip.AddrPort
				req []byte
				pwd string
			}
			var lites []*iceLite
			for i := range 40 {
				l := newICELite(func(litePath) {})
				l.onDTLS = func([]byte) { delivered++ }
				agents.add(l)
				if _, err := l.setRemote("flood", fmt.Sprintf("password-of-connection-%04d", i)); err != nil {
					t.Fatal(err)
				}
				lites = append(lites, l)
			}
			// flood sends each connection's checks from three fresh addresses from
			// port on, then forty records from each address.
			flood := func(port int) []asked {
				var reqs []asked
				for i, l := range lites {
					for j := range maxUnansweredAsks {
						// A source of its own for each connection: the bounds of all
						// the hold, not of one source's share (TestDTLSHoldIsSharedBetweenSources).
						at := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)}), uint16(port+i*maxUnansweredAsks+j))
						if !agents.take(check{username: l.ufrag + ":flood", pwd: l.pwd}.bytes(t), at) {
							t.Fatal("a check was not taken")
						}
						reqs = append(reqs, asked{at, log.lastRequest(t, at), fmt.Sprintf("password-of-connection-%04d", i)})
					}
				}
				for _, r := range reqs {
					for n := range 40 {
						agents.takeDTLS(dtlsTestRecord(byte(n), c.size), r.at)
					}
				}
				return reqs
			}
			held := func() (addrs, bytes int) {
				agents.mu.RLock()
				defer agents.mu.RUnlock()
				shared := 0
				for _, s := range agents.hold.sources {
					shared += s.bytes
				}
				if shared != agents.hold.bytes {
					t.Fatalf("the sources' shares hold %d bytes, the hold %d", shared, agents.hold.bytes)
				}
				return len(agents.hold.addrs), agents.hold.bytes
			}

			reqs := flood(10000)
			if addrs, bytes := held(); addrs > maxHeldAddrs || bytes > maxHeldBytes {
				t.Fatalf("records held from %d addresses, %d bytes; want %d and %d at most", addrs, bytes, maxHeldAddrs, maxHeldBytes)
			}
			// The requests to the addresses beyond maxHeldAddrs are counted
			// (Stats.DTLSHoldFull): their records are neither held nor refused.
			if n, want := agents.dtlsNoRoom.Load(), uint64(len(reqs)-maxHeldAddrs); n != want {
				t.Fatalf("counted %d requests whose address the full hold had no room for, want %d", n, want)
			}
			for _, r := range reqs {
				agents.take(peerReply{pwd: r.pwd}.to(t, r.req), r.at)
			}
			if delivered != c.want {
				t.Fatalf("%d held records given at the answers, want %d", delivered, c.want)
			}
			// Counted (Stats.DTLSEarly…): each held one given, the rest of the forty
			// records from each of the maxHeldAddrs addresses armed refused.
			if held, given, refused := agents.dtlsHeld.Load(), agents.dtlsGiven.Load(), agents.dtlsRefused.Load(); held != uint64(c.want) || given != uint64(c.want) || refused != uint64(maxHeldAddrs*40-c.want) {
				t.Fatalf("counted %d records held, %d given, %d refused; want %d, %d, %d", held, given, refused, c.want, c.want, maxHeldAddrs*40-c.want)
			}

			// Held again from other addresses, and let go at the sweep askFlight later.
			*clock = clock.Add(askFlight) // the budget of requests frees
			flood(20000)
			if addrs, _ := held(); c.want != 0 && addrs == 0 {
				t.Fatal("nothing held from the second flood")
			}
			*clock = clock.Add(askFlight)
			agents.sweep(clock.UnixNano(), agents.consentTime())
			if addrs, bytes := held(); addrs != 0 || bytes != 0 || len(agents.hold.sources) != 0 {
				t.Fatalf("after askFlight's sweep: records held from %d addresses, %d bytes, %d sources", addrs, bytes, len(agents.hold.sources))
			}
		})
	}
}

// TestDTLSHoldIsSharedBetweenSources: a participant that keeps the hold busy from
// its own host (connections checking from three fresh ports each, never answering,
// forty records from each port) holds maxHeldAddrsPerSource addresses and
// maxHeldBytesPerSource bytes at most, and a peer elsewhere whose ClientHello comes
// before its answer still has it given at the answer. Before, twenty-two such
// connections took every address of the hold, four with records of 1400 bytes every
// byte of it, and the peer waited for its retransmission. So too when both come
// through a translator (64:ff9b::/96, RFC 6052) as IPv4 addresses of their own; each
// is its IPv4 address's source, where before they were one /64's.
func TestDTLSHoldIsSharedBetweenSources(t *testing.T) {
	for _, c := range []struct {
		name           string
		attacker, peer string
		conns, size    int
		wantAddrs      int
		wantMaxBytes   int
	}{
		{"addresses", "203.0.113.9", "198.51.100.7", 40, 100, maxHeldAddrsPerSource, maxHeldAddrsPerSource * maxHeldRecords * 100},
		{"bytes", "203.0.113.9", "198.51.100.7", 4, 1400, maxHeldAddrsPerSource, maxHeldBytesPerSource},
		{"translated", "64:ff9b::203.0.113.9", "64:ff9b::198.51.100.7", 40, 100, maxHeldAddrsPerSource, maxHeldAddrsPerSource * maxHeldRecords * 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			agents, l, log, _, _ := newProofAgents(t)
			attacker := netip.MustParseAddr(c.attacker)
			port := uint16(10000)
			for i := range c.conns {
				a := newICELite(func(litePath) {})
				agents.add(a)
				if _, err := a.setRemote("flood", fmt.Sprintf("password-of-connection-%04d", i)); err != nil {
					t.Fatal(err)
				}
				for range maxUnansweredAsks {
					at := netip.AddrPortFrom(attacker, port)
					port++
					if !agents.take(check{username: a.ufrag + ":flood", pwd: a.pwd}.bytes(t), at) {
						t.Fatal("a check was not taken")
					}
					log.lastRequest(t, at)
					for n := range 40 {
						agents.takeDTLS(dtlsTestRecord(byte(n), c.size), at)
					}
				}
			}
			agents.mu.RLock()
			addrs, bytes := len(agents.hold.addrs), agents.hold.bytes
			agents.mu.RUnlock()
			if addrs != c.wantAddrs || bytes > c.wantMaxBytes {
				t.Errorf("one source holds %d addresses and %d bytes; want %d and %d at most", addrs, bytes, c.wantAddrs, c.wantMaxBytes)
			}
			if n, want := agents.dtlsNoRoom.Load(), uint64(c.conns*maxUnansweredAsks-c.wantAddrs); n != want {
				t.Errorf("counted %d requests whose address the source's full share had no room for, want %d", n, want)
			}

			var gotten []byte
			l.onDTLS = func(b []byte) { gotten = append(gotten, b[len(b)-1]) }
			peer := netip.AddrPortFrom(netip.MustParseAddr(c.peer), 5000)
			if !agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd}.bytes(t), peer) {
				t.Fatal("the peer's check was not taken")
			}
			req := log.lastRequest(t, peer)
			agents.takeDTLS(dtlsTestRecord(7, 1200), peer) // a ClientHello fragmented to the MTU
			agents.take(peerReply{pwd: testPeerPwd}.to(t, req), peer)
			if len(gotten) != 1 || gotten[0] != 7 {
				t.Fatalf("the peer's ClientHello before its answer: records %v given at the answer, want [7]", gotten)
			}
		})
	}
}

// FuzzDTLSHold: whatever records arrive from an address awaiting its answer, what is
// given at the answer is the records that came, in order, within the bounds.
func FuzzDTLSHold(f *testing.F) {
	f.Add([]byte{22, 0xfe, 0xfd, 0, 1}, 3)
	f.Add(bytes.Repeat([]byte{23}, 1600), 2)
	f.Add([]byte{64}, 1)
	f.Fuzz(func(t *testing.T, b []byte, copies int) {
		copies = min(max(copies, 0), 10)
		agents, l, log, _, _ := newProofAgents(t)
		var got [][]byte
		l.onDTLS = func(r []byte) { got = append(got, bytes.Clone(r)) }
		at := netip.MustParseAddrPort("127.0.0.1:40000")
		agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd}.bytes(t), at)
		req := log.lastRequest(t, at)
		for range copies {
			agents.takeDTLS(b, at)
		}
		agents.take(peerReply{pwd: testPeerPwd}.to(t, req), at)
		want := 0
		if dtlsRecord(b) && len(b) <= maxHeldRecordSize {
			want = min(copies, maxHeldRecords)
		}
		if len(got) != want {
			t.Fatalf("%d records given, want %d", len(got), want)
		}
		for _, r := range got {
			if !bytes.Equal(r, b) {
				t.Fatalf("given %x, want %x", r, b)
			}
		}
	})
}

// helloFirstConn is a subscriber's socket on which its first DTLS record, the
// ClientHello, reaches the server before any of its answers to the server's requests:
// an answer written before that record waits, and goes right after it. Its checks
// wait until open (the server has the SDP answer then, whose password its requests
// need), and every ClientHello after the first is dropped, so that the handshake
// completes only if the server took the first.
type helloFirstConn struct {
	net.PacketConn

	mu             sync.Mutex
	open           bool
	checks         []queuedDatagram // waiting for open
	answers        []queuedDatagram // waiting for the first ClientHello
	hellos         int              // ClientHellos written
	answersDelayed int              // answers that went after the first ClientHello
}

type queuedDatagram struct {
	b  []byte
	to net.Addr
}

// clientHello tells a record of DTLS 1.x's first epoch carrying a ClientHello.
func clientHello(b []byte) bool {
	return len(b) > 13 && b[0] == 22 && b[3] == 0 && b[4] == 0 && b[13] == 1
}

func (c *helloFirstConn) WriteTo(b []byte, to net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock() // held across the writes: they go in the order decided here
	isType := func(typ stun.MessageType) bool { return isSTUN(b) && typ.Value() == uint16(b[0])<<8|uint16(b[1]) }
	switch {
	case isType(stun.BindingRequest) && !c.open:
		c.checks = append(c.checks, queuedDatagram{bytes.Clone(b), to})
		return len(b), nil
	case isType(stun.BindingSuccess) && c.hellos == 0:
		c.answers = append(c.answers, queuedDatagram{bytes.Clone(b), to})
		return len(b), nil
	case clientHello(b):
		c.hellos++
		if c.hellos > 1 {
			return len(b), nil // only the first goes
		}
		n, err := c.PacketConn.WriteTo(b, to)
		for _, d := range c.answers {
			_, _ = c.PacketConn.WriteTo(d.b, d.to)
		}
		c.answersDelayed, c.answers = len(c.answers), nil
		return n, err
	}
	return c.PacketConn.WriteTo(b, to)
}

// start lets the checks go.
func (c *helloFirstConn) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open = true
	for _, d := range c.checks {
		_, _ = c.PacketConn.WriteTo(d.b, d.to)
	}
	c.checks = nil
}

// TestClientHelloBeforeItsAnswerIsServed: a subscriber (Pion, the DTLS client) whose
// ClientHello reaches the server before its answer to the server's request, as the
// load generator's Pion clients and now and then a browser do, completes its
// handshake on that first ClientHello: the retransmissions are dropped on the way,
// and it receives the publisher's packets. Before, the first ClientHello was left to
// Pion's mux, which dropped it, and the handshake waited for a retransmission (a
// second for Pion, 50–77 ms for a browser); here none would have come.
func TestClientHelloBeforeItsAnswerIsServed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	_, eng, room := newClockedRoom(t, false, withOwnSubscribe)
	sub, err := room.Join("sub")
	if err != nil {
		t.Fatal(err)
	}
	pubP, err := room.Join("pub")
	if err != nil {
		t.Fatal(err)
	}
	keepPublishingCamera(ctx, t, pubP)
	offer := nextSubscribeOffer(ctx, t, sub)

	raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn := &helloFirstConn{PacketConn: raw}
	spc, got := pionSubscriberOver(t, conn, webrtc.DTLSRoleClient)
	if err := sub.AcceptSubscribeAnswer(answerWith(t, spc, offer)); err != nil {
		t.Fatal(err)
	}
	conn.start()
	select {
	case <-got:
	case <-ctx.Done():
		conn.mu.Lock()
		defer conn.mu.Unlock()
		t.Fatalf("no packet: %d ClientHellos written (only the first sent), %d answers sent after it; the server's handshake read %d datagrams",
			conn.hellos, conn.answersDelayed, sub.own.dtls.reads.Load())
	}
	// The operator sees it (metrics): the ClientHello held, and given at the answer.
	if st := eng.Stats(); st.DTLSEarlyHeld == 0 || st.DTLSEarlyGiven != st.DTLSEarlyHeld || st.DTLSEarlyRefused != 0 || st.DTLSHoldFull != 0 {
		t.Fatalf("Stats: %d early DTLS records held, %d given, %d refused, the hold full for %d requests; want the ClientHello held and given", st.DTLSEarlyHeld, st.DTLSEarlyGiven, st.DTLSEarlyRefused, st.DTLSHoldFull)
	}
}
