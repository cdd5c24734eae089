package turn

import (
	"net"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
)

// TestLateDeletionOfAnEarlierConnectionLeavesTheNewOneOpen: a client that resets its
// TCP connection and connects again from the same address and port at once has its new
// connection registered under the addresses of the old one, while pion/turn may still
// report the old allocation's deletion: its reader of the old connection deletes the
// allocation as it sees the connection end, after the new one was accepted. A deletion
// names only the five-tuple, and counted on the new connection it had it closed after
// allocWait while it held its allocation. Through the real TCP listener with pion/turn's
// client: the first connection allocates and is reset, the second, from the same port,
// allocates; the test then reports the first allocation's deletion as pion/turn would
// have (the order cannot be forced from outside). The second connection stays open and
// answers; once its allocation ends it is closed after allocWait.
func TestLateDeletionOfAnEarlierConnectionLeavesTheNewOneOpen(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	f := newDirectFixture(t, nil, func(c *Config) { c.AfterFunc = clock.AfterFunc })
	addr := f.srv.tcpLn.Addr().String()
	servers := f.srv.ICEServers(time.Now())
	user, pass := servers[0].Username, servers[0].Credential
	registered := func(src, dst net.Addr) bool {
		f.srv.streams.mu.Lock()
		defer f.srv.streams.mu.Unlock()
		return f.srv.streams.lookupLocked(src, dst) != nil
	}

	dialer := sameSourceDialer(t)
	first, err := dialer.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	src, dst := first.LocalAddr(), first.RemoteAddr()
	client, _, _ := f.allocateWith(t, pionturn.NewSTUNConn(first), addr, user, pass)
	client.Close()
	_ = first.(*net.TCPConn).SetLinger(0) // a reset: no TIME-WAIT holds its addresses
	_ = first.Close()
	conntest.Eventually(t, "the first connection gone on the server", func() bool {
		return !registered(src, dst) && f.srv.AllocationCount() == 0
	})

	second, err := dialer.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connecting again from %v: %v", src, err)
	}
	t.Cleanup(func() { _ = second.Close() })
	client2, _, relay := f.allocateWith(t, pionturn.NewSTUNConn(second), addr, user, pass)

	f.srv.allocationDeleted(src, dst, "TCP", user, "") // the first allocation's, late
	clock.Advance(allocWait)
	if _, err := client2.SendBindingRequest(); err != nil {
		t.Fatalf("the second connection, which holds its allocation, after allocWait: %v", err)
	}
	if !registered(src, dst) {
		t.Fatal("the second connection was closed after allocWait while it held its allocation")
	}

	relay.shut()
	clock.Advance(allocWait)
	conntest.Eventually(t, "the second connection closed once its allocation ended", func() bool {
		return !registered(src, dst)
	})
}
