package turn

import (
	"net"
	"net/netip"
	"sync"
	"testing"

	pionturn "github.com/pion/turn/v5"
)

// TestRelaysOfBothFamiliesNeverShareAPort: with an IPv6 relay address (bound on "::",
// New's default), a member's relay over IPv6 and another member's asked for over IPv4
// (pion/turn's udp4: REQUESTED-ADDRESS-FAMILY, or the IPv4 listener's own) never have
// the same port: relays are told apart by their port (the SFU's hand-over, the direct
// registry, relayOf), and what the SFU sends to one member's relay must reach that
// relay, not the other member's. (The IPv4 one is refused: relayGenerator.network.)
// The generator is built as New builds it, with the SFU's table of local relays; the
// second relay asks for the first's port (pion/turn asks for port 0, and the kernel
// may give a udp4 socket the port of a udp6 one: the test cannot wait for that).
func TestRelaysOfBothFamiliesNeverShareAPort(t *testing.T) {
	sfu, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() { _ = sfu.Close() })
	var mu sync.Mutex
	registered := map[netip.AddrPort]func([]byte){}
	g := &relayGenerator{relayIP: net.IPv6loopback, bindIP: "::",
		peers: newPeers([]netip.AddrPort{sfu.LocalAddr().(*net.UDPAddr).AddrPort()}),
		local: func(ap netip.AddrPort, deliver func([]byte)) func() {
			mu.Lock()
			defer mu.Unlock()
			registered[ap] = deliver
			return func() {}
		},
		direct: newDirect(newStreams(nil)), quota: newQuota(10, 10)}
	allocate := func(user, network string, port int) (*restrictedConn, error) {
		pc, _, err := g.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: network, UserID: user, RequestedPort: port})
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { _ = pc.Close() })
		return pc.(*restrictedConn), nil
	}

	overIPv6, err := allocate("b", "udp6", 0)
	if err != nil {
		t.Fatal(err)
	}
	port := int(overIPv6.port)
	overIPv4, err := allocate("a", "udp4", port)
	if err != nil {
		return // refused
	}
	mu.Lock()
	deliver := registered[netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port))]
	mu.Unlock()
	deliver([]byte("for b"))
	select {
	case d := <-overIPv4.inbox:
		t.Fatalf("member a's relay asked for over IPv4 has member b's port %d and took %q, the SFU's datagram for b's relay", port, d.buf[:d.n])
	case d := <-overIPv6.inbox:
		t.Fatalf("both members' relays have port %d (b's took %q)", port, d.buf[:d.n])
	}
}
