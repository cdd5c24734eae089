package turn

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"testing"

	pionturn "github.com/pion/turn/v5"
)

// directFixture is a TURN server whose relays the test hands datagrams to as the SFU
// would (Config.LocalRelay), with a UDP socket in the SFU's role.
type directFixture struct {
	srv      *Server
	sfu      *net.UDPConn
	mu       sync.Mutex
	delivers map[netip.AddrPort]func([]byte)
}

func newDirectFixture(t testing.TB, tlsConf *tls.Config, opts ...func(*Config)) *directFixture {
	t.Helper()
	sfu, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sfu.Close() })
	f := &directFixture{sfu: sfu, delivers: map[netip.AddrPort]func([]byte){}}
	cfg := Config{
		UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", Host: "127.0.0.1",
		RelayIP: netip.MustParseAddr("127.0.0.1"), RelayBind: "127.0.0.1",
		Peers:      []netip.AddrPort{sfu.LocalAddr().(*net.UDPAddr).AddrPort()},
		BatchUDP:   func(c *net.UDPConn) (net.PacketConn, error) { return unbatched{c}, nil },
		LocalRelay: f.register,
	}
	if tlsConf != nil {
		cfg.TLSAddr, cfg.TLSConfig = "127.0.0.1:0", tlsConf
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f.srv = srv
	return f
}

// register is the fixture's Config.LocalRelay: the SFU's table of local relays.
func (f *directFixture) register(ap netip.AddrPort, deliver func([]byte)) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delivers[ap] = deliver
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.delivers, ap)
	}
}

// unbatched is a UDP socket with the batched socket's WriteToAddrPort, each write the
// kernel's: the test needs the writes, not their batching.
type unbatched struct{ *net.UDPConn }

func (u unbatched) WriteToAddrPort(b []byte, ap netip.AddrPort) (int, error) {
	return u.WriteToUDPAddrPort(b, ap)
}

func (u unbatched) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return u.ReadFromUDPAddrPort(b)
}

// hand gives b to the relay at relay as the SFU hands over a datagram for it.
func (f *directFixture) hand(t testing.TB, relay net.Addr, b []byte) {
	t.Helper()
	ap := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(relay.(*net.UDPAddr).Port))
	f.mu.Lock()
	deliver := f.delivers[ap]
	f.mu.Unlock()
	if deliver == nil {
		t.Fatalf("no relay registered at %v", ap)
	}
	deliver(b)
}

// servedBeforePion is how many ChannelData messages the UDP listener and the TCP and
// TLS connections relayed before pion/turn read them.
func (f *directFixture) servedBeforePion() uint64 {
	channelData, _ := f.srv.UplinkServed()
	return channelData
}

// allocate opens an allocation over conn to the server at addr, as pion/turn's client
// does, and returns the client's relayed connection and the server's relay socket for
// it; both close when the test ends.
func (f *directFixture) allocate(t testing.TB, conn net.PacketConn, addr, user, pass string) (net.PacketConn, *restrictedConn) {
	t.Helper()
	_, relayed, relay := f.allocateWith(t, conn, addr, user, pass)
	return relayed, relay
}

// allocateWith is allocate that also returns pion/turn's client, for its requests.
func (f *directFixture) allocateWith(t testing.TB, conn net.PacketConn, addr, user, pass string) (*pionturn.Client, net.PacketConn, *restrictedConn) {
	t.Helper()
	client, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr,
		Username: user, Password: pass, Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	relayed, err := client.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relayed.Close() })
	relay := f.relayAt(relayed.LocalAddr())
	if relay == nil {
		t.Fatalf("no relay at %v", relayed.LocalAddr())
	}
	return client, relayed, relay
}

// relayAt is the server's relay socket at relayed's port.
func (f *directFixture) relayAt(relayed net.Addr) *restrictedConn {
	return f.srv.direct.relayAt(relayed)
}

// recordingPacketConn keeps what is written on it.
type recordingPacketConn struct {
	net.PacketConn // nil: only WriteTo is used
	wrote          [][]byte
}

func (r *recordingPacketConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	r.wrote = append(r.wrote, bytes.Clone(b))
	return len(b), nil
}
