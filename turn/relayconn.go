package turn

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// restrictedConn is a relay socket that sends only to peers and drops whatever arrives
// from anywhere else, so that nothing but the SFU reaches a client through it either.
type restrictedConn struct {
	net.PacketConn
	udp   *net.UDPConn // the same socket, read without allocating
	peers peers
	// user is the username whose allocation the relay is, as pion/turn's events name
	// it (direct.relayOf).
	user string
	port uint16 // the socket's
	// client is the five-tuple of the allocation, from the report of its creation
	// (Server.allocationCreated): pion/turn's events name it with the relay's
	// address, and a relay's port may be another allocation's of the same member by
	// the time a late event comes (direct.relayOf).
	client atomic.Pointer[fiveTuple]

	// With the SFU handing datagrams over in memory (relayGenerator.handOver), reads
	// take them from inbox (a read deadline does not apply: pion/turn sets none on a
	// relay socket); done is closed by Close.
	inbox   chan relayedDatagram
	done    chan struct{}
	bufs    *sync.Pool
	removes []func()
	give    func()    // returns the socket's place in the allocation caps; nil if uncounted
	once    sync.Once // shut
	// socketOnce closes the socket (closeSocket).
	socketOnce sync.Once
	// shutMu orders shut against whenShut: an end hook is either run by shut or
	// refused by whenShut.
	shutMu sync.Mutex
	onShut []func()
	// closed is set by shut: a write after it is refused (WriteTo), though the SFU's
	// taker is still at hand and pion/turn, which deletes the allocation and its
	// channels only once its reader sees the close, may still route one to it; and a
	// datagram read after it is not relayed (ReadFrom), though the socket may be open
	// a while longer (Server.Revoke closes it later).
	closed atomic.Bool

	// routes are the client's channels and permissions, by which the relay writes
	// to it directly (direct.go); direct is the server's registry.
	routes  routeTable
	direct  *direct
	written atomic.Uint64 // packets written to the client directly
	// uplinks take what the relay sends each SFU address in memory
	// (Config.RelayUplink); set before the relay is handed to pion/turn.
	uplinks []uplink
}

// uplink is the SFU's taker of what the relay sends to peer.
type uplink struct {
	peer netip.AddrPort
	take func([]byte) bool
}

// relayedDatagram is a datagram from the SFU in a relay's inbox.
type relayedDatagram struct {
	buf  *[maxRelayed]byte
	n    int
	from *net.UDPAddr
}

const (
	// maxRelayed is the largest datagram handed over in memory: the SFU's batches
	// hold none larger.
	maxRelayed = 1500
	// relayInbox is how many datagrams a relay holds for its reader: a keyframe's
	// burst of a screen share, about what a socket's receive buffer holds by
	// default (208 KB). Only what is in it takes memory (a datagram's buffer each).
	relayInbox = 256
)

// push puts a copy of b from the SFU address from into the inbox, or drops it when the
// inbox is full (as a full socket buffer drops). It never waits: the SFU's writers
// call it.
func (c *restrictedConn) push(b []byte, from *net.UDPAddr) {
	if len(b) > maxRelayed {
		return
	}
	buf, _ := c.bufs.Get().(*[maxRelayed]byte)
	if buf == nil {
		buf = new([maxRelayed]byte)
	}
	d := relayedDatagram{buf: buf, n: copy(buf[:], b), from: from}
	select {
	case c.inbox <- d:
	default:
		c.bufs.Put(buf)
	}
}

// readSocket puts what the SFU's addresses send to the socket into the inbox, until
// the socket is closed (or fails: the inbox still has what the SFU hands over).
func (c *restrictedConn) readSocket() {
	b := make([]byte, maxRelayed)
	for {
		n, ap, err := c.udp.ReadFromUDPAddrPort(b)
		if err != nil {
			return
		}
		if peer := c.peers.at(ap); peer != nil {
			c.push(b[:n], peer)
		}
	}
}

// Close ends the relay (shut) and closes its socket.
func (c *restrictedConn) Close() error {
	c.shut()
	return c.closeSocket()
}

// shut ends everything of the relay but its socket, at once: it writes nothing more
// (WriteTo) and relays nothing more to its client (ReadFrom), the SFU no longer hands it
// datagrams in memory nor takes its own (the hand-over ends: what the SFU sends goes to
// the socket, which drops it), pion/turn's reader is told it is closed (done), which
// deletes the allocation, and its place in the allocation caps is free. The socket's
// close, which waits for the goroutine reading it to let go, can come later
// (Server.Revoke).
func (c *restrictedConn) shut() {
	c.once.Do(func() {
		c.shutMu.Lock()
		c.closed.Store(true)
		ended := c.onShut
		c.onShut = nil
		c.shutMu.Unlock()
		for _, f := range ended {
			f()
		}
		for _, remove := range c.removes {
			remove()
		}
		if c.done != nil {
			close(c.done)
		}
		if c.give != nil {
			c.give()
		}
	})
}

// whenShut has f called when the relay is shut (ending its allocation) and reports
// true; false, and f is never called, when it is shut already.
func (c *restrictedConn) whenShut(f func()) bool {
	c.shutMu.Lock()
	defer c.shutMu.Unlock()
	if c.closed.Load() {
		return false
	}
	c.onShut = append(c.onShut, f)
	return true
}

// closeSocket closes the socket once: a later call (pion/turn closes the relay of an
// allocation it deletes, after a revocation closed it) reports no error, which would
// stop pion/turn's Close of all the allocations at that one.
func (c *restrictedConn) closeSocket() error {
	var err error
	c.socketOnce.Do(func() { err = c.PacketConn.Close() })
	return err
}

// WriteTo sends b to addr, an SFU address, or hands it to the SFU in memory where
// the SFU takes it there (Config.RelayUplink); nothing once the relay is closed.
func (c *restrictedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	u, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, errPeerRefused
	}
	ap := unmap(u.AddrPort())
	if c.peers[ap] == nil {
		return 0, errPeerRefused
	}
	for _, up := range c.uplinks {
		if up.peer == ap && up.take(b) {
			return len(b), nil
		}
	}
	return c.PacketConn.WriteTo(b, addr)
}

// ReadFrom returns the next datagram from a peer, with the peer's address from peers
// (the relay only reads the address, pion/turn's allocation compares it).
//
// Once the relay is shut it returns net.ErrClosed, also for a datagram already taken:
// with both ready, the select may take the inbox's, and without the hand-over the
// socket is read until it is closed.
func (c *restrictedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.inbox != nil {
		select {
		case d := <-c.inbox:
			n := copy(b, d.buf[:d.n])
			c.bufs.Put(d.buf)
			if c.closed.Load() {
				return 0, nil, net.ErrClosed
			}
			return n, d.from, nil
		case <-c.done:
			return 0, nil, net.ErrClosed
		}
	}
	for {
		n, ap, err := c.udp.ReadFromUDPAddrPort(b)
		if err != nil {
			return n, nil, err
		}
		if c.closed.Load() {
			return 0, nil, net.ErrClosed
		}
		if peer := c.peers.at(ap); peer != nil {
			return n, peer, nil
		}
	}
}
