package turn

import (
	"crypto/tls"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
)

// A packet the SFU hands a relay in memory (relay.go) went on through pion/turn's relay
// loop: read from the relay's inbox by the allocation's goroutine, framed in a message
// allocated for it, written to the client's connection. That loop and the collector's
// work for its garbage were half of what a relayed subscriber cost the server
// (bench/README.md, "TURN-relayed participants"). pion/turn reports the channels and
// permissions a client makes and loses (its EventHandler); that is all a relay needs to
// frame the packet itself, in the SFU writer's call, into the client's connection: a
// ChannelData message where the client bound a channel to the SFU's address (browsers
// do within a moment of their first send), else a Data indication where it holds a
// permission (until then, or a client that binds none). Anything else still goes
// through pion/turn's loop.

// clientConn is the client's side of an allocation, where its relay writes directly.
// Its methods do not wait for the client: a message that does not fit is dropped, as a
// full socket buffer drops a datagram, and they report whether it went. (A UDP
// client's write waits while the listener's whole queue is full, its sender behind the
// kernel, as every write to that socket does.)
type clientConn interface {
	send(msg []byte) bool
	// sendChannelData frames b as ChannelData itself where it can without a copy.
	sendChannelData(number uint16, b []byte) bool
}

// direct is the server's registry for the relays' direct writes: the relay sockets by
// port; the clients' TCP and TLS connections are the listeners' (streams).
type direct struct {
	mu      sync.Mutex
	relays  map[uint16]*restrictedConn
	streams *streams
	// udp is the UDP listener when its writes are queued (Config.BatchUDP): a direct
	// write must not be a system call in the SFU writer's goroutine. nil otherwise,
	// and relays to UDP clients then go through pion/turn's loop.
	udp  addrPortWriter
	bufs sync.Pool // *[maxMessage]byte
	// gone is what the relays removed had written: each counts its own (a writer's
	// add to a counter of its own relay, not one every writer shares).
	gone uint64
	// uplink are the UDP clients' channels and permissions, by which their
	// ChannelData and Send indications are served before pion/turn reads them
	// (uplink.go).
	uplink udpChannels
}

// addrPortWriter is a UDP socket whose writes queue (sfu.BatchUDP's).
type addrPortWriter interface {
	WriteToAddrPort(b []byte, ap netip.AddrPort) (int, error)
}

// maxMessage is the largest message a relay frames: a Data indication of the largest
// datagram handed over, with an IPv6 peer address.
const maxMessage = stunHeader + 4 + 20 + 4 + maxRelayed + 3

func newDirect(s *streams) *direct {
	d := &direct{relays: map[uint16]*restrictedConn{}, streams: s}
	d.bufs.New = func() any { return new([maxMessage]byte) }
	return d
}

// addRelay registers c, a relay socket with the SFU's hand-over, at its port. The
// removal, when c is shut (its Close, or a revocation before its socket's close), also
// takes the channels and permissions through c out of the uplinks (its UDP client's,
// or its TCP or TLS connection's).
func (d *direct) addRelay(port uint16, c *restrictedConn) func() {
	d.mu.Lock()
	d.relays[port] = c
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		if d.relays[port] == c {
			delete(d.relays, port)
			d.gone += c.written.Load()
		}
		d.mu.Unlock()
		d.uplink.forget(c)
		d.streams.forget(c)
	}
}

// writes is the number of packets the relays wrote directly (a write still under way
// when its relay is removed may be missed).
func (d *direct) writes() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.gone
	for _, c := range d.relays {
		n += c.written.Load()
	}
	return n
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// route finds the relay at relayAddr, user's (relayOf), and its client's connection
// (src and dst are the allocation's five-tuple as pion/turn reports it).
func (d *direct) route(src, dst, relayAddr net.Addr, user string) (*restrictedConn, clientConn) {
	relay := d.relayOf(src, dst, relayAddr, user)
	if relay == nil {
		return nil, nil
	}
	switch a := src.(type) {
	case *net.UDPAddr:
		if d.udp == nil { // set by New, before pion/turn serves
			return nil, nil
		}
		return relay, udpClient{conn: d.udp, to: unmap(a.AddrPort()), bufs: &d.bufs}
	case *net.TCPAddr:
		if client := d.streams.client(src, dst, &d.bufs); client != nil {
			return relay, client
		}
	}
	return nil, nil
}

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
// src–dst, nil otherwise. An event names an
// allocation's relay by its address, and pion/turn may report one after the relay's
// socket is closed (a permission created as its allocation closed, reported after it
// let go of the lock; a permission or channel deleted by pion/turn's reader of a relay
// that a revocation shut, reported while its socket is closed on another goroutine):
// the port may be another relay's by then, and the event must not change what that
// relay writes to its client (a route to the reporting client would send it another
// member's media) nor take its routes out. Each relay is opened for one username,
// which pion/turn's events name (the credentials' own, handed to one member), so user
// tells another member's relay from the reported one. A member holds several
// allocations with the same credentials (one per peer connection and transport, each
// from a socket or connection of its own), and the five-tuple, transport included
// (fiveTuple), which the relay keeps from its creation's report
// (Server.allocationCreated; its channels and permissions are reported after it, on
// the same reader), tells those apart: a route to the reporting client would send
// that allocation's media to another of the member's sockets. Left: an allocation of the same member on the same five-tuple and port (its
// client allocating again from the same socket, handed the same port), which no
// event's fields tell from the earlier one; its routes go to the same client.
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

// without is s without what del picks, in a new array: the routes being replaced may
// be read by a writer still.
func without[T any](s []T, del func(T) bool) []T {
	return slices.DeleteFunc(slices.Clone(s), del)
}

// relayRoutes are what a relay's client has bound and permitted, replaced on change
// and read without a lock by the SFU's writers.
type relayRoutes struct {
	channels []channelRoute
	permits  []permitRoute
}

type channelRoute struct {
	peer   netip.AddrPort
	number uint16
	client clientConn
}

type permitRoute struct {
	ip     netip.Addr
	client clientConn
}

type routeTable struct {
	mu  sync.Mutex
	cur atomic.Pointer[relayRoutes]
}

func (t *routeTable) change(f func(*relayRoutes)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var next relayRoutes
	if old := t.cur.Load(); old != nil {
		next = *old
	}
	f(&next)
	t.cur.Store(&next)
}

// writeDirect writes b from the SFU's address peer to the relay's client as pion/turn's
// loop would: on a channel bound to peer, else in a Data indication where peer's
// address is permitted. It reports false when neither exists (the loop then has it).
func (c *restrictedConn) writeDirect(b []byte, peer netip.AddrPort) bool {
	r := c.routes.cur.Load()
	if r == nil {
		return false
	}
	for _, ch := range r.channels {
		if ch.peer == peer {
			if ch.client.sendChannelData(ch.number, b) {
				c.written.Add(1)
			}
			return true
		}
	}
	for _, p := range r.permits {
		if p.ip == peer.Addr() {
			buf := c.direct.bufs.Get().(*[maxMessage]byte)
			if p.client.send(appendDataIndication(buf[:0], peer, b)) {
				c.written.Add(1)
			}
			c.direct.bufs.Put(buf)
			return true
		}
	}
	return false
}

// udpClient is a client of the UDP listener.
type udpClient struct {
	conn addrPortWriter
	to   netip.AddrPort
	bufs *sync.Pool
}

func (u udpClient) send(msg []byte) bool {
	_, err := u.conn.WriteToAddrPort(msg, u.to)
	return err == nil
}

func (u udpClient) sendChannelData(number uint16, b []byte) bool {
	buf := u.bufs.Get().(*[maxMessage]byte)
	defer u.bufs.Put(buf)
	return u.send(appendChannelData(buf[:0], number, b))
}

// streamClient is a client of the TCP listener: its connection's queue takes the
// message in place.
type streamClient struct{ q *queuedConn }

func (s streamClient) send(msg []byte) bool { return s.q.append(msg) }

func (s streamClient) sendChannelData(number uint16, b []byte) bool {
	return s.q.appendChannelData(number, b)
}

// tlsClient is a client of the TLS listener. Its connection's queue is below TLS, and
// a sealed record cannot be dropped, so the message is dropped before it is sealed
// when the queue has no room for it. Another write on the connection (pion/turn's
// answers, a few a minute, or a second SFU writer's) may fill the queue between that
// look and the write, which then goes past maxQueued: writes below TLS never wait
// (queuedConn.Write).
type tlsClient struct {
	conn *tls.Conn
	q    *queuedConn
	bufs *sync.Pool
}

// tlsOverhead bounds what a TLS record adds to its content.
const tlsOverhead = 64

func (t tlsClient) send(msg []byte) bool {
	if !t.q.hasRoom(len(msg) + tlsOverhead) {
		return false
	}
	_, err := t.conn.Write(msg)
	return err == nil
}

func (t tlsClient) sendChannelData(number uint16, b []byte) bool {
	buf := t.bufs.Get().(*[maxMessage]byte)
	defer t.bufs.Put(buf)
	return t.send(appendChannelData(buf[:0], number, b))
}

// ChannelData (RFC 8656, section 12.4): channel number, length of the data, the data,
// padded to four bytes (required on streams, harmless on UDP, and what pion/turn does).
const channelDataHeader = 4

func channelDataSize(n int) int { return (channelDataHeader + n + 3) &^ 3 }

func appendChannelData(dst []byte, number uint16, b []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, number)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(b)))
	dst = append(dst, b...)
	return appendPadding(dst, len(b))
}

func appendPadding(dst []byte, n int) []byte {
	for ; n%4 != 0; n++ {
		dst = append(dst, 0)
	}
	return dst
}

// A Data indication (RFC 8656, section 11.6): a STUN indication with the peer's
// address (XOR-PEER-ADDRESS) and the data (DATA), no integrity (indications carry
// none, as pion/turn sends them).
const (
	stunHeader          = 20
	stunMagicCookie     = 0x2112A442
	stunDataIndication  = 0x0017
	attrXORPeerAddress  = 0x0012
	attrData            = 0x0013
	xorAddressFamilyIP4 = 0x01
	xorAddressFamilyIP6 = 0x02
)

func appendDataIndication(dst []byte, peer netip.AddrPort, b []byte) []byte {
	addrLen := 8
	if !peer.Addr().Is4() {
		addrLen = 20
	}
	length := 4 + addrLen + 4 + (len(b)+3)&^3
	dst = binary.BigEndian.AppendUint16(dst, stunDataIndication)
	dst = binary.BigEndian.AppendUint16(dst, uint16(length))
	dst = binary.BigEndian.AppendUint32(dst, stunMagicCookie)
	// The transaction ID of an indication matches nothing; it need not be secret,
	// only varied.
	var id [12]byte
	binary.BigEndian.PutUint64(id[:8], rand.Uint64())
	binary.BigEndian.PutUint32(id[8:], rand.Uint32())
	dst = append(dst, id[:]...)

	dst = binary.BigEndian.AppendUint16(dst, attrXORPeerAddress)
	dst = binary.BigEndian.AppendUint16(dst, uint16(addrLen))
	family := byte(xorAddressFamilyIP4)
	if addrLen == 20 {
		family = xorAddressFamilyIP6
	}
	dst = append(dst, 0, family)
	dst = binary.BigEndian.AppendUint16(dst, peer.Port()^(stunMagicCookie>>16))
	var key [16]byte
	binary.BigEndian.PutUint32(key[:4], stunMagicCookie)
	copy(key[4:], id[:])
	ip := peer.Addr().As16()
	addr := ip[12:]
	if addrLen == 20 {
		addr = ip[:]
	}
	for i, x := range addr {
		dst = append(dst, x^key[i])
	}

	dst = binary.BigEndian.AppendUint16(dst, attrData)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(b)))
	dst = append(dst, b...)
	return appendPadding(dst, len(b))
}
