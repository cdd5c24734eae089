package turn

import (
	"net"
	"testing"
	"time"
)

// TestAnotherMembersReportsLeaveTheRelayAlone: pion/turn names an allocation's relay in
// its events by the relay's address, and may report one after the relay's socket is
// closed (a permission created as its allocation closed; the deletions of an
// allocation a revocation shut, while its socket is closed on another goroutine), when
// the port may be another member's relay's. Such a report must change nothing of that
// relay: a permission's route to the reporting client would have the relay write its
// member's media there, and a deletion would take the relay's own channel or
// permission out of its routes and the uplink's table. The test reports another
// member's events (another username, another client address) at the rig's relay
// address, as they would come after its port was reused; the relay's routes and the
// uplink's table stay as they were, and the client's ChannelData and Send indications
// are still served.
func TestAnotherMembersReportsLeaveTheRelayAlone(t *testing.T) {
	r := newReallocRig(t, "udp")
	r.permit(t)
	number := r.bind(t)
	routes := r.relay.routes.cur.Load()
	channels, permits, relays := r.held(t)

	other := r.f.srv.ICEServers(time.Now())[0].Username
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	d, sfu, at := r.f.srv.direct, r.f.sfu.LocalAddr().(*net.UDPAddr), r.relayed.LocalAddr()
	d.permissionCreated(src, r.dst, r.proto, other, "", at, sfu.IP)
	d.channelCreated(src, r.dst, r.proto, other, "", at, sfu, number+1)
	d.channelDeleted(src, r.dst, r.proto, other, "", at, sfu, number)
	d.permissionDeleted(src, r.dst, r.proto, other, "", at, sfu.IP)
	if got := r.relay.routes.cur.Load(); got != routes {
		t.Errorf("another member's reports changed the relay's routes: %d channels, %d permissions, were %d and %d",
			len(got.channels), len(got.permits), len(routes.channels), len(routes.permits))
	}
	if c, p, n := r.held(t); c != channels || p != permits || n != relays {
		t.Errorf("another member's reports changed the uplink's table: %d channels, %d permissions, of %d relays, were %d, %d, %d",
			c, p, n, channels, permits, relays)
	}
	r.served(t, "ChannelData", appendChannelData(nil, number, []byte("on the channel")), []byte("on the channel"))
	r.served(t, "a Send indication", buildSendIndication(t, r.sfu, []byte("in a Send indication")), []byte("in a Send indication"))
}

// TestSameMembersOtherAllocationsReportsLeaveTheRelayAlone: a member holds several
// allocations with the same credentials (one per peer connection and transport, each
// from a socket or connection of its own), and a late event of one of them (as above)
// may come when its relay's port is another of them's. Such a report, under the
// member's own username and from the other allocation's five-tuple, must change nothing
// of the relay: a permission's route would have the relay write its media to the
// member's other socket, which does not expect it there, and a deletion would take the
// relay's own routes and the uplink's entries out. Over UDP and TCP, the relay's routes
// and the uplink's table stay as they were, and the client's ChannelData and Send
// indications are still served.
func TestSameMembersOtherAllocationsReportsLeaveTheRelayAlone(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			r := newReallocRig(t, transport)
			r.permit(t)
			number := r.bind(t)
			routes := r.relay.routes.cur.Load()
			channels, permits, relays := r.held(t)

			var src net.Addr = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
			if transport == "tcp" {
				src = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
			}
			d, sfu, at := r.f.srv.direct, r.f.sfu.LocalAddr().(*net.UDPAddr), r.relayed.LocalAddr()
			d.permissionCreated(src, r.dst, r.proto, r.user, "", at, sfu.IP)
			d.channelCreated(src, r.dst, r.proto, r.user, "", at, sfu, number+1)
			d.channelDeleted(src, r.dst, r.proto, r.user, "", at, sfu, number)
			d.permissionDeleted(src, r.dst, r.proto, r.user, "", at, sfu.IP)
			if got := r.relay.routes.cur.Load(); got != routes {
				t.Errorf("the member's other allocation's reports changed the relay's routes: %d channels, %d permissions, were %d and %d",
					len(got.channels), len(got.permits), len(routes.channels), len(routes.permits))
			}
			if c, p, n := r.held(t); c != channels || p != permits || n != relays {
				t.Errorf("the member's other allocation's reports changed the uplink's table: %d channels, %d permissions, of %d relays, were %d, %d, %d",
					c, p, n, channels, permits, relays)
			}
			r.served(t, "ChannelData", appendChannelData(nil, number, []byte("on the channel")), []byte("on the channel"))
			r.served(t, "a Send indication", buildSendIndication(t, r.sfu, []byte("in a Send indication")), []byte("in a Send indication"))
		})
	}
}

// TestSameMembersReportsOverTCPLeaveItsUDPRelayAlone: a five-tuple is the client's and
// the server's addresses and the transport (RFC 8656, section 2). A member's allocation
// over TCP may come from the same address and port as its allocation over UDP, to the
// same server address and port (a UDP and a TCP listener on the same address, say
// 3478 both), and a late event of the TCP allocation, when its relay's port is the UDP
// allocation's relay's by then, must change nothing of that relay, as another
// allocation's of the member from any other five-tuple (above): told by the
// addresses alone, its deletions took the UDP relay's own channel and permission out
// of its routes. Over UDP, the relay's routes and the uplink's table stay as they
// were, and the client's ChannelData and Send indications are still served.
func TestSameMembersReportsOverTCPLeaveItsUDPRelayAlone(t *testing.T) {
	r := newReallocRig(t, "udp")
	r.permit(t)
	number := r.bind(t)
	routes := r.relay.routes.cur.Load()
	channels, permits, relays := r.held(t)

	udpSrc, udpDst := r.src.(*net.UDPAddr), r.dst.(*net.UDPAddr)
	src := &net.TCPAddr{IP: udpSrc.IP, Port: udpSrc.Port}
	dst := &net.TCPAddr{IP: udpDst.IP, Port: udpDst.Port}
	d, sfu, at := r.f.srv.direct, r.f.sfu.LocalAddr().(*net.UDPAddr), r.relayed.LocalAddr()
	d.permissionCreated(src, dst, "TCP", r.user, "", at, sfu.IP)
	d.channelCreated(src, dst, "TCP", r.user, "", at, sfu, number+1)
	d.channelDeleted(src, dst, "TCP", r.user, "", at, sfu, number)
	d.permissionDeleted(src, dst, "TCP", r.user, "", at, sfu.IP)
	if got := r.relay.routes.cur.Load(); got != routes {
		t.Errorf("the member's allocation over TCP from the same addresses changed the UDP relay's routes: %d channels, %d permissions, were %d and %d",
			len(got.channels), len(got.permits), len(routes.channels), len(routes.permits))
	}
	if c, p, n := r.held(t); c != channels || p != permits || n != relays {
		t.Errorf("the member's allocation over TCP from the same addresses changed the uplink's table: %d channels, %d permissions, of %d relays, were %d, %d, %d",
			c, p, n, channels, permits, relays)
	}
	r.served(t, "ChannelData", appendChannelData(nil, number, []byte("on the channel")), []byte("on the channel"))
	r.served(t, "a Send indication", buildSendIndication(t, r.sfu, []byte("in a Send indication")), []byte("in a Send indication"))
}
