package turn_test

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"
	"go.uber.org/goleak"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
	"conclave/turn"
)

func TestConfigErrors(t *testing.T) {
	good := turn.Config{UDPAddr: "127.0.0.1:0", Host: "h", RelayIP: netip.MustParseAddr("127.0.0.1"),
		Peers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:10000")}}
	for _, c := range []struct {
		name string
		edit func(*turn.Config)
		want error
	}{
		{"no listener", func(c *turn.Config) { c.UDPAddr = "" }, turn.ErrNoListener},
		{"no host", func(c *turn.Config) { c.Host = "" }, turn.ErrNoHost},
		{"no relay ip", func(c *turn.Config) { c.RelayIP = netip.Addr{} }, turn.ErrNoRelayIP},
		{"unspecified relay ip", func(c *turn.Config) { c.RelayIP = netip.MustParseAddr("0.0.0.0") }, turn.ErrNoRelayIP},
		{"no peers", func(c *turn.Config) { c.Peers = nil }, turn.ErrNoPeers},
		{"tls without cert", func(c *turn.Config) { c.TLSAddr = "127.0.0.1:0" }, turn.ErrNoTLSCert},
		{"IPv6 bind for an IPv4 relay address", func(c *turn.Config) { c.RelayBind = "::" }, turn.ErrRelayBind},
		{"IPv4 bind for an IPv6 relay address", func(c *turn.Config) {
			c.RelayIP, c.RelayBind = netip.MustParseAddr("2001:db8::1"), "0.0.0.0"
		}, turn.ErrRelayBind},
		{"IPv4-mapped relay address, IPv6 bind", func(c *turn.Config) {
			c.RelayIP, c.RelayBind = netip.MustParseAddr("::ffff:192.0.2.1"), "::1"
		}, turn.ErrRelayBind},
		{"bind address not an IP address", func(c *turn.Config) { c.RelayBind = "localhost" }, turn.ErrRelayBind},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.edit(&cfg)
			if _, err := turn.New(cfg); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestPortInUse(t *testing.T) {
	busy := listenUDP(t, "127.0.0.1:0")
	_, err := turn.New(turn.Config{UDPAddr: busy.LocalAddr().String(), Host: "h", RelayIP: netip.MustParseAddr("127.0.0.1"),
		Peers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:10000")}})
	if err == nil || !strings.Contains(err.Error(), "listen UDP") {
		t.Fatalf("err = %v", err)
	}
}

// TestCloseEndsEverything: closing the server ends its listeners' and allocations'
// goroutines.
func TestCloseEndsEverything(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	sfu := listenUDP(t, "127.0.0.1:0")
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	srv, err := turn.New(turn.Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", Host: "127.0.0.1",
		RelayIP: netip.MustParseAddr("127.0.0.1"), RelayBind: "127.0.0.1",
		Peers: []netip.AddrPort{sfu.LocalAddr().(*net.UDPAddr).AddrPort()}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, clock: clock, sfu: sfu}
	user, pass := f.creds(t)
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: f.serverAddr(t, "turn", "udp"),
		TURNServerAddr: f.serverAddr(t, "turn", "udp"), Username: user, Password: pass, Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.AllocationCount(); n != 1 {
		t.Fatalf("%d allocations", n)
	}
	_ = relay.Close()
	c.Close()
	_ = conn.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	// The goroutines end a moment after the closes, which on a loaded machine can be
	// longer than goleak's own retries (about a second).
	conntest.GoroutinesEnd(t, baseline)
}
