package turn_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
	"conclave/internal/testcert"
	"conclave/turn"
)

// fixture is a TURN server on 127.0.0.1 whose only allowed peer is a UDP socket the
// test owns in the role of the SFU, and another socket on the same IP that the relay
// must never reach.
type fixture struct {
	srv   *turn.Server
	clock *fakeclock.Clock
	sfu   net.PacketConn
	other net.PacketConn
}

func listenUDP(t *testing.T, addr string) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newFixture(t *testing.T, tlsConf *tls.Config, options ...func(*turn.Config)) *fixture {
	t.Helper()
	f := &fixture{clock: fakeclock.New(time.Unix(1_800_000_000, 0))}
	f.sfu = listenUDP(t, "127.0.0.1:0")
	f.other = listenUDP(t, "127.0.0.1:0")
	cfg := turn.Config{
		UDPAddr:   "127.0.0.1:0",
		TCPAddr:   "127.0.0.1:0",
		Host:      "127.0.0.1",
		RelayIP:   netip.MustParseAddr("127.0.0.1"),
		RelayBind: "127.0.0.1",
		Peers:     []netip.AddrPort{f.sfu.LocalAddr().(*net.UDPAddr).AddrPort()},
		TTL:       5 * time.Minute,
		Now:       f.clock.Now,
		AfterFunc: f.clock.AfterFunc,
	}
	if tlsConf != nil {
		cfg.TLSAddr = "127.0.0.1:0"
		cfg.TLSConfig = tlsConf
	}
	for _, o := range options {
		o(&cfg)
	}
	srv, err := turn.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f.srv = srv
	return f
}

// serverAddr finds the address of the listener for transport in the handed-out URLs.
func (f *fixture) serverAddr(t *testing.T, scheme, transport string) string {
	t.Helper()
	for _, u := range f.srv.URLs() {
		rest, ok := strings.CutPrefix(u, scheme+":")
		if ok && strings.HasSuffix(rest, "?transport="+transport) {
			return strings.TrimSuffix(rest, "?transport="+transport)
		}
	}
	t.Fatalf("no %s %s URL in %v", scheme, transport, f.srv.URLs())
	return ""
}

// client opens a pion/turn client over conn (a UDP socket or a STUN-framed stream).
func client(t *testing.T, conn net.PacketConn, server, username, password string) *pionturn.Client {
	t.Helper()
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: server,
		TURNServerAddr: server,
		Username:       username,
		Password:       password,
		Conn:           conn,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) udpClient(t *testing.T, username, password string) *pionturn.Client {
	t.Helper()
	return client(t, listenUDP(t, "127.0.0.1:0"), f.serverAddr(t, "turn", "udp"), username, password)
}

func (f *fixture) creds(t *testing.T) (string, string) {
	t.Helper()
	servers := f.srv.ICEServers(f.clock.Now())
	if len(servers) != 1 || servers[0].Username == "" || servers[0].Credential == "" {
		t.Fatalf("ICEServers = %+v", servers)
	}
	return servers[0].Username, servers[0].Credential
}

// readOne reads one datagram; the deadline only keeps a broken test from hanging.
func readOne(t *testing.T, c net.PacketConn) ([]byte, net.Addr) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(conntest.Wait))
	buf := make([]byte, 1500)
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return buf[:n], from
}

func TestRelayReachesTheSFUBothWays(t *testing.T) {
	relayBothWays(t, newFixture(t, nil))
}

// writeCounter is a UDP socket that counts the writes made on it.
type writeCounter struct {
	*net.UDPConn
	writes atomic.Int64
}

func (c *writeCounter) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.writes.Add(1)
	return c.UDPConn.WriteTo(b, addr)
}

// TestRelayWritesThroughTheBatchedSocket checks that with Config.BatchUDP the UDP
// listener's writes, the packets relayed to a client among them, go through the
// socket it made (the server gives it the SFU's batching), and the relay works both
// ways.
func TestRelayWritesThroughTheBatchedSocket(t *testing.T) {
	var counter *writeCounter
	f := newFixture(t, nil, func(c *turn.Config) {
		c.BatchUDP = func(uc *net.UDPConn) (net.PacketConn, error) {
			counter = &writeCounter{UDPConn: uc}
			return counter, nil
		}
	})
	if counter == nil {
		t.Fatal("BatchUDP was not called")
	}
	before := counter.writes.Load() // none yet: nobody has asked anything
	relayBothWays(t, f)
	// At least the Allocate's answers, and the packet relayed to the client.
	if got := counter.writes.Load() - before; got < 2 {
		t.Fatalf("%d writes through the batched socket", got)
	}
}

// relayBothWays allocates a relay with fresh credentials and sends a datagram through
// it to the SFU and one back.
func relayBothWays(t *testing.T, f *fixture) {
	t.Helper()
	user, pass := f.creds(t)
	relay, err := f.udpClient(t, user, pass).Allocate()
	if err != nil {
		t.Fatalf("allocate with fresh credentials: %v", err)
	}
	defer relay.Close()
	if _, err := relay.WriteTo([]byte("to sfu"), f.sfu.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	got, from := readOne(t, f.sfu)
	if string(got) != "to sfu" || from.String() != relay.LocalAddr().String() {
		t.Fatalf("SFU got %q from %v, want %q from the relay %v", got, from, "to sfu", relay.LocalAddr())
	}
	if _, err := f.sfu.WriteTo([]byte("to client"), from); err != nil {
		t.Fatal(err)
	}
	got, from = readOne(t, relay)
	if string(got) != "to client" || from.String() != f.sfu.LocalAddr().String() {
		t.Fatalf("client got %q from %v", got, from)
	}
}

func TestRelayReachesNothingButTheSFU(t *testing.T) {
	f := newFixture(t, nil)
	user, pass := f.creds(t)
	relay, err := f.udpClient(t, user, pass).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()

	// First the permission for the SFU's IP is in place (the client creates it on the
	// first send and does not wait for the answer).
	if _, err := relay.WriteTo([]byte("warm up"), f.sfu.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got, _ := readOne(t, f.sfu); string(got) != "warm up" {
		t.Fatalf("SFU got %q", got)
	}
	// Another port on the SFU's own IP: the permission (by IP) is granted, the send is not.
	_, _ = relay.WriteTo([]byte("to other"), f.other.LocalAddr())
	// Another IP altogether: refused at CreatePermission.
	elsewhere := listenUDP(t, "127.0.0.2:0")
	_, _ = relay.WriteTo([]byte("to elsewhere"), elsewhere.LocalAddr())
	// The same client's next send reaches the SFU, so the server handled the two above.
	if _, err := relay.WriteTo([]byte("to sfu"), f.sfu.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got, _ := readOne(t, f.sfu); string(got) != "to sfu" {
		t.Fatalf("SFU got %q", got)
	}
	if !nothingQueued(t, f.other) {
		t.Error("the relay sent to another port of the SFU's address")
	}
	if !nothingQueued(t, elsewhere) {
		t.Error("the relay sent to another address")
	}

	// Nothing from another port reaches the client through its relay either: the
	// first datagram the client gets is the SFU's, sent after the other one.
	if _, err := f.other.WriteTo([]byte("from other"), relay.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sfu.WriteTo([]byte("from sfu"), relay.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got, from := readOne(t, relay); string(got) != "from sfu" {
		t.Fatalf("client got %q from %v first, want the SFU's datagram", got, from)
	}
}

func TestTCPAllocation(t *testing.T) {
	f := newFixture(t, nil)
	user, pass := f.creds(t)
	addr := f.serverAddr(t, "turn", "tcp")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	relayToSFU(t, f, client(t, pionturn.NewSTUNConn(conn), addr, user, pass))
}

func TestTLSAllocation(t *testing.T) {
	cert, pool := selfSigned(t)
	f := newFixture(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	user, pass := f.creds(t)
	addr := f.serverAddr(t, "turns", "tcp")
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	relayToSFU(t, f, client(t, pionturn.NewSTUNConn(conn), addr, user, pass))
}

func relayToSFU(t *testing.T, f *fixture, c *pionturn.Client) {
	t.Helper()
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	defer relay.Close()
	sendToSFU(t, f, relay)
}

// sendToSFU sends a datagram through relay to the SFU, which must get it.
func sendToSFU(t *testing.T, f *fixture, relay net.PacketConn) {
	t.Helper()
	if _, err := relay.WriteTo([]byte("hello"), f.sfu.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got, _ := readOne(t, f.sfu); string(got) != "hello" {
		t.Fatalf("SFU got %q", got)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	c := testcert.New(t)
	return c.TLS, c.Pool()
}
