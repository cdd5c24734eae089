package turn

import (
	"errors"
	"net"
	"net/netip"
	"strconv"

	pionturn "github.com/pion/turn/v5"
)

// errPeerRefused answers a relay write to an address that is not the SFU.
var errPeerRefused = errors.New("turn: peer is not the SFU")

// errNoTCPRelay refuses TCP allocations (RFC 6062): media reaches the SFU over UDP.
var errNoTCPRelay = errors.New("turn: TCP relay allocations are not offered")

// peers is the closed set of addresses the relay may reach: the SFU's media sockets.
// Each maps to the address a relay socket's read returns for a datagram from it, made
// once: a read that made its own (net.UDPConn.ReadFrom) allocated twice a packet.
type peers map[netip.AddrPort]*net.UDPAddr

func newPeers(list []netip.AddrPort) peers {
	p := make(peers, len(list))
	for _, a := range list {
		a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
		p[a] = net.UDPAddrFromAddrPort(a)
	}
	return p
}

func (p peers) allows(a net.Addr) bool {
	u, ok := a.(*net.UDPAddr)
	if !ok {
		return false
	}
	ap := u.AddrPort()
	return p[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())] != nil
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
}

func (g *relayGenerator) Validate() error {
	if g.relayIP == nil {
		return errors.New("turn: no relay address")
	}
	return nil
}

func (g *relayGenerator) AllocatePacketConn(conf pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	conn, err := net.ListenPacket(conf.Network, net.JoinHostPort(g.bindIP, strconv.Itoa(conf.RequestedPort)))
	if err != nil {
		return nil, nil, err
	}
	local, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok {
		_ = conn.Close()
		return nil, nil, errors.New("turn: relay socket is not UDP")
	}
	udp, ok := conn.(*net.UDPConn)
	if !ok {
		_ = conn.Close()
		return nil, nil, errors.New("turn: relay socket is not UDP")
	}
	relayed := &net.UDPAddr{IP: g.relayIP, Port: local.Port}
	return &restrictedConn{PacketConn: conn, udp: udp, peers: g.peers}, relayed, nil
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
}

func (c *restrictedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if !c.peers.allows(addr) {
		return 0, errPeerRefused
	}
	return c.PacketConn.WriteTo(b, addr)
}

// ReadFrom returns the next datagram from a peer, with the peer's address from peers
// (the relay only reads the address, pion/turn's allocation compares it).
func (c *restrictedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, ap, err := c.udp.ReadFromUDPAddrPort(b)
		if err != nil {
			return n, nil, err
		}
		if peer := c.peers[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())]; peer != nil {
			return n, peer, nil
		}
	}
}
