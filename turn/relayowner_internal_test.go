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
	other := r.f.srv.ICEServers(time.Now())[0].Username
	r.reportsLeaveTheRelayAlone(t, "another member's reports", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}, r.dst, r.proto, other)
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
			var src net.Addr = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
			if transport == "tcp" {
				src = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
			}
			r.reportsLeaveTheRelayAlone(t, "the member's other allocation's reports", src, r.dst, r.proto, r.user)
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
	udpSrc, udpDst := r.src.(*net.UDPAddr), r.dst.(*net.UDPAddr)
	src := &net.TCPAddr{IP: udpSrc.IP, Port: udpSrc.Port}
	dst := &net.TCPAddr{IP: udpDst.IP, Port: udpDst.Port}
	r.reportsLeaveTheRelayAlone(t, "the member's allocation over TCP from the same addresses", src, dst, "TCP", r.user)
}

// reportsLeaveTheRelayAlone gives the rig's relay a permission and a channel, then has
// pion/turn report at the relay's address a permission and a channel created and its
// own channel and permission deleted, under user from the five-tuple src, dst over
// proto, and checks that whose reports changed neither the relay's routes nor the
// uplink's table, and that the client's ChannelData and Send indications are still
// served.
func (r *reallocRig) reportsLeaveTheRelayAlone(t *testing.T, whose string, src, dst net.Addr, proto, user string) {
	t.Helper()
	r.permit(t)
	number := r.bind(t)
	routes := r.relay.routes.cur.Load()
	channels, permits, relays := r.held(t)

	d, sfu, at := r.f.srv.direct, r.f.sfu.LocalAddr().(*net.UDPAddr), r.relayed.LocalAddr()
	d.permissionCreated(src, dst, proto, user, "", at, sfu.IP)
	d.channelCreated(src, dst, proto, user, "", at, sfu, number+1)
	d.channelDeleted(src, dst, proto, user, "", at, sfu, number)
	d.permissionDeleted(src, dst, proto, user, "", at, sfu.IP)
	if got := r.relay.routes.cur.Load(); got != routes {
		t.Errorf("%s changed the relay's routes: %d channels, %d permissions, were %d and %d",
			whose, len(got.channels), len(got.permits), len(routes.channels), len(routes.permits))
	}
	if c, p, n := r.held(t); c != channels || p != permits || n != relays {
		t.Errorf("%s changed the uplink's table: %d channels, %d permissions, of %d relays, were %d, %d, %d",
			whose, c, p, n, channels, permits, relays)
	}
	r.served(t, "ChannelData", appendChannelData(nil, number, []byte("on the channel")), []byte("on the channel"))
	r.served(t, "a Send indication", buildSendIndication(t, r.sfu, []byte("in a Send indication")), []byte("in a Send indication"))
}
