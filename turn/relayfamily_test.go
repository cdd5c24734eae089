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
// whether it names IPv6 or no family (as browsers do), and a client over the IPv4
// listener, for which pion/turn asks for an IPv4 relay socket, is refused. Such a
// socket was announced at the IPv6 relay address, which it does not listen on,
// pion/turn refused it permissions for the SFU's IPv6 address, and it could have the
// port of another member's IPv6 relay: relays are told apart by their port
// (relayGenerator.network).
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

	// A browser names no family: over IPv6, the listener's family is the relay's.
	conn, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Username: user,
		Password: pass, Conn: pionturn.NewSTUNConn(conn), RequestedAddressFamily: pionturn.RequestedAddressFamilyIPv4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relayToSFU(t, f, c) // IPv4 is what pion/turn's client names by leaving the attribute out
}

// TestClientsOverIPv6GetRelaysOfAnIPv4RelayAddress: with an IPv4 relay address, a
// client that reached the UDP or TCP listener over IPv6 and named no address family
// (browsers name none) gets an IPv4 relay at the relay address, which reaches the SFU
// at 127.0.0.1: RFC 8656's default, where pion/turn's own, the listener's family,
// asked an IPv6 relay for it, which is refused (relayGenerator.network). A client
// that names IPv6 (REQUESTED-ADDRESS-FAMILY, as pion/turn's client does over IPv6
// unless told otherwise) is still refused.
func TestClientsOverIPv6GetRelaysOfAnIPv4RelayAddress(t *testing.T) {
	if probe, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		_ = probe.Close()
	}
	f := newFixture(t, nil, func(c *turn.Config) { c.UDPAddr, c.TCPAddr = "[::1]:0", "[::1]:0" })
	user, pass := f.creds(t)
	over := func(transport string) string {
		_, port, _ := net.SplitHostPort(f.serverAddr(t, "turn", transport)) // the URL names Host
		return net.JoinHostPort("::1", port)
	}
	allocate := func(conn net.PacketConn, server string, family pionturn.RequestedAddressFamily) (net.PacketConn, error) {
		t.Helper()
		c, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: server, TURNServerAddr: server,
			Username: user, Password: pass, Conn: conn, RequestedAddressFamily: family})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		if err := c.Listen(); err != nil {
			t.Fatal(err)
		}
		return c.Allocate()
	}
	check := func(name string, dial func() net.PacketConn, server string) {
		t.Helper()
		if relay, err := allocate(dial(), server, pionturn.RequestedAddressFamilyIPv6); err == nil {
			_ = relay.Close()
			t.Fatalf("a client over IPv6 %s that asked for IPv6 got a relay at %v", name, relay.LocalAddr())
		}
		// IPv4 is what pion/turn's client names by leaving the attribute out.
		relay, err := allocate(dial(), server, pionturn.RequestedAddressFamilyIPv4)
		if err != nil {
			t.Fatalf("a client over IPv6 %s naming no family: allocate: %v", name, err)
		}
		defer relay.Close()
		if got := relay.LocalAddr().(*net.UDPAddr); !got.IP.Equal(net.IPv4(127, 0, 0, 1)) {
			t.Fatalf("a client over IPv6 %s got a relay at %v, want the relay address 127.0.0.1", name, got)
		}
		sendToSFU(t, f, relay)
	}

	check("UDP", func() net.PacketConn {
		conn, err := net.ListenPacket("udp6", "[::1]:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}, over("udp"))
	check("TCP", func() net.PacketConn {
		conn, err := net.Dial("tcp", over("tcp"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return pionturn.NewSTUNConn(conn)
	}, over("tcp"))
}
