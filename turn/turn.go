// Package turn is Conclave's embedded TURN server (RFC 8656, via pion/turn) for
// participants whose network blocks the SFU's media ports. It listens on UDP, TCP and
// TLS (each optional), hands out short-lived REST-API style credentials (creds.go) and
// relays only to the SFU's own media addresses (relay.go): it is no open relay and no
// path into the networks behind it.
package turn

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"conclave/connlimit"

	pionturn "github.com/pion/turn/v5"
)

// ICEServer is one entry of an RTCConfiguration's iceServers.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// Server is a running TURN server. Close stops it.
type Server struct {
	creds credentials
	quota *quota
	// clock issues, checks and forgets credentials (credclock.go): Config.Now, never
	// going back.
	clock   *credClock
	urls    []string
	srv     *pionturn.Server
	udpConn net.PacketConn
	tcpLn   net.Listener
	tlsLn   net.Listener
	// direct lets relays write to their clients themselves (with Config.LocalRelay).
	direct *direct
	// tcpLimits bounds what tcpLn and tlsLn hold together.
	tcpLimits *connlimit.Limits
	// answers bounds the UDP listener's answers to requests not authenticated.
	answers *answerLimits
	// realms are the realms of the clients (clientrealm.go).
	realms clientRealms
	// closers closes the sockets of revoked relays (Revoke).
	closers socketClosers
	// streams are the TCP and TLS listeners' connections.
	streams *streams
}

// DirectWrites is the number of packets from the SFU the relays wrote to their
// clients themselves (direct.go), 0 without Config.LocalRelay.
func (s *Server) DirectWrites() uint64 {
	if s.direct == nil {
		return 0
	}
	return s.direct.writes()
}

// UplinkServed is the number of ChannelData messages and of Send indications from
// clients to the SFU that the listeners (UDP, and TCP and TLS) relayed before pion/turn
// read them; what pion/turn relays itself is counted nowhere. A relayed Firefox binds
// no channel: its media are Send indications.
func (s *Server) UplinkServed() (channelData, sends uint64) {
	if s.direct == nil {
		return 0, 0
	}
	udp, streams := &s.direct.uplink.counts, &s.direct.streams.counts
	return udp.channelData.Load() + streams.channelData.Load(), udp.sends.Load() + streams.sends.Load()
}

// UnauthenticatedAnswersDropped is the number of answers to requests over UDP that were
// not authenticated (401s mostly) left unsent by the bounds on them.
func (s *Server) UnauthenticatedAnswersDropped() uint64 { return s.answers.dropped.Load() }

// TCPRefused is the number of TCP and TLS connections closed at accept by the bounds.
func (s *Server) TCPRefused() uint64 { return s.tcpLimits.Refused() }

// TCPAcceptFailed is the number of accepts on the TCP and TLS listeners that failed for
// want of descriptors or memory and were tried again after a wait.
func (s *Server) TCPAcceptFailed() uint64 { return s.tcpLimits.AcceptFailed() }

// New opens the listeners and starts serving.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.MaxAllocations <= 0 {
		cfg.MaxAllocations = DefaultMaxAllocations
	}
	if cfg.MaxAllocationsPerCredential <= 0 {
		cfg.MaxAllocationsPerCredential = DefaultMaxAllocationsPerCredential
	}
	if cfg.MaxTCPConns <= 0 {
		cfg.MaxTCPConns = DefaultMaxTCPConns
	}
	if cfg.MaxTCPConnsPerAddr <= 0 {
		cfg.MaxTCPConnsPerAddr = DefaultMaxTCPConnsPerAddr
	}
	if cfg.UnauthenticatedAnswersPerAddr <= 0 {
		cfg.UnauthenticatedAnswersPerAddr = DefaultUnauthenticatedAnswersPerAddr
	}
	if cfg.UnauthenticatedAnswers <= 0 {
		cfg.UnauthenticatedAnswers = DefaultUnauthenticatedAnswers
	}
	if cfg.Realm == "" {
		cfg.Realm = "conclave"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AfterFunc == nil {
		cfg.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RelayBind == "" {
		cfg.RelayBind = "0.0.0.0"
		if cfg.RelayIP.Is6() && !cfg.RelayIP.Is4In6() {
			cfg.RelayBind = "::"
		}
	}
	creds, err := newCredentials(cfg.TTL)
	if err != nil {
		return nil, err
	}
	realms, err := newClientRealms(cfg.Realm)
	if err != nil {
		return nil, err
	}
	s := &Server{creds: creds, clock: newCredClock(cfg.Now), realms: realms, tcpLimits: connlimit.New(cfg.MaxTCPConns, cfg.MaxTCPConnsPerAddr),
		answers: newAnswerLimits(cfg.UnauthenticatedAnswersPerAddr, cfg.UnauthenticatedAnswers, cfg.Now)}
	tcpStreams := newStreams(cfg.AfterFunc)
	if cfg.LocalRelay != nil {
		s.direct = newDirect(tcpStreams)
	}
	q := newQuota(cfg.MaxAllocations, cfg.MaxAllocationsPerCredential)
	q.revokedHold, q.afterFunc = cfg.TTL+revokedMargin, cfg.AfterFunc
	s.quota = q
	gen := func() *relayGenerator {
		return &relayGenerator{relayIP: net.IP(cfg.RelayIP.Unmap().AsSlice()), bindIP: cfg.RelayBind, peers: newPeers(cfg.Peers),
			local: cfg.LocalRelay, uplink: cfg.RelayUplink, direct: s.direct, quota: q}
	}
	p := newPeers(cfg.Peers)
	var sc pionturn.ServerConfig
	if cfg.UDPAddr != "" {
		var batched bool
		if s.udpConn, batched, err = listenUDP(cfg.UDPAddr, cfg.BatchUDP); err != nil {
			return nil, err
		}
		read := s.udpConn
		if w, ok := s.udpConn.(addrPortWriter); ok && batched && s.direct != nil {
			s.direct.udp = w
			if r, ok := s.udpConn.(addrPortReader); ok {
				read = udpUplink{PacketConn: s.udpConn, r: r, channels: &s.direct.uplink}
			}
		}
		sc.PacketConnConfigs = append(sc.PacketConnConfigs, pionturn.PacketConnConfig{
			PacketConn: answerLimitedConn{PacketConn: read, limits: s.answers, realms: realms}, RelayAddressGenerator: gen(), PermissionHandler: p.permits})
		s.urls = append(s.urls, url("turn", cfg.Host, s.udpConn.LocalAddr(), "udp"))
	}
	if cfg.TCPAddr != "" {
		if s.tcpLn, err = net.Listen("tcp", cfg.TCPAddr); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("turn: listen TCP %s: %w", cfg.TCPAddr, err)
		}
		s.tcpLn = queuedListener{Listener: s.tcpLimits.Listener(s.tcpLn), streams: tcpStreams, uplink: s.direct != nil}
		sc.ListenerConfigs = append(sc.ListenerConfigs, pionturn.ListenerConfig{
			Listener: s.tcpLn, RelayAddressGenerator: gen(), PermissionHandler: p.permits})
		s.urls = append(s.urls, url("turn", cfg.Host, s.tcpLn.Addr(), "tcp"))
	}
	if cfg.TLSAddr != "" {
		ln, err := net.Listen("tcp", cfg.TLSAddr)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("turn: listen TLS %s: %w", cfg.TLSAddr, err)
		}
		below := queuedListener{Listener: s.tcpLimits.Listener(ln), streams: tcpStreams, overTLS: true}
		s.tlsLn = tlsListener{Listener: tls.NewListener(below, cfg.TLSConfig), streams: tcpStreams, uplink: s.direct != nil}
		sc.ListenerConfigs = append(sc.ListenerConfigs, pionturn.ListenerConfig{
			Listener: s.tlsLn, RelayAddressGenerator: gen(), PermissionHandler: p.permits})
		s.urls = append(s.urls, url("turns", cfg.Host, ln.Addr(), "tcp"))
	}
	sc.Realm = cfg.Realm
	// An Allocate that names no address family (browsers name none) gets a relay of
	// the relay address's family, the only one offered (relayGenerator.network): with
	// an IPv4 relay address, RFC 8656's default, IPv4, also for a client that reached
	// the listener over IPv6 (a dual-stack listener, a -turn-host with an AAAA record),
	// where pion/turn's own default, the listener's or the client's family, asked such
	// a client's relay in IPv6 and had it refused. pion/turn has no IPv6 default; with
	// an IPv6 relay address its own default serves the clients over IPv6.
	sc.StrictAddressFamily = cfg.RelayIP.Unmap().Is4()
	sc.PermissionTimeout = cfg.permissionLifetime
	sc.LoggerFactory = pionLoggerFactory{log: cfg.Logger}
	sc.AuthHandler = s.authenticate
	sc.QuotaHandler = q.allows
	s.streams = tcpStreams
	sc.EventHandler = pionturn.EventHandler{OnAllocationCreated: s.allocationCreated, OnAllocationDeleted: s.allocationDeleted}
	if d := s.direct; d != nil {
		sc.EventHandler.OnChannelCreated, sc.EventHandler.OnChannelDeleted = d.channelCreated, d.channelDeleted
		sc.EventHandler.OnPermissionCreated, sc.EventHandler.OnPermissionDeleted = d.permissionCreated, d.permissionDeleted
	}
	if s.srv, err = pionturn.NewServer(sc); err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("turn: %w", err)
	}
	return s, nil
}

// allocationCreated and allocationDeleted follow pion/turn's reports of its
// allocations (src and dst are an allocation's five-tuple, relayAddr its relay's
// address). A TCP or TLS connection counts its allocations by their relays, found here
// by user and port: a deletion names no relay, and may be reported after the client's
// next connection from the same address and port took the same five-tuple
// (streams.allocationCreated).
func (s *Server) allocationCreated(src, dst net.Addr, _, user, _ string, relayAddr net.Addr, _ int) {
	if r, ok := relayAddr.(*net.UDPAddr); ok {
		relay := s.quota.relayAt(user, r.Port)
		if key, ok := fiveTupleOf(src, dst); ok && relay != nil {
			relay.client.CompareAndSwap(nil, &key) // the first report: its own
		}
		s.streams.allocationCreated(src, dst, relay)
	}
	s.answers.allocationCreated(src)
}

func (s *Server) allocationDeleted(src, _ net.Addr, _, _, _ string) {
	s.answers.allocationDeleted(src)
}

// listenUDP opens the UDP listener's socket, batched by batch when it is set and can
// (the batching saves system calls; without it the socket works the same).
// It reports whether the socket is batched.
func listenUDP(addr string, batch func(*net.UDPConn) (net.PacketConn, error)) (net.PacketConn, bool, error) {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, false, fmt.Errorf("turn: listen UDP %s: %w", addr, err)
	}
	if uc, ok := c.(*net.UDPConn); ok && batch != nil {
		if b, err := batch(uc); err == nil {
			return b, true, nil
		}
	}
	return c, false, nil
}

func url(scheme, host string, addr net.Addr, transport string) string {
	_, port, _ := net.SplitHostPort(addr.String())
	return scheme + ":" + net.JoinHostPort(host, port) + "?transport=" + transport
}

// URLs lists the turn: and turns: URLs of the listeners.
func (s *Server) URLs() []string { return append([]string(nil), s.urls...) }

// AllocationCount is the number of live allocations.
func (s *Server) AllocationCount() int { return s.srv.AllocationCount() }

// Close stops the server and closes its listeners and allocations, and waits for the
// sockets of revoked relays to be closed.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.closers.wait()
	return err
}

func (s *Server) closeListeners() {
	// A nil listener converts to a nil interface here, so the check below suffices.
	for _, c := range []interface{ Close() error }{s.udpConn, s.tcpLn, s.tlsLn} {
		if c != nil {
			_ = c.Close()
		}
	}
}
