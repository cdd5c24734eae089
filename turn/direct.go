package turn

import (
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
