package turn

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
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

// TestOldAllocationsDeletionLeavesTheNewOnesAlone: a client whose allocation ends on
// pion/turn's timer may allocate again on the same 5-tuple (UDP: its address and
// port; TCP: its connection) while the old allocation's deletion is still being
// reported: pion/turn takes the allocation out of its table before its close reports
// the permissions and channels deleted, and a permission whose timer fired as the
// allocation closed reports its deletion later still. The new allocation permits the
// same SFU IP and binds the same channel number (pion/turn's client, as libwebrtc
// may, numbers each allocation's channels from 0x4000), and the old allocation's
// reports must not take those out of the uplink's tables: the client's ChannelData
// and Send indications would fall to pion/turn's reader. pion/turn's order cannot be
// forced from outside, so the test reports the old allocation's deletions itself, once
// the new allocation holds its channel and permission; the old relay's port is held
// meanwhile (pion/turn names an allocation in its reports by its relay's address).
// The old allocation ends by its relay's close and is wholly gone in pion/turn before
// the new one is made (endAllocationOnServer): the old relay's reader, late on a loaded
// machine, would delete the new allocation. Once the new allocation ends, the tables
// hold nothing of either relay.
func TestOldAllocationsDeletionLeavesTheNewOnesAlone(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			r := newReallocRig(t, transport)
			r.permit(t)
			number := r.bind(t)
			old, oldRelay := r.relayed.LocalAddr(), r.relay

			r.reallocate(t)
			r.permit(t)
			if n := r.bind(t); n != number {
				t.Fatalf("the new allocation bound channel %#x, the old one %#x: not the case under test", n, number)
			}
			d, sfu := r.f.srv.direct, r.f.sfu.LocalAddr().(*net.UDPAddr)
			oldReports := func(when string) {
				t.Helper()
				d.channelDeleted(r.src, r.dst, r.proto, r.user, "", old, sfu, number)
				d.permissionDeleted(r.src, r.dst, r.proto, r.user, "", old, sfu.IP)
				r.served(t, "ChannelData "+when, appendChannelData(nil, number, []byte("on the channel")), []byte("on the channel"))
				r.served(t, "a Send indication "+when, buildSendIndication(t, r.sfu, []byte("in a Send indication")), []byte("in a Send indication"))
			}
			// Reported after the old relay closed (a permission's timer that fired as
			// its allocation closed)...
			oldReports("after the old relay closed")
			// ...and while it is still registered, as pion/turn's close reports them
			// before it closes the relay.
			oldPort := uint16(old.(*net.UDPAddr).Port)
			d.mu.Lock()
			d.relays[oldPort] = oldRelay
			d.mu.Unlock()
			oldReports("before the old relay closed")
			d.mu.Lock()
			delete(d.relays, oldPort)
			d.mu.Unlock()

			r.endAllocation(t)
			if channels, permits, relays := r.held(t); channels+permits+relays != 0 {
				t.Errorf("after both allocations ended the uplink holds %d channels, %d permissions, of %d relays", channels, permits, relays)
			}
		})
	}
}

// TestChannelBoundAsItsAllocationClosesEndsWithIt: pion/turn's close of an allocation
// lists its channels and reports each deleted, then closes the relay; a ChannelBind
// served meanwhile (on the listener's reader, with the allocation it found before the
// close) is reported created after that list was made, and pion/turn reports it
// deleted only when its own timer runs out, ten minutes later. Its entry in the
// uplink's tables must go with the relay's close, not pin the closed relay (and the
// ChannelData on it must go to pion/turn, which has no allocation, rather than be
// counted as served and refused by the relay). pion/turn's order cannot be forced from
// outside: the test reports the channel itself, for the client's real allocation, which
// then ends as a client's Refresh of lifetime 0 ends it. A report later still, whose
// relay was found registered before the close and is recorded after it
// (channelCreated's route, then the table's add), records nothing.
func TestChannelBoundAsItsAllocationClosesEndsWithIt(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			r := newReallocRig(t, transport)
			const number = 0x4001
			d, sfu := r.f.srv.direct, r.f.sfu.LocalAddr().(*net.UDPAddr)
			d.channelCreated(r.src, r.dst, r.proto, r.user, "", r.relayed.LocalAddr(), sfu, number)
			if channels, _, _ := r.held(t); channels != 1 {
				t.Fatalf("%d channels in the uplink's table, want the one reported", channels)
			}

			r.endAllocation(t)
			if channels, permits, relays := r.held(t); channels+permits+relays != 0 {
				t.Errorf("after the allocation ended the uplink holds %d channels, %d permissions, of %d relays", channels, permits, relays)
			}
			before, _ := r.f.srv.UplinkServed()
			r.write(t, appendChannelData(nil, number, []byte("after the close")))
			r.settle(t)
			if after, _ := r.f.srv.UplinkServed(); after != before {
				t.Errorf("ChannelData on the closed allocation's channel served before pion/turn (%d)", after-before)
			}

			late := uplinkChannel{relay: r.relay, peer: sfu}
			if r.proto == "UDP" {
				d.uplink.add(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(r.src.(*net.UDPAddr).Port)), number, late)
			} else {
				d.streams.addChannel(r.src, r.dst, number, late)
			}
			if channels, permits, relays := r.held(t); channels+permits+relays != 0 {
				t.Errorf("after a channel through the closed relay the uplink holds %d channels, %d permissions, of %d relays", channels, permits, relays)
			}
		})
	}
}

// TestConnectionOfANewAllocationIsNotClosed: a TCP connection whose allocation ends on
// pion/turn's timer as its client allocates again on it may have the new allocation
// reported created before the old one ends (pion/turn reports both after it lets go of
// its allocations' lock, on the timer's goroutine and the connection's reader). The
// connection then holds an allocation and must not be closed after allocWait as one
// that holds none; once the new allocation's relay is shut too, it is. The test reports
// the new allocation's creation itself, with a relay of its own, before the old one's
// real end (the order cannot be forced from outside).
func TestConnectionOfANewAllocationIsNotClosed(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	r := newReallocRig(t, "tcp", func(c *Config) { c.AfterFunc = clock.AfterFunc })
	d := r.f.srv.direct
	registered := func() bool {
		d.streams.mu.Lock()
		defer d.streams.mu.Unlock()
		return d.streams.lookupLocked(r.src, r.dst) != nil
	}

	newRelay := &restrictedConn{}
	d.streams.allocationCreated(r.src, r.dst, newRelay)
	r.endAllocation(t)
	if n := clock.Pending(); n != 0 {
		t.Fatalf("the connection waits to be closed (%d timers) while it holds the new allocation", n)
	}
	clock.Advance(allocWait)
	r.settle(t)
	if !registered() {
		t.Fatal("the connection was closed while it held the new allocation")
	}

	newRelay.shut()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := clock.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(allocWait)
	conntest.Eventually(t, "the connection closed after its last allocation ended", func() bool { return !registered() })
}

// TestConnectionOfAnAllocationReportedDeletedFirstIsClosed: when a TCP connection's
// allocation ends and its client allocates again at once, the old allocation's reader
// deletes whatever pion/turn holds at the connection's five-tuple as its relay closes
// (Allocation.packetConnHandler), which may be the new allocation, put in pion/turn's
// table and not yet reported created: its relay is closed, and its deletion reported,
// before its creation is reported. The connection holds nothing after both, and must be
// closed after allocWait as one that holds none, not kept for good. The test reports
// the new allocation's deletion and creation itself, with a relay already shut, after
// the old one's real end (the order cannot be forced from outside).
func TestConnectionOfAnAllocationReportedDeletedFirstIsClosed(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	r := newReallocRig(t, "tcp", func(c *Config) { c.AfterFunc = clock.AfterFunc })
	d := r.f.srv.direct

	r.endAllocation(t)
	newRelay := &restrictedConn{}
	newRelay.shut()
	r.f.srv.allocationDeleted(r.src, r.dst, r.proto, r.user, "")
	d.streams.allocationCreated(r.src, r.dst, newRelay)
	if n := clock.Pending(); n != 1 {
		t.Fatalf("the connection waits to be closed with %d timers after its allocations ended, want 1", n)
	}
	clock.Advance(allocWait)
	conntest.Eventually(t, "the connection closed after its allocations ended", func() bool {
		d.streams.mu.Lock()
		defer d.streams.mu.Unlock()
		return d.streams.lookupLocked(r.src, r.dst) == nil
	})
}
