package turn

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"conclave/internal/conntest"
)

// reallocRig is a client of a directFixture's server over UDP or TCP, with pion/turn's
// client, whose SFU takes what the relays send it in memory (Config.RelayUplink) and
// keeps it; a take never waits, as the server's reader makes it.
type reallocRig struct {
	f      *directFixture
	client *pionturn.Client
	// src and dst are the allocation's 5-tuple as pion/turn reports it, proto its
	// transport.
	src, dst net.Addr
	proto    string
	// user is the username of the client's credentials.
	user string
	// write sends msg below pion/turn's client, as a browser frames its media.
	write   func(t *testing.T, msg []byte)
	relayed net.PacketConn
	relay   *restrictedConn
	sfu     netip.AddrPort
	taken   chan takenDatagram
}

func newReallocRig(t *testing.T, transport string, opts ...func(*Config)) *reallocRig {
	t.Helper()
	r := &reallocRig{taken: make(chan takenDatagram, 1024)}
	r.f = newDirectFixture(t, nil, append(opts, func(c *Config) {
		c.RelayUplink = func(ap netip.AddrPort) func([]byte) bool {
			return func(b []byte) bool {
				select {
				case r.taken <- takenDatagram{from: ap, b: bytes.Clone(b)}:
				default:
				}
				return true
			}
		}
	})...)
	r.sfu = r.f.sfu.LocalAddr().(*net.UDPAddr).AddrPort()
	var conn net.PacketConn
	var addr string
	switch transport {
	case "udp":
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		listener := r.f.srv.udpConn.LocalAddr()
		conn, addr, r.src, r.dst, r.proto = c, listener.String(), c.LocalAddr(), listener, "UDP"
		r.write = func(t *testing.T, msg []byte) {
			t.Helper()
			if _, err := c.WriteTo(msg, listener); err != nil {
				t.Fatal(err)
			}
		}
	case "tcp":
		addr = r.f.srv.tcpLn.Addr().String()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn, r.src, r.dst, r.proto = pionturn.NewSTUNConn(c), c.LocalAddr(), c.RemoteAddr(), "TCP"
		r.write = func(t *testing.T, msg []byte) {
			t.Helper()
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() { _ = conn.Close() }) // after the allocation's own cleanups
	servers := r.f.srv.ICEServers(time.Now())
	r.user = servers[0].Username
	r.client, r.relayed, r.relay = r.f.allocateWith(t, conn, addr, r.user, servers[0].Credential)
	return r
}

// permit has the client create a permission for the SFU's IP.
func (r *reallocRig) permit(t *testing.T) {
	t.Helper()
	if err := r.client.CreatePermission(r.f.sfu.LocalAddr()); err != nil {
		t.Fatal(err)
	}
}

// bind has the client bind a channel to the SFU's address (pion/turn's client binds
// one in the background after its first send) and returns its number.
func (r *reallocRig) bind(t *testing.T) uint16 {
	t.Helper()
	var routes *relayRoutes
	conntest.Eventually(t, "a channel bound", func() bool {
		if _, err := r.relayed.WriteTo([]byte("ping"), r.f.sfu.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		routes = r.relay.routes.cur.Load()
		return routes != nil && len(routes.channels) == 1
	})
	return routes.channels[0].number
}

// endAllocation ends the client's allocation as a Refresh of lifetime 0 does and
// returns once pion/turn has deleted it, closed its relay and reported both: pion/turn
// handles the Refresh, its deletion whole, before it answers the Binding request settle
// sends after it (its allocation count falls to 0 before the relay's close and the
// reports). The old allocation's reader may still be about to delete whatever
// pion/turn holds at the 5-tuple: a new allocation there needs endAllocationOnServer.
func (r *reallocRig) endAllocation(t *testing.T) {
	t.Helper()
	if err := r.relayed.Close(); err != nil {
		t.Fatal(err)
	}
	r.settle(t)
	if n := r.f.srv.AllocationCount(); n != 0 {
		t.Fatalf("%d allocations once the Refresh of lifetime 0 was handled", n)
	}
}

// endAllocationOnServer ends the client's allocation from the server's side, as a
// revocation or a failed socket ends it, and returns once it is wholly gone in
// pion/turn, so that a new allocation on the same 5-tuple is not deleted by the old
// one. pion/turn's reader of a relay deletes whatever its table holds at the
// allocation's 5-tuple when it sees the relay closed (Allocation.packetConnHandler,
// DeleteAllocation by 5-tuple): after a Refresh of lifetime 0, which deletes the
// allocation itself, a reader slow to see the close deletes the next allocation, and
// nothing tells from outside when it is done. With the relay closed first, the reader
// is what deletes the allocation: the allocation count is 0 only after its table's
// removal, and the deletion is reported (the client's allocations counted here back
// to 0: answerLimits or the connection's record) after the relay's channels and
// permissions, the last the reader does. Then the client forgets the allocation (its
// Refresh of lifetime 0 finds none and is not answered, and its retransmissions, which
// would delete the new allocation, end with the client's transactions). What the
// client sent before is handled first (settle): a ChannelData message read after the
// relay's close took its channel out would be pion/turn's.
func (r *reallocRig) endAllocationOnServer(t *testing.T) {
	t.Helper()
	r.settle(t)
	if err := r.relay.Close(); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the allocation deleted by its reader and reported", func() bool {
		return r.f.srv.AllocationCount() == 0 && r.reported(t) == 0
	})
	if err := r.relayed.Close(); err != nil {
		t.Fatal(err)
	}
	r.client.Close()
}

// reported is how many allocations of the client the server counts from pion/turn's
// reports: a UDP client's for its answers' bucket (answerLimits), a connection's for
// its wait (streams).
func (r *reallocRig) reported(t *testing.T) int {
	t.Helper()
	if r.proto == "UDP" {
		l := r.f.srv.answers
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.allocated[udpClientOf(r.src)].allocations
	}
	d := r.f.srv.direct
	d.streams.mu.Lock()
	defer d.streams.mu.Unlock()
	st := d.streams.lookupLocked(r.src, r.dst)
	if st == nil {
		t.Fatal("the connection is not registered")
	}
	return st.allocations
}

// reallocate ends the client's allocation (endAllocationOnServer) and opens a new one
// on the same 5-tuple. The old relay's port is held meanwhile, so that the new relay
// has another: pion/turn's events name an allocation by its relay's address.
func (r *reallocRig) reallocate(t *testing.T) {
	t.Helper()
	old := r.relayed.LocalAddr().(*net.UDPAddr)
	r.endAllocationOnServer(t)
	hold, err := net.ListenUDP("udp4", old)
	if err != nil {
		t.Fatalf("holding the old relay's port: %v", err)
	}
	t.Cleanup(func() { _ = hold.Close() })
	relayed, err := r.client.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relayed.Close() })
	r.relayed, r.relay = relayed, r.f.relayAt(relayed.LocalAddr())
	if r.relay == nil || relayed.LocalAddr().String() == old.String() {
		t.Fatalf("the new allocation's relay at %v: %v", relayed.LocalAddr(), r.relay)
	}
	if n := r.reported(t); n != 1 {
		t.Fatalf("the server counts %d allocations of the client, want the new one", n)
	}
}

// settle returns once the server has handled everything the client sent before: the
// answer to a Binding request comes after it (the listener's reader, and a
// connection's, serve in order).
func (r *reallocRig) settle(t *testing.T) {
	t.Helper()
	if _, err := r.client.SendBindingRequest(); err != nil {
		t.Fatal(err)
	}
}

// served sends msg, which carries data to the SFU, and fails the test unless the SFU
// took data from the relay, relayed before pion/turn read msg.
func (r *reallocRig) served(t *testing.T, what string, msg, data []byte) {
	t.Helper()
	r.settle(t)
	for len(r.taken) > 0 {
		<-r.taken
	}
	channelData, sends := r.f.srv.UplinkServed()
	r.write(t, msg)
	got := nextTaken(t, r.taken)
	relayAddr := netip.AddrPortFrom(r.sfu.Addr(), uint16(r.relayed.LocalAddr().(*net.UDPAddr).Port))
	if !bytes.Equal(got.b, data) || got.from != relayAddr {
		t.Fatalf("%s: the SFU took %q from %v, want %q from the relay %v", what, got.b, got.from, data, relayAddr)
	}
	r.settle(t)
	channelData2, sends2 := r.f.srv.UplinkServed()
	if channelData2+sends2 != channelData+sends+1 {
		t.Fatalf("%s: relayed by pion/turn, not before it (served before: %d ChannelData, %d Send indications)",
			what, channelData2-channelData, sends2-sends)
	}
}

// held is how many channels and permissions the uplink's tables hold for the client,
// and how many relays they hold anything of.
func (r *reallocRig) held(t *testing.T) (channels, permits, relays int) {
	t.Helper()
	d := r.f.srv.direct
	if r.proto == "UDP" {
		d.uplink.mu.RLock()
		defer d.uplink.mu.RUnlock()
		return len(d.uplink.m), len(d.uplink.permits), len(d.uplink.held)
	}
	d.streams.mu.Lock()
	defer d.streams.mu.Unlock()
	st := d.streams.lookupLocked(r.src, r.dst)
	if st == nil {
		t.Fatal("the connection is not registered")
	}
	if l := st.channels.cur.Load(); l != nil {
		channels = len(*l)
	}
	if l := st.permits.cur.Load(); l != nil {
		permits = len(*l)
	}
	return channels, permits, len(d.streams.held)
}
