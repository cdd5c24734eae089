// Package shapedturn is a test-only TURN server (pion/turn) whose relay puts what the
// peer sends to the client through a bottleneck (link.go): a browser made to use it
// relay-only (iceTransportPolicy "relay") receives media as if behind a slow line,
// while its uplink and every other participant stay unshaped. This is TESTING.md's
// recommended way to constrain one browser's downlink: no root, Chromium and Firefox,
// and the server under test unchanged. Each allocation (one per peer connection and
// component) gets its own bottleneck; give the TURN server to one subscriber only.
package shapedturn

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v5"
)

// Config says where the server listens, which peers the relay may reach, and the shape.
type Config struct {
	// Peers are the only addresses the relay sends to (the SFU's media socket).
	Peers []netip.AddrPort
	Shape Shape
	// Clock drives the bottleneck; nil means the real clock.
	Clock Clock
}

// Server is a running shaped TURN server on 127.0.0.1 (UDP only).
type Server struct {
	srv      *pionturn.Server
	url      string
	username string
	password string

	mu    sync.Mutex
	conns []*shapedConn
}

const realm = "conclave-test"

// New starts the server.
func New(cfg Config) (*Server, error) {
	if err := cfg.Shape.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Peers) == 0 {
		return nil, errors.New("shapedturn: no peer to relay to")
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	secret := make([]byte, 12)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	s := &Server{username: "shaped", password: hex.EncodeToString(secret)}
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.url = "turn:" + udp.LocalAddr().String() + "?transport=udp"
	peers := map[netip.AddrPort]bool{}
	for _, p := range cfg.Peers {
		peers[netip.AddrPortFrom(p.Addr().Unmap(), p.Port())] = true
	}
	key := pionturn.GenerateAuthKey(s.username, realm, s.password)
	logs := logging.NewDefaultLoggerFactory()
	logs.DefaultLogLevel = logging.LogLevelDisabled
	s.srv, err = pionturn.NewServer(pionturn.ServerConfig{
		Realm:         realm,
		LoggerFactory: logs,
		AuthHandler: func(ra *pionturn.RequestAttributes) (string, []byte, bool) {
			return ra.Username, key, ra.Username == s.username
		},
		PacketConnConfigs: []pionturn.PacketConnConfig{{
			PacketConn:            udp,
			RelayAddressGenerator: &generator{server: s, peers: peers, shape: cfg.Shape, clock: cfg.Clock},
		}},
	})
	if err != nil {
		_ = udp.Close()
		return nil, fmt.Errorf("shapedturn: %w", err)
	}
	return s, nil
}

// URL is the turn: URL (UDP on 127.0.0.1); Username and Password its credentials.
func (s *Server) URL() string      { return s.url }
func (s *Server) Username() string { return s.username }
func (s *Server) Password() string { return s.password }

// Counts sums what every relay socket so far passed, dropped and holds.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	conns := append([]*shapedConn(nil), s.conns...)
	s.mu.Unlock()
	var out Counts
	for _, c := range conns {
		n := c.stats()
		out.PassedBytes += n.PassedBytes
		out.PassedPackets += n.PassedPackets
		out.DroppedBytes += n.DroppedBytes
		out.DroppedPackets += n.DroppedPackets
		out.QueuedBytes += n.QueuedBytes
	}
	return out
}

// Close stops the server and its allocations.
func (s *Server) Close() error { return s.srv.Close() }

// generator opens one shaped relay socket per allocation, sending only to peers.
type generator struct {
	server *Server
	peers  map[netip.AddrPort]bool
	shape  Shape
	clock  Clock
}

func (g *generator) Validate() error { return nil }

func (g *generator) AllocatePacketConn(conf pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	conn, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(conf.RequestedPort)))
	if err != nil {
		return nil, nil, err
	}
	shaped := newShapedConn(&peerOnly{PacketConn: conn, peers: g.peers}, g.shape, g.clock)
	g.server.mu.Lock()
	g.server.conns = append(g.server.conns, shaped)
	g.server.mu.Unlock()
	return shaped, conn.LocalAddr(), nil
}

func (g *generator) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errors.New("shapedturn: no TCP relay")
}

func (g *generator) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errors.New("shapedturn: no TCP relay")
}

// peerOnly keeps the test relay from reaching or hearing anything but the peers.
type peerOnly struct {
	net.PacketConn
	peers map[netip.AddrPort]bool
}

func (c *peerOnly) allows(a net.Addr) bool {
	u, ok := a.(*net.UDPAddr)
	if !ok {
		return false
	}
	ap := u.AddrPort()
	return c.peers[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())]
}

func (c *peerOnly) WriteTo(b []byte, addr net.Addr) (int, error) {
	if !c.allows(addr) {
		return 0, errors.New("shapedturn: not a peer")
	}
	return c.PacketConn.WriteTo(b, addr)
}

func (c *peerOnly) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || c.allows(addr) {
			return n, addr, err
		}
	}
}
