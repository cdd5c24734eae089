package turn_test

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
	"conclave/turn"
)

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
