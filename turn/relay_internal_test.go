package turn

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"conclave/internal/conntest"

	pionturn "github.com/pion/turn/v5"
)

// relayPair is a relay socket that reaches only peer (whose socket is returned), and
// a socket that is not a peer.
func relayPair(t *testing.T) (relay *restrictedConn, peer, stranger *net.UDPConn) {
	t.Helper()
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	peer, stranger = listen(), listen()
	g := &relayGenerator{relayIP: net.IPv4(127, 0, 0, 1), bindIP: "127.0.0.1",
		peers: newPeers([]netip.AddrPort{peer.LocalAddr().(*net.UDPAddr).AddrPort()})}
	pc, _, err := g.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4", UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	// Only a lost datagram meets the deadline.
	_ = pc.SetReadDeadline(time.Now().Add(conntest.Wait))
	return pc.(*restrictedConn), peer, stranger
}

// TestRelayReadsOnlyThePeers checks that a relay socket's read skips what a stranger
// sent and returns the peer's datagram with the peer's address.
func TestRelayReadsOnlyThePeers(t *testing.T) {
	relay, peer, stranger := relayPair(t)
	to := relay.LocalAddr().(*net.UDPAddr).AddrPort()
	if _, err := stranger.WriteToUDPAddrPort([]byte("stranger"), to); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.WriteToUDPAddrPort([]byte("peer"), to); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1500)
	n, from, err := relay.ReadFrom(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:n]) != "peer" || from.String() != peer.LocalAddr().String() {
		t.Fatalf("read %q from %v, want %q from %v", b[:n], from, "peer", peer.LocalAddr())
	}
}

// TestRelayReadDoesNotAllocate checks that reading a peer's datagram off a relay
// socket allocates nothing (pion/turn's allocation reads every relayed packet so).
func TestRelayReadDoesNotAllocate(t *testing.T) {
	relay, peer, _ := relayPair(t)
	to := relay.LocalAddr().(*net.UDPAddr).AddrPort()
	msg, b := make([]byte, 1100), make([]byte, 1500)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := peer.WriteToUDPAddrPort(msg, to); err != nil {
			t.Fatal(err)
		}
		if n, _, err := relay.ReadFrom(b); err != nil || n != len(msg) {
			t.Fatalf("read %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations a relayed datagram read, want 0", allocs)
	}
}

// TestRelayHandOver checks a relay socket whose SFU hands datagrams over in memory: it
// registers the SFU's address with its own port, reads what is handed over and what
// arrives on the socket from the SFU (not a stranger's), drops what its full inbox
// cannot hold without waiting, and ends the registration and its reads at Close.
func TestRelayHandOver(t *testing.T) {
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	peerAP := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	registered := map[netip.AddrPort]func([]byte){}
	removed := 0
	g := &relayGenerator{relayIP: net.IPv4(127, 0, 0, 1), bindIP: "127.0.0.1",
		peers: newPeers([]netip.AddrPort{peerAP}),
		local: func(ap netip.AddrPort, deliver func([]byte)) func() {
			registered[ap] = deliver
			return func() { removed++ }
		}}
	pc, _, err := g.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4", UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	relay := pc.(*restrictedConn)
	relayAP := relay.LocalAddr().(*net.UDPAddr).AddrPort()
	deliver := registered[netip.AddrPortFrom(peerAP.Addr(), relayAP.Port())]
	if len(registered) != 1 || deliver == nil {
		t.Fatalf("registered %v, want the SFU's address with the relay's port %d", registered, relayAP.Port())
	}
	read := func(want string) {
		t.Helper()
		// The inbox ignores read deadlines (as pion/turn sets none): a datagram lost
		// on loopback would hang the read, so a minute without it closes the relay
		// and the read fails instead.
		watchdog := time.AfterFunc(time.Minute, func() { _ = relay.Close() })
		defer watchdog.Stop()
		b := make([]byte, 1500)
		n, from, err := relay.ReadFrom(b)
		if err != nil || string(b[:n]) != want || from.String() != peerAP.String() {
			t.Fatalf("read %q from %v (%v), want %q from %v", b[:n], from, err, want, peerAP)
		}
	}
	deliver([]byte("in memory"))
	read("in memory")
	if _, err := stranger.WriteToUDPAddrPort([]byte("stranger"), relayAP); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.WriteToUDPAddrPort([]byte("on the socket"), relayAP); err != nil {
		t.Fatal(err)
	}
	read("on the socket")

	for i := 0; i < relayInbox+10; i++ {
		deliver([]byte{byte(i)})
	}
	if len(relay.inbox) != relayInbox {
		t.Fatalf("inbox holds %d, want %d (the rest dropped)", len(relay.inbox), relayInbox)
	}
	read("\x00")

	if err := relay.Close(); err != nil {
		t.Fatal(err)
	}
	_ = relay.Close()
	if removed != 1 {
		t.Fatalf("%d registrations removed, want 1", removed)
	}
	for {
		// What the inbox still held may be read first; then the reads end.
		if _, _, err := relay.ReadFrom(make([]byte, 1500)); err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("read after Close: %v", err)
			}
			break
		}
	}
}

// TestRelayHandOverAddresses checks where a relay socket is registered: at each SFU
// address of its family with the relay's port when the socket is bound for all
// addresses, and only at its own address when it is bound to one (another socket may
// hold the port at the others). A socket bound for all addresses of one family holds
// no port at the other family's: "::" and "0.0.0.0" are registered at the SFU's
// addresses of their own family only.
func TestRelayHandOverAddresses(t *testing.T) {
	peers := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:10000"), netip.MustParseAddrPort("127.0.0.2:10000"),
		netip.MustParseAddrPort("[::1]:10000"), netip.MustParseAddrPort("[2001:db8::7]:10000")}
	for _, tc := range []struct {
		bind string
		want []string
	}{
		{"", []string{"127.0.0.1:4242", "127.0.0.2:4242"}},
		{"0.0.0.0", []string{"127.0.0.1:4242", "127.0.0.2:4242"}},
		{"127.0.0.2", []string{"127.0.0.2:4242"}},
		{"::", []string{"[2001:db8::7]:4242", "[::1]:4242"}},
		{"::1", []string{"[::1]:4242"}},
	} {
		var got []string
		g := &relayGenerator{bindIP: tc.bind, peers: newPeers(peers),
			local: func(ap netip.AddrPort, _ func([]byte)) func() {
				got = append(got, ap.String())
				return func() {}
			}}
		sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		c := &restrictedConn{PacketConn: sock, udp: sock, peers: g.peers}
		g.handOver(c, 4242)
		_ = c.Close()
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("bound to %q: registered at %v, want %v", tc.bind, got, tc.want)
		}
	}
}

// TestRelayWriteHandsTheSFUWhatItTakes: a relay's write to the SFU goes to the SFU's
// taker for the address the SFU sees the relay at; what the taker serves never reaches
// the SFU's socket, what it leaves does; a write to anyone else is refused before.
// Once the relay is closed (its credentials revoked: the member left, or the meeting
// ended) it hands the SFU nothing more, though pion/turn, which deletes the allocation
// and its channels only when its reader sees the close, and the UDP listener's
// uplink (uplink.go) may still route a client's ChannelData to it a moment later.
func TestRelayWriteHandsTheSFUWhatItTakes(t *testing.T) {
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peerAP := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	var takers []netip.AddrPort
	var taken [][]byte
	g := &relayGenerator{relayIP: net.IPv4(127, 0, 0, 1), bindIP: "127.0.0.1",
		peers: newPeers([]netip.AddrPort{peerAP}),
		local: func(netip.AddrPort, func([]byte)) func() { return func() {} },
		uplink: func(ap netip.AddrPort) func([]byte) bool {
			takers = append(takers, ap)
			return func(b []byte) bool {
				if string(b) != "media" {
					return false
				}
				taken = append(taken, bytes.Clone(b))
				return true
			}
		}}
	pc, _, err := g.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4", UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	relay := pc.(*restrictedConn)
	defer relay.Close()
	relayAP := relay.LocalAddr().(*net.UDPAddr).AddrPort()
	if want := netip.AddrPortFrom(peerAP.Addr(), relayAP.Port()); len(takers) != 1 || takers[0] != want {
		t.Fatalf("takers for %v, want one for %v", takers, want)
	}
	for _, b := range []string{"media", "a check"} {
		if n, err := relay.WriteTo([]byte(b), net.UDPAddrFromAddrPort(peerAP)); err != nil || n != len(b) {
			t.Fatalf("write %q: %d, %v", b, n, err)
		}
	}
	if _, err := relay.WriteTo([]byte("media"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(peerAP.Port()) + 1}); !errors.Is(err, errPeerRefused) {
		t.Fatalf("write to another port: %v", err)
	}
	if len(taken) != 1 {
		t.Fatalf("%d taken in memory, want 1", len(taken))
	}
	_ = peer.SetReadDeadline(time.Now().Add(conntest.Wait))
	b := make([]byte, 100)
	n, from, err := peer.ReadFromUDPAddrPort(b)
	if err != nil || string(b[:n]) != "a check" || from != relayAP {
		t.Fatalf("the SFU's socket read %q from %v (%v), want what the taker left from %v", b[:n], from, err, relayAP)
	}
	_ = relay.Close()
	if _, err := relay.WriteTo([]byte("media"), net.UDPAddrFromAddrPort(peerAP)); !errors.Is(err, net.ErrClosed) || len(taken) != 1 {
		t.Fatalf("a write after the close: %v, %d taken in memory (want net.ErrClosed and still 1)", err, len(taken))
	}
}

// TestRelaySocketsAreCounted: a relay socket is counted against the caps when it is
// opened and let go when it is closed; one past a credential's cap is not opened, and
// none is opened without a user (pion/turn's EVEN-PORT probing, which would be
// registered with the SFU uncounted).
func TestRelaySocketsAreCounted(t *testing.T) {
	q := newQuota(10, 1)
	g := &relayGenerator{relayIP: net.IPv4(127, 0, 0, 1), bindIP: "127.0.0.1", quota: q}
	if _, _, err := g.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4"}); !errors.Is(err, errNoEvenPort) {
		t.Fatalf("a socket without a user: %v", err)
	}
	first, _, err := g.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4", UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4", UserID: "u"}); !errors.Is(err, errNoRelayRoom) {
		t.Fatalf("a second socket of a credential capped at one: %v", err)
	}
	_ = first.Close()
	_ = first.Close() // let go once
	if q.total != 0 || len(q.byUser) != 0 {
		t.Fatalf("after close: %d counted, %v", q.total, q.byUser)
	}
	again, _, err := g.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4", UserID: "u"})
	if err != nil {
		t.Fatalf("after closing the first: %v", err)
	}
	_ = again.Close()
}

// TestShutRelayRelaysNothing: once a relay is shut (its credentials revoked; its socket
// is closed later, Server.Revoke) its reads relay nothing more to its client: neither a
// datagram already in its inbox, which the read's select took about half the time with
// the close at hand as well, nor one that reached its socket before the close.
func TestShutRelayRelaysNothing(t *testing.T) {
	t.Run("hand-over", func(t *testing.T) {
		var deliver func([]byte)
		g := &relayGenerator{relayIP: net.IPv4(127, 0, 0, 1), bindIP: "127.0.0.1",
			peers: newPeers([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}),
			local: func(_ netip.AddrPort, d func([]byte)) func() {
				deliver = d
				return func() {}
			}}
		pc, _, err := g.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4", UserID: "u"})
		if err != nil {
			t.Fatal(err)
		}
		relay := pc.(*restrictedConn)
		defer relay.Close()
		relay.shut()
		for i := range 32 {
			deliver([]byte("media")) // as the SFU may, its batch under way at the shut
			if n, _, err := relay.ReadFrom(make([]byte, 1500)); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("read %d after the shut: %d bytes, %v (want net.ErrClosed)", i, n, err)
			}
		}
	})
	t.Run("socket", func(t *testing.T) {
		relay, peer, _ := relayPair(t)
		if _, err := peer.WriteToUDPAddrPort([]byte("media"), relay.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
			t.Fatal(err)
		}
		relay.shut()
		if n, _, err := relay.ReadFrom(make([]byte, 1500)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after the shut: %d bytes, %v (want net.ErrClosed)", n, err)
		}
	})
}
