package turn

import (
	"net"
	"net/netip"
	"testing"
	"time"

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
	pc, _, err := g.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	// Only a lost datagram meets the deadline.
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
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
