package turn

import (
	"net"
	"net/netip"
	"testing"
)

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
