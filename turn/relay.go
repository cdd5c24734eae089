package turn

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	pionturn "github.com/pion/turn/v5"
)

// errPeerRefused answers a relay write to an address that is not the SFU.
var errPeerRefused = errors.New("turn: peer is not the SFU")

// errNoTCPRelay refuses TCP allocations (RFC 6062): media reaches the SFU over UDP.
var errNoTCPRelay = errors.New("turn: TCP relay allocations are not offered")

// errNoRelayRoom refuses a relay socket past the allocation caps (quota.take); the
// client is told the server lacks capacity.
var errNoRelayRoom = errors.New("turn: allocation caps reached")

// errRevoked refuses a relay socket to a credential revoked while it was opened
// (Server.Revoke).
var errRevoked = errors.New("turn: credentials revoked")

// errRelayFamily refuses a relay socket of an address family other than the relay
// address's (relayGenerator.network); pion/turn answers 508.
var errRelayFamily = errors.New("turn: relay address family not offered")

// errNoEvenPort refuses a relay socket asked for without a user: pion/turn opens and
// closes such sockets to find an even port (EVEN-PORT, RFC 8656 section 14.6), which
// browsers never ask for; each would be registered with the SFU and uncounted.
var errNoEvenPort = errors.New("turn: EVEN-PORT allocations are not offered")

// peers is the closed set of addresses the relay may reach: the SFU's media sockets.
// Each maps to the address a relay socket's read returns for a datagram from it, made
// once: a read that made its own (net.UDPConn.ReadFrom) allocated twice a packet.
type peers map[netip.AddrPort]*net.UDPAddr

func newPeers(list []netip.AddrPort) peers {
	p := make(peers, len(list))
	for _, a := range list {
		a = unmap(a)
		p[a] = net.UDPAddrFromAddrPort(a)
	}
	return p
}

// at is the address of the peer ap, nil when ap is no peer.
func (p peers) at(ap netip.AddrPort) *net.UDPAddr {
	return p[unmap(ap)]
}

// permits is the PermissionHandler: CreatePermission and ChannelBind name only an IP,
// so this is the first, coarse gate; the relay socket (restrictedConn) checks the port.
func (p peers) permits(_ net.Addr, ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	for peer := range p {
		if peer.Addr() == a {
			return true
		}
	}
	return false
}

// relayGenerator opens one UDP socket per allocation whose traffic is limited to peers,
// so that a client holding valid credentials still cannot use the relay to reach any
// other host or port (no open relay, no path into internal networks).
type relayGenerator struct {
	relayIP net.IP // announced in XOR-RELAYED-ADDRESS
	bindIP  string // where relay sockets listen
	peers   peers
	// local, when set, registers a relay socket's addresses with the SFU, which
	// then hands its datagrams to them over in memory (Config.LocalRelay).
	local func(ap netip.AddrPort, deliver func([]byte)) (remove func())
	// uplink, with local, takes what a relay socket sends the SFU in memory
	// (Config.RelayUplink).
	uplink func(ap netip.AddrPort) (take func([]byte) bool)
	bufs   sync.Pool // *[maxRelayed]byte, the datagrams handed over
	// direct, with local, lets a relay write what the SFU hands it to its client
	// itself (direct.go).
	direct *direct
	// quota counts relay sockets against the allocation caps (quota.go).
	quota *quota
}

func (g *relayGenerator) Validate() error {
	if g.relayIP == nil {
		return errors.New("turn: no relay address")
	}
	return nil
}

func (g *relayGenerator) AllocatePacketConn(conf pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if conf.UserID == "" {
		return nil, nil, errNoEvenPort
	}
	if conf.Network != g.network() {
		return nil, nil, errRelayFamily
	}
	q := g.quota
	if q != nil && !q.take(conf.UserID) {
		return nil, nil, errNoRelayRoom
	}
	conn, err := net.ListenPacket(conf.Network, net.JoinHostPort(g.bindIP, strconv.Itoa(conf.RequestedPort)))
	if err != nil {
		if q != nil {
			q.give(conf.UserID, nil)
		}
		return nil, nil, err
	}
	udp, ok := conn.(*net.UDPConn)
	if !ok {
		_ = conn.Close()
		if q != nil {
			q.give(conf.UserID, nil)
		}
		return nil, nil, errors.New("turn: relay socket is not UDP")
	}
	local := udp.LocalAddr().(*net.UDPAddr)
	relayed := &net.UDPAddr{IP: g.relayIP, Port: local.Port}
	rc := &restrictedConn{PacketConn: conn, udp: udp, peers: g.peers, user: conf.UserID, port: uint16(local.Port)}
	if q != nil {
		rc.give = func() { q.give(conf.UserID, rc) }
	}
	if g.local != nil {
		g.handOver(rc, uint16(local.Port))
	}
	if q != nil && !q.hold(conf.UserID, rc) {
		_ = rc.Close() // revoked while the socket was opened
		return nil, nil, errRevoked
	}
	return rc, relayed, nil
}

// network is the network of every relay socket: the bind address's family, which is
// the relay address's unless the operator chose another. An Allocate of the other
// family (pion/turn's udp4 or udp6, by REQUESTED-ADDRESS-FAMILY or the listener's own)
// is refused (errRelayFamily).
//
// Relays are told apart by their port alone: the SFU's hand-over registers a relay at
// each SFU address with its port (handOver), the direct writes' registry and the
// reports' relayOf find it by its port (direct.go, quota.relayAt), and pion/turn names
// it by the relay address, the same for all. Bound on "::" (an IPv6 relay address), a
// udp4 socket of a client over IPv4 could have the port of another member's udp6 relay,
// and the later registration took the earlier one's: what the SFU sent one member went
// to the other's relay and client. Nor did such a socket serve its client: it is
// announced at the relay address, of the other family, so a browser pairs it with the
// SFU's candidates of that family, and pion/turn refuses a permission for a peer of a
// family not the allocation's (443).
func (g *relayGenerator) network() string {
	if a, err := netip.ParseAddr(g.bindIP); err == nil && a.Is6() && !a.Is4In6() {
		return "udp6"
	}
	return "udp4"
}

// handOver has the SFU hand c its datagrams in memory: c's reads take them from its
// inbox, where a goroutine of c's own also puts what arrives on the socket (whatever
// the SFU sends otherwise). The SFU sees the socket at each of its own addresses the
// relay sends from, with c's port: the socket is bound for all addresses, or for
// the one address it is registered at, so nothing else on the machine has that port
// there.
func (g *relayGenerator) handOver(c *restrictedConn, port uint16) {
	c.inbox = make(chan relayedDatagram, relayInbox)
	c.done = make(chan struct{})
	c.bufs = &g.bufs
	c.direct = g.direct
	var bind netip.Addr
	if g.bindIP != "" {
		bind, _ = netip.ParseAddr(g.bindIP)
		bind = bind.Unmap()
	}
	for peer, from := range g.peers {
		if bind.IsValid() && !bind.IsUnspecified() && bind != peer.Addr() {
			continue
		}
		at := netip.AddrPortFrom(peer.Addr(), port)
		c.removes = append(c.removes, g.local(at, func(b []byte) {
			if !c.writeDirect(b, peer) {
				c.push(b, from)
			}
		}))
		if g.uplink != nil {
			c.uplinks = append(c.uplinks, uplink{peer: peer, take: g.uplink(at)})
		}
	}
	if g.direct != nil {
		c.removes = append(c.removes, g.direct.addRelay(port, c))
	}
	go c.readSocket()
}

func (g *relayGenerator) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errNoTCPRelay
}

func (g *relayGenerator) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errNoTCPRelay
}

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
