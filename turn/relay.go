package turn

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"

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
// the relay address's (New refuses another: ErrRelayBind). An Allocate of the other
// family (pion/turn's udp4 or udp6, by REQUESTED-ADDRESS-FAMILY or the listener's own)
// is refused (errRelayFamily).
//
// Relays are told apart by their port alone: the SFU's hand-over registers a relay at
// each SFU address with its port (handOver), the direct writes' registry and the
// reports' relayOf find it by its port (direct.go, directevents.go, quota.relayAt), and
// pion/turn names it by the relay address, the same for all. Bound on "::" (an IPv6
// relay address), a udp4 socket of a client over IPv4 could have the port of another
// member's udp6 relay, and the later registration took the earlier one's: what the SFU
// sent one member went to the other's relay and client. Nor did such a socket serve its
// client: it is announced at the relay address, of the other family, so a browser pairs
// it with the SFU's candidates of that family, and pion/turn refuses a permission for a
// peer of a family not the allocation's (443).
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
// there. Only at the addresses of the socket's family (network): a socket of the
// other family holds no port at them (an IPv6 socket on "::" is bound for IPv6 only),
// so another program's socket may have c's port there, and what the SFU sends it
// would go to c, which cannot send there either (pion/turn permits no peer of the
// other family).
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
	overIPv6 := g.network() == "udp6"
	for peer, from := range g.peers {
		if peer.Addr().Is6() != overIPv6 || bind.IsValid() && !bind.IsUnspecified() && bind != peer.Addr() {
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
