package turn

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
)

// TestRevokeCostStaysLinear: each Revoke forgot the expired usernames by visiting every
// one revoked, under the lock every TURN request takes (isRevoked) and the meeting's
// that called it: n members leaving within a credential's lifetime cost n²/2 visits
// (40,000 in ten minutes, a few a second from many addresses, took 22 s of that lock).
// A sweep now waits until the list has doubled since the last: a few visits each,
// however long the list and -turn-ttl, and the list holds at most about twice the
// usernames still to refuse.
func TestRevokeCostStaysLinear(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	ttl := time.Minute
	s, err := New(Config{UDPAddr: "127.0.0.1:0", Host: "127.0.0.1", RelayIP: netip.MustParseAddr("127.0.0.1"), RelayBind: "127.0.0.1",
		Peers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}, TTL: ttl, Now: clock.Now, AfterFunc: clock.AfterFunc})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 6000
	step := 100 * time.Millisecond // 10 leaves a second: n span 10 minutes, ten lifetimes
	for i := range n {
		user := s.ICEServers(clock.Now())[0].Username
		s.Revoke(user)
		if !s.quota.isRevoked(user) {
			t.Fatalf("revoke %d: not refused", i)
		}
		clock.Advance(step)
	}
	if v := s.quota.visited; v > 3*n {
		t.Fatalf("%d revocations visited the revoked list %d times (more than %d)", n, v, 3*n)
	}
	// Still refused: every username not yet past its expiry (and margin); bounded:
	// the rest is forgotten, up to as many again.
	live := int((ttl+revokedMargin)/step) + 1
	if got := len(s.quota.revoked); got > 2*live+minRevokedSweep {
		t.Fatalf("%d usernames kept, %d still to refuse", got, live)
	}
}

// TestRevokedRelayIsUnusableBeforeItsSocketCloses: signaling revokes under a meeting's
// lock, and a socket's close waits for the goroutine reading it: a meeting of 200 that
// ended held its lock 111-132 ms for its 400 relays' closes. The sockets are closed
// later now, on a goroutine the server's Close waits for (held here until the server
// closes), and Revoke returns with the relays unusable all the same: they write nothing
// more and relay nothing to their client, the SFU hands them nothing (their
// registrations are gone), their places in the caps are free, their credentials open no
// relay again, and pion/turn deletes its allocation. One relay is pion/turn's (whose
// reader closes its socket itself once it sees the relay shut), the other is opened by
// the server's relay generator alone, so that only the server closes its socket.
func TestRevokedRelayIsUnusableBeforeItsSocketCloses(t *testing.T) {
	f := newDirectFixture(t, nil)
	stopped := func() bool {
		f.srv.closers.mu.Lock()
		defer f.srv.closers.mu.Unlock()
		return f.srv.closers.stopped
	}
	f.srv.closers.before = func() {
		for !stopped() { // until the server's Close, which must wait for the rest
			time.Sleep(time.Millisecond)
		}
	}

	servers := f.srv.ICEServers(time.Now())
	user, pass := servers[0].Username, servers[0].Credential
	addr := f.srv.udpConn.LocalAddr().String()
	client := func() net.PacketConn {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	_, pions := f.allocate(t, client(), addr, user, pass)
	gen := &relayGenerator{relayIP: net.IPv4(127, 0, 0, 1), bindIP: "127.0.0.1",
		peers: newPeers([]netip.AddrPort{f.sfu.LocalAddr().(*net.UDPAddr).AddrPort()}),
		local: f.register, direct: f.srv.direct, quota: f.srv.quota}
	pc, _, err := gen.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4", UserID: user})
	if err != nil {
		t.Fatal(err)
	}
	own := pc.(*restrictedConn)
	t.Cleanup(func() { _ = own.Close() })
	port := own.LocalAddr().(*net.UDPAddr).Port

	f.srv.Revoke(user)
	if c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err == nil {
		_ = c.Close()
		t.Fatal("the relay's socket was closed before Revoke returned")
	}
	for _, relay := range []*restrictedConn{pions, own} {
		if _, err := relay.WriteTo([]byte("media"), f.sfu.LocalAddr()); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("a write after the revocation: %v, want net.ErrClosed", err)
		}
		at := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(relay.LocalAddr().(*net.UDPAddr).Port))
		f.mu.Lock()
		registered := f.delivers[at] != nil
		f.mu.Unlock()
		if registered || f.srv.direct.relayAt(relay.LocalAddr()) != nil {
			t.Fatalf("the SFU still hands the revoked relay at %v its datagrams", at)
		}
	}
	if n, _, err := own.ReadFrom(make([]byte, 1500)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a read after the revocation: %d bytes, %v, want net.ErrClosed", n, err)
	}
	f.srv.quota.mu.Lock()
	total := f.srv.quota.total
	f.srv.quota.mu.Unlock()
	if total != 0 {
		t.Fatalf("%d relays counted against the caps after the revocation, want 0", total)
	}
	if _, _, err := gen.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4", UserID: user}); !errors.Is(err, errNoRelayRoom) {
		t.Fatalf("a relay socket for the revoked credentials: %v, want errNoRelayRoom", err)
	}
	c, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr,
		Username: user, Password: pass, Conn: client()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	if again, err := c.Allocate(); err == nil {
		_ = again.Close()
		t.Fatal("the revoked credentials opened a relay")
	}
	conntest.Eventually(t, "allocation deleted", func() bool { return f.srv.AllocationCount() == 0 })

	_ = f.srv.Close()
	free, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatalf("the server closed, the revoked relay's socket is still open: %v", err)
	}
	_ = free.Close()
	// pion/turn closes a relay of an allocation it deletes, perhaps after the revocation
	// closed its socket: its Close of all the allocations stops at the first error.
	if err := own.Close(); err != nil {
		t.Fatalf("the relay closed again: %v, want nil", err)
	}
}

// TestRevokedCredentialsOutliveAWallClockStep: a revoked username was kept only until
// its expiry on the wall clock (Config.Now), so one revoked while the clock was ahead
// past its expiry was not kept at all, and one revoked before was forgotten by a sweep
// while the clock was ahead; set back (NTP, a virtual machine resumed), the clock found
// both within their expiry and they opened relays again. Each is now kept for its
// lifetime since the revocation on the timers' clock too, which does not step
// (fakeclock's Jump steps the readings and fires nothing), and only then forgotten once
// the wall clock is past its expiry as well.
func TestRevokedCredentialsOutliveAWallClockStep(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	ttl := time.Minute
	s, err := New(Config{UDPAddr: "127.0.0.1:0", Host: "127.0.0.1", RelayIP: netip.MustParseAddr("127.0.0.1"), RelayBind: "127.0.0.1",
		Peers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}, TTL: ttl, Now: clock.Now, AfterFunc: clock.AfterFunc})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	issue := func() (user, pass string) {
		ice := s.ICEServers(clock.Now())[0]
		return ice.Username, ice.Credential
	}
	before, beforePass := issue() // revoked before the step, swept while the clock is ahead
	during, duringPass := issue() // revoked while the clock is ahead past its expiry
	s.Revoke(before)
	const step = time.Hour
	clock.Jump(step)
	s.Revoke(during)
	for range minRevokedSweep { // enough revocations for a sweep while the clock is ahead
		user, _ := issue()
		s.Revoke(user)
	}
	clock.Jump(-step)

	allocates := func(user, pass string) bool { t.Helper(); return allocatesOverUDP(t, s, user, pass) }
	for _, c := range []struct{ what, user, pass string }{
		{"revoked before the clock went ahead", before, beforePass},
		{"revoked while the clock was ahead", during, duringPass},
	} {
		if allocates(c.user, c.pass) {
			t.Errorf("credentials %s opened a relay once it was set back", c.what)
		}
	}
	if fresh, pass := issue(); !allocates(fresh, pass) {
		t.Fatal("fresh credentials opened no relay")
	}

	// Kept no longer than needed: past their hold and their expiry, a sweep forgets them.
	clock.Advance(ttl + revokedMargin + time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := clock.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	s.quota.mu.Lock()
	s.quota.sweepAt = 0 // the next revocation sweeps
	s.quota.mu.Unlock()
	user, _ := issue()
	s.Revoke(user)
	if s.quota.isRevoked(before) || s.quota.isRevoked(during) {
		t.Fatal("revoked usernames past their hold and their expiry were kept")
	}
}

// allocatesOverUDP reports whether a pion/turn client's Allocate with user and pass
// opens a relay on s's UDP listener.
func allocatesOverUDP(t *testing.T, s *Server, user, pass string) bool {
	t.Helper()
	addr := s.udpConn.LocalAddr().String()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr,
		Username: user, Password: pass, Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err == nil {
		_ = relay.Close()
	}
	return err == nil
}

// TestCredentialsIssuedWhileTheClockWasAheadStayRevoked: credentials issued while the
// wall clock was ahead carry an expiry that far ahead. Revoked, they were forgotten once
// their hold had passed and the clock (still ahead) their expiry; set back, the clock
// found them within their expiry again, and the member that was gone opened relays for
// as long as the clock had been ahead. Credentials are judged on credClock now, which
// never goes back: they stay expired. Credentials issued after the step still work.
func TestCredentialsIssuedWhileTheClockWasAheadStayRevoked(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	ttl := time.Minute
	s, err := New(Config{UDPAddr: "127.0.0.1:0", Host: "127.0.0.1", RelayIP: netip.MustParseAddr("127.0.0.1"), RelayBind: "127.0.0.1",
		Peers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}, TTL: ttl, Now: clock.Now, AfterFunc: clock.AfterFunc})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const step = time.Hour
	clock.Jump(step)
	ice := s.ICEServers(clock.Now())[0]
	s.Revoke(ice.Username)
	clock.Advance(ttl + revokedMargin + time.Second) // its hold passes, and its expiry
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := clock.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	s.quota.mu.Lock()
	s.quota.sweepAt = 0 // the next revocation sweeps
	s.quota.mu.Unlock()
	s.Revoke(s.ICEServers(clock.Now())[0].Username)
	if s.quota.isRevoked(ice.Username) {
		t.Fatal("a revoked username past its hold and its expiry was kept")
	}
	clock.Jump(-step)
	if allocatesOverUDP(t, s, ice.Username, ice.Credential) {
		t.Error("credentials issued and revoked while the clock was ahead opened a relay once it was set back")
	}
	if fresh := s.ICEServers(clock.Now())[0]; !allocatesOverUDP(t, s, fresh.Username, fresh.Credential) {
		t.Error("credentials issued after the clock was set back opened no relay")
	}
}
