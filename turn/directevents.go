package turn

import (
	"net"
	"net/netip"
	"slices"
)

// The event handlers: pion/turn calls them with its allocation's locks held (all but
// a permission's creation, reported after the lock is let go: udpChannels.permit), so
// they only change the relay's routes and the clients' channels and permissions for
// the uplinks (uplink.go, streamuplink.go).

func (d *direct) channelCreated(src, dst net.Addr, _, user, _ string, relayAddr, peer net.Addr, number uint16) {
	p, ok := peer.(*net.UDPAddr)
	if !ok {
		return
	}
	relay, client := d.route(src, dst, relayAddr, user)
	if relay == nil {
		return
	}
	// Only a channel to one of the SFU's addresses is routed: the permission handler
	// looks at the IP only, so a client may bind every other port of the SFU's (up to
	// 16,383 channels an allocation), and each route kept would cost every packet the
	// SFU hands the relay a step of writeDirect's scan. The routes stay one a peer.
	to := relay.peers.at(p.AddrPort())
	if to == nil {
		return
	}
	relay.routes.change(func(r *relayRoutes) {
		// Clipped: an append must not write into the array a writer may be reading.
		r.channels = append(slices.Clip(r.channels), channelRoute{peer: unmap(p.AddrPort()), number: number, client: client})
	})
	switch c := src.(type) {
	case *net.UDPAddr:
		d.uplink.add(unmap(c.AddrPort()), number, uplinkChannel{relay: relay, peer: to})
	case *net.TCPAddr:
		d.streams.addChannel(src, dst, number, uplinkChannel{relay: relay, peer: to})
	}
}

// channelDeleted and permissionDeleted change only what goes through the relay at
// relayAddr, the deleted one's: another allocation of the same client (its 5-tuple)
// may hold the same channel number or permission by now (uplink.go, udpChannels).
// A relay no longer registered is closed, and its close took out what it held
// (forget).
func (d *direct) channelDeleted(src, dst net.Addr, _, user, _ string, relayAddr, peer net.Addr, number uint16) {
	relay := d.relayOf(src, dst, relayAddr, user)
	if relay == nil {
		return
	}
	switch c := src.(type) {
	case *net.UDPAddr:
		d.uplink.remove(unmap(c.AddrPort()), number, relay)
	case *net.TCPAddr:
		d.streams.removeChannel(src, dst, number, relay)
	}
	relay.routes.change(func(r *relayRoutes) {
		r.channels = without(r.channels, func(c channelRoute) bool { return c.number == number })
	})
}

func (d *direct) permissionCreated(src, dst net.Addr, _, user, _ string, relayAddr net.Addr, peer net.IP) {
	ip, ok := netip.AddrFromSlice(peer)
	if !ok {
		return
	}
	if relay, client := d.route(src, dst, relayAddr, user); relay != nil {
		relay.routes.change(func(r *relayRoutes) {
			r.permits = without(r.permits, func(p permitRoute) bool { return p.ip == ip.Unmap() })
			r.permits = append(slices.Clip(r.permits), permitRoute{ip: ip.Unmap(), client: client})
		})
		switch c := src.(type) {
		case *net.UDPAddr:
			d.uplink.permit(unmap(c.AddrPort()), ip.Unmap(), relay)
		case *net.TCPAddr:
			d.streams.permit(src, dst, ip.Unmap(), relay)
		}
	}
}

func (d *direct) permissionDeleted(src, dst net.Addr, _, user, _ string, relayAddr net.Addr, peer net.IP) {
	ip, ok := netip.AddrFromSlice(peer)
	if !ok {
		return
	}
	relay := d.relayOf(src, dst, relayAddr, user)
	if relay == nil {
		return
	}
	switch c := src.(type) {
	case *net.UDPAddr:
		d.uplink.unpermit(unmap(c.AddrPort()), ip.Unmap(), relay)
	case *net.TCPAddr:
		d.streams.unpermit(src, dst, ip.Unmap(), relay)
	}
	relay.routes.change(func(r *relayRoutes) {
		r.permits = without(r.permits, func(p permitRoute) bool { return p.ip == ip.Unmap() })
	})
}

// relayOf is the relay at relayAddr if it is user's allocation on the five-tuple
// src–dst, nil otherwise. An event names an allocation's relay by its address, and
// pion/turn may report one after the relay's socket is closed (a permission created as
// its allocation closed, reported after it let go of the lock; a permission or channel
// deleted by pion/turn's reader of a relay that a revocation shut, reported while its
// socket is closed on another goroutine): the port may be another relay's by then, and
// the event must not change what that relay writes to its client (a route to the
// reporting client would send it another member's media) nor take its routes out. Each
// relay is opened for one username, which pion/turn's events name (the credentials'
// own, handed to one member), so user tells another member's relay from the reported
// one. A member holds several allocations with the same credentials (one per peer
// connection and transport, each from a socket or connection of its own), and the
// five-tuple, transport included (fiveTuple), which the relay keeps from its creation's
// report (Server.allocationCreated; its channels and permissions are reported after it,
// on the same reader), tells those apart: a route to the reporting client would send
// that allocation's media to another of the member's sockets. Left: an allocation of
// the same member on the same five-tuple and port (its client allocating again from the
// same socket, handed the same port), which no event's fields tell from the earlier
// one; its routes go to the same client.
func (d *direct) relayOf(src, dst, relayAddr net.Addr, user string) *restrictedConn {
	relay := d.relayAt(relayAddr)
	if relay == nil || relay.user != user {
		return nil
	}
	key, ok := fiveTupleOf(src, dst)
	if client := relay.client.Load(); !ok || client == nil || *client != key {
		return nil
	}
	return relay
}

// relayAt is the relay registered at relayAddr's port, whoever's it is.
func (d *direct) relayAt(relayAddr net.Addr) *restrictedConn {
	r, ok := relayAddr.(*net.UDPAddr)
	if !ok {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.relays[uint16(r.Port)]
}
