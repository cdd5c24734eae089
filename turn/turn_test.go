package turn_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"
	"go.uber.org/goleak"

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

func TestExpiredCredentialsAreRefused(t *testing.T) {
	f := newFixture(t, nil)
	user, pass := f.creds(t)
	f.clock.Advance(5*time.Minute + time.Second)
	if relay, err := f.udpClient(t, user, pass).Allocate(); err == nil {
		relay.Close()
		t.Fatal("allocated with credentials past their expiry")
	}
	if n := f.srv.AllocationCount(); n != 0 {
		t.Fatalf("%d allocations", n)
	}
}

func TestCredentialsJustBeforeExpiryWork(t *testing.T) {
	f := newFixture(t, nil)
	user, pass := f.creds(t)
	f.clock.Advance(5*time.Minute - time.Second)
	relay, err := f.udpClient(t, user, pass).Allocate()
	if err != nil {
		t.Fatalf("allocate a second before expiry: %v", err)
	}
	relay.Close()
}

func TestForgedCredentialsAreRefused(t *testing.T) {
	f := newFixture(t, nil)
	user, pass := f.creds(t)
	other := newFixture(t, nil) // another server: another secret
	otherUser, otherPass := other.creds(t)
	far := "9999999999:" + strings.Repeat("A", 22)
	for _, c := range []struct{ name, user, pass string }{
		{"wrong password", user, pass + "x"},
		{"expiry moved later", far, pass},
		{"another server's credentials", otherUser, otherPass},
		{"not a REST username", "alice", "secret"},
		{"empty", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if relay, err := f.udpClient(t, c.user, c.pass).Allocate(); err == nil {
				relay.Close()
				t.Fatal("allocated with forged credentials")
			}
		})
	}
	if n := f.srv.AllocationCount(); n != 0 {
		t.Fatalf("%d allocations", n)
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

// TestAllocationsPerCredentialAreCapped: one credential opens at most
// MaxAllocationsPerCredential relays at once; closing one makes room, and another
// welcome's credential is counted on its own.
func TestAllocationsPerCredentialAreCapped(t *testing.T) {
	sfu := listenUDP(t, "127.0.0.1:0")
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	srv, err := turn.New(turn.Config{UDPAddr: "127.0.0.1:0", Host: "127.0.0.1",
		RelayIP: netip.MustParseAddr("127.0.0.1"), RelayBind: "127.0.0.1",
		Peers: []netip.AddrPort{sfu.LocalAddr().(*net.UDPAddr).AddrPort()}, Now: clock.Now,
		MaxAllocationsPerCredential: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f := &fixture{srv: srv, clock: clock, sfu: sfu}
	user, pass := f.creds(t)
	allocate := func(user, pass string) (net.PacketConn, error) {
		return f.udpClient(t, user, pass).Allocate()
	}
	first, err := allocate(user, pass)
	if err != nil {
		t.Fatal(err)
	}
	second, err := allocate(user, pass)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if third, err := allocate(user, pass); err == nil {
		third.Close()
		t.Fatal("a third allocation with one credential")
	}
	otherUser, otherPass := f.creds(t)
	other, err := allocate(otherUser, otherPass)
	if err != nil {
		t.Fatalf("another credential: %v", err)
	}
	defer other.Close()
	if err := first.Close(); err != nil { // a Refresh with lifetime 0, answered once deleted
		t.Fatal(err)
	}
	again, err := allocate(user, pass)
	if err != nil {
		t.Fatalf("after closing one: %v", err)
	}
	again.Close()
}

// TestAllocationCapHoldsOverConcurrentStreams: over TCP (every connection read by a
// goroutine of its own) many Allocate requests with one credential arrive at once; the
// cap holds however they interleave. Each relay socket's registration with the SFU
// (Config.LocalRelay), which comes after pion/turn's quota check and before its
// allocation event, is held until every request has either reached it or been refused:
// the interleaving a loaded server gives by chance, every time.
func TestAllocationCapHoldsOverConcurrentStreams(t *testing.T) {
	const capPer, conns = 2, 24
	var (
		mu               sync.Mutex
		arrived, refused int
		release          = make(chan struct{})
	)
	settle := func() { // under mu
		if arrived+refused == conns {
			close(release)
		}
	}
	f := newFixture(t, nil, func(c *turn.Config) {
		c.MaxAllocationsPerCredential = capPer
		c.LocalRelay = func(netip.AddrPort, func([]byte)) func() {
			mu.Lock()
			arrived++
			settle()
			mu.Unlock()
			select {
			case <-release:
			case <-time.After(conntest.Wait): // only a broken test waits this long
			}
			return func() {}
		}
	})
	user, pass := f.creds(t)
	addr := f.serverAddr(t, "turn", "tcp")
	clients := make([]*pionturn.Client, conns)
	for i := range clients {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		clients[i] = client(t, pionturn.NewSTUNConn(c), addr, user, pass)
	}
	var wg sync.WaitGroup
	granted := 0
	for _, cl := range clients {
		wg.Go(func() {
			relay, err := cl.Allocate()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused++
				settle()
				return
			}
			granted++
			t.Cleanup(func() { _ = relay.Close() })
		})
	}
	wg.Wait()
	if granted != capPer {
		t.Fatalf("one credential was granted %d allocations at once, cap %d", granted, capPer)
	}
}

// TestRevokedCredentialsLoseTheirRelays: credentials revoked (their member left, was
// removed, or the meeting ended) lose the relays they opened at once, so those count
// against the caps no more, and open none again, though not yet expired; credentials
// handed to others keep working.
func TestRevokedCredentialsLoseTheirRelays(t *testing.T) {
	f := newFixture(t, nil, func(c *turn.Config) { c.MaxAllocations = 3 })
	user, pass := f.creds(t)
	relay, err := f.udpClient(t, user, pass).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	sendToSFU(t, f, relay)
	if _, err := f.udpClient(t, user, pass).Allocate(); err != nil {
		t.Fatalf("a second relay: %v", err)
	}

	f.srv.Revoke(user)
	if again, err := f.udpClient(t, user, pass).Allocate(); err == nil { // the caps leave room
		again.Close()
		t.Fatal("revoked credentials opened a relay")
	}
	// The revoked relays gave their places back: another member's credentials open
	// as many as the server holds.
	otherUser, otherPass := f.creds(t)
	var others []net.PacketConn
	for i := range 3 {
		other, err := f.udpClient(t, otherUser, otherPass).Allocate()
		if err != nil {
			t.Fatalf("another member's relay %d after the revocation: %v", i+1, err)
		}
		defer other.Close()
		others = append(others, other)
	}
	// Nothing the revoked client sends reaches the SFU: its relay is closed. The
	// other member's send after it is the first the SFU gets.
	_, _ = relay.WriteTo([]byte("after revoke"), f.sfu.LocalAddr())
	sendToSFU(t, f, others[0])
	f.srv.Revoke("not a username") // ignored
}
