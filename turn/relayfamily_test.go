package turn_test

import (
	"net"
	"net/netip"
	"testing"

	pionturn "github.com/pion/turn/v5"

	"conclave/turn"
)

// TestRelaysAreOfTheRelayAddressFamily: with an IPv6 relay address (bound on "::",
// New's default), a client over the IPv6 listener gets a relay that reaches the SFU,
// and a client over the IPv4 listener, for which pion/turn asks for an IPv4 relay
// socket, is refused. Such a socket was announced at the IPv6 relay address, which it
// does not listen on, pion/turn refused it permissions for the SFU's IPv6 address, and
// it could have the port of another member's IPv6 relay: relays are told apart by
// their port (relayGenerator.network).
func TestRelaysAreOfTheRelayAddressFamily(t *testing.T) {
	sfu, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() { _ = sfu.Close() })
	f := newFixture(t, nil, func(c *turn.Config) {
		c.TCPAddr, c.RelayIP, c.RelayBind = "[::1]:0", netip.IPv6Loopback(), ""
		c.Peers = []netip.AddrPort{sfu.LocalAddr().(*net.UDPAddr).AddrPort()}
	})
	f.sfu = sfu
	user, pass := f.creds(t)

	if relay, err := f.udpClient(t, user, pass).Allocate(); err == nil {
		_ = relay.Close()
		t.Fatalf("a client over IPv4 got a relay at %v, an IPv4 socket for an IPv6 relay address", relay.LocalAddr())
	}
	_, port, _ := net.SplitHostPort(f.serverAddr(t, "turn", "tcp")) // the URL names Host
	addr := net.JoinHostPort("::1", port)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	relayToSFU(t, f, client(t, pionturn.NewSTUNConn(conn), addr, user, pass))
}
