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
type peers map[netip.AddrPort]bool

func newPeers(list []netip.AddrPort) peers {
	p := make(peers, len(list))
	for _, a := range list {
		p[netip.AddrPortFrom(a.Addr().Unmap(), a.Port())] = true
	}
	return p
}

func (p peers) allows(a net.Addr) bool {
	u, ok := a.(*net.UDPAddr)
	if !ok {
		return false
	}
	ap := u.AddrPort()
	return p[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())]
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
	relayed := &net.UDPAddr{IP: g.relayIP, Port: local.Port}
	return &restrictedConn{PacketConn: conn, peers: g.peers}, relayed, nil
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
	peers peers
}

func (c *restrictedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if !c.peers.allows(addr) {
		return 0, errPeerRefused
	}
	return c.PacketConn.WriteTo(b, addr)
}

func (c *restrictedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || c.peers.allows(addr) {
			return n, addr, err
		}
	}
}
