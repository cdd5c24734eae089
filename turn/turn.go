// Package turn is Conclave's embedded TURN server (RFC 8656, via pion/turn) for
// participants whose network blocks the SFU's media ports. It listens on UDP, TCP and
// TLS (each optional), hands out short-lived REST-API style credentials (creds.go) and
// relays only to the SFU's own media addresses (relay.go): it is no open relay and no
// path into the networks behind it.
package turn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"conclave/connlimit"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
)

// Config says where the TURN server listens and what its relay may reach.
type Config struct {
	// UDPAddr, TCPAddr and TLSAddr are the listen addresses, e.g. ":3478", ":3478" and
	// ":5349"; an empty one is off. At least one is required.
	UDPAddr string
	TCPAddr string
	TLSAddr string
	// TLSConfig carries the certificate for TLSAddr.
	TLSConfig *tls.Config
	// Host is the host name or address put into the turn: URLs handed to browsers (the
	// server's public name or address). Required.
	Host string
	// RelayIP is the address announced for relayed candidates (the public address);
	// relay sockets listen on RelayBind ("" means all interfaces of RelayIP's family).
	RelayIP   netip.Addr
	RelayBind string
	// Peers are the only addresses the relay reaches: the SFU's media sockets.
	Peers []netip.AddrPort
	// TTL is how long handed-out credentials can open new allocations (default
	// DefaultTTL).
	TTL time.Duration
	// MaxAllocations and MaxAllocationsPerCredential cap relay allocations in all and
	// per handed-out credential (defaults DefaultMaxAllocations and
	// DefaultMaxAllocationsPerCredential).
	MaxAllocations              int
	MaxAllocationsPerCredential int
	// MaxTCPConns and MaxTCPConnsPerAddr bound the connections the TCP and TLS
	// listeners hold together, in all and from one address (IPv6: one /64); one beyond
	// is closed as soon as it is accepted (defaults DefaultMaxTCPConns and
	// DefaultMaxTCPConnsPerAddr). Anyone can connect, credentials or not.
	MaxTCPConns, MaxTCPConnsPerAddr int
	// UnauthenticatedAnswersPerAddr and UnauthenticatedAnswers bound the answers the UDP
	// listener gives to requests it has not authenticated (a 401 asking for
	// credentials, a 438, a STUN Binding answer), a second and at once, to one address
	// (IPv6: one /64) and in all; the ones beyond are not sent (answerlimit.go: a forged
	// source would have the server reflect them at a victim). A client address and port
	// that holds a relay has a bucket of its own, at the rate of one address, and an
	// address that holds one, or a member's (ICEServersFor), is not bounded in all; a
	// member's address is bounded larger by one answer a second for each member there,
	// up to the bound in all. Defaults DefaultUnauthenticatedAnswersPerAddr and
	// DefaultUnauthenticatedAnswers.
	UnauthenticatedAnswersPerAddr, UnauthenticatedAnswers int
	// Realm is the TURN realm over TCP and TLS (default "conclave"); over UDP each
	// client address and port has a realm of its own (clientrealm.go).
	Realm string
	// BatchUDP, when set, wraps the UDP listener's socket so that its writes are
	// batched (cmd gives it the SFU's, sfu.BatchUDP): each packet relayed to a client
	// over UDP is a write of its own. nil: every write is its own system call.
	BatchUDP func(*net.UDPConn) (net.PacketConn, error)
	// LocalRelay, when set, registers each relay socket with the SFU on this machine
	// at an address the SFU sees it at (ap), and deliver takes what the SFU sends
	// there in memory instead of on loopback; remove ends that (cmd gives it
	// sfu.Engine.AddLocalRelay). nil: the SFU's packets reach the relay's socket.
	LocalRelay func(ap netip.AddrPort, deliver func(b []byte)) (remove func())
	// RelayUplink, with LocalRelay, takes what a relay socket sends to the SFU from
	// the address ap the SFU sees it at, in memory where take serves it (take reports
	// whether it did; the rest goes on the socket). cmd gives it
	// sfu.Engine.RelayUplink. nil: every datagram to the SFU goes on the socket.
	RelayUplink func(ap netip.AddrPort) (take func(b []byte) bool)
	// Now is the clock credentials are issued and checked against; nil means time.Now.
	Now func() time.Time
	// AfterFunc runs f after d on the same clock (a TCP or TLS connection's wait for
	// its allocation); nil means time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	Logger    *slog.Logger

	// permissionLifetime is pion/turn's lifetime of a permission, for tests (its
	// timers run on the system's clock, not on Now); 0 is its default, 300 s (RFC 8656,
	// section 9).
	permissionLifetime time.Duration
}

// Defaults of the TCP and TLS listeners' bounds: an allocation over TCP holds one
// connection, so twice the allocations in all; from one address (a school behind one
// NAT address) as many as the SFU's ICE-TCP port takes.
const (
	DefaultMaxTCPConns        = 2 * DefaultMaxAllocations
	DefaultMaxTCPConnsPerAddr = 400
)

// DefaultTTL is how long handed-out credentials can open allocations: long enough for
// a browser to gather candidates after its welcome, short enough that a leaked
// credential is useless soon.
const DefaultTTL = 10 * time.Minute

// ICEServer is one entry of an RTCConfiguration's iceServers.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// Server is a running TURN server. Close stops it.
type Server struct {
	creds   credentials
	quota   *quota
	now     func() time.Time
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

// Errors of a Config that cannot work.
var (
	ErrNoListener = errors.New("turn: no listen address (UDP, TCP or TLS)")
	ErrNoHost     = errors.New("turn: no host for the TURN URLs")
	ErrNoRelayIP  = errors.New("turn: no relay address")
	ErrNoPeers    = errors.New("turn: no SFU address to relay to")
	ErrNoTLSCert  = errors.New("turn: TLS listener without a certificate")
)

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
	s := &Server{creds: creds, now: cfg.Now, realms: realms, tcpLimits: connlimit.New(cfg.MaxTCPConns, cfg.MaxTCPConnsPerAddr),
		answers: newAnswerLimits(cfg.UnauthenticatedAnswersPerAddr, cfg.UnauthenticatedAnswers, cfg.Now)}
	tcpStreams := newStreams(cfg.AfterFunc)
	if cfg.LocalRelay != nil {
		s.direct = newDirect(tcpStreams)
	}
	q := newQuota(cfg.MaxAllocations, cfg.MaxAllocationsPerCredential)
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

func (c Config) validate() error {
	switch {
	case c.UDPAddr == "" && c.TCPAddr == "" && c.TLSAddr == "":
		return ErrNoListener
	case c.Host == "":
		return ErrNoHost
	case !c.RelayIP.IsValid() || c.RelayIP.IsUnspecified():
		return ErrNoRelayIP
	case len(c.Peers) == 0:
		return ErrNoPeers
	case c.TLSAddr != "" && (c.TLSConfig == nil || (len(c.TLSConfig.Certificates) == 0 && c.TLSConfig.GetCertificate == nil)):
		return ErrNoTLSCert
	}
	return nil
}

func url(scheme, host string, addr net.Addr, transport string) string {
	_, port, _ := net.SplitHostPort(addr.String())
	return scheme + ":" + net.JoinHostPort(host, port) + "?transport=" + transport
}

// authenticate gives pion/turn the long-term key of a username the server issued and
// did not revoke. Expiry is checked when an allocation is opened; refreshes,
// permissions and channel binds of an allocation made in time go on with the same
// (authentic) credentials, so that a meeting longer than the TTL keeps its relay, until
// the credentials are revoked (Revoke: their member is gone). An allocation belongs to
// the client's address and port, so an old credential cannot take over anybody else's.
//
// The key is the client's realm's (clientrealm.go: over UDP its address and port's own,
// which binds the key to the source; over TCP and TLS the server's): pion/turn hands over
// the REALM the request names and leaves the choice to us, and a key made from it took a
// request in any realm the client liked (RFC 8489, section 9.2.4: the password is the
// one of the username in that realm, and the server has none in another).
func (s *Server) authenticate(ra *pionturn.RequestAttributes) (string, []byte, bool) {
	realm := s.realms.of(ra.SrcAddr)
	if ra.Realm != realm || s.quota.isRevoked(ra.Username) {
		return "", nil, false
	}
	now := s.now()
	if ra.Method != stun.MethodAllocate {
		// Far in the past: only the HMAC matters for an existing allocation.
		now = time.Unix(0, 0)
	}
	password, err := s.creds.check(ra.Username, now)
	if err != nil {
		return "", nil, false
	}
	return ra.Username, pionturn.GenerateAuthKey(ra.Username, realm, password), true
}

// ICEServers returns fresh credentials for every URL the server listens on.
func (s *Server) ICEServers(now time.Time) []ICEServer {
	username, password := s.creds.issue(now)
	return []ICEServer{{URLs: append([]string(nil), s.urls...), Username: username, Credential: password}}
}

// ICEServersFor is ICEServers for a member whose connection to the server comes from
// client (the websocket's address, as signaling sees it; invalid: unknown): until the
// credentials are revoked (Revoke: the member is gone), the UDP listener's
// unauthenticated answers to client's address (IPv6: its /64) are bounded by its own
// bucket only, not by the one in all that forged sources spread over many victims
// spend, so that the 401s of its first relays arrive in such a flood, and that bucket
// is larger by a member, for the STUN keepalives of its browser (answerLimits,
// memberJoined). A browser's relays and keepalives over UDP mostly come from that
// address: behind a NAT the same public address as its websocket, unless one goes over
// IPv4 and the other over IPv6, or a proxy in front hides the address (then the
// proxy's is counted, which is of no use and no harm).
func (s *Server) ICEServersFor(now time.Time, client netip.Addr) []ICEServer {
	servers := s.ICEServers(now)
	s.answers.memberJoined(servers[0].Username, client.WithZone("").Unmap())
	return servers
}

// Revoke ends the credentials of username, handed out by ICEServers: their relays end
// now, and nothing they ask for is granted any more (no new relay, no refresh,
// permission or channel); the address they were handed to (ICEServersFor) counts a
// member less. Signaling calls it when the member they were handed to is gone: left,
// removed, sent back to the waiting room, or the meeting ended, and for credentials
// it made but could not hand over. A username the server did not make is ignored.
//
// When it returns, the relays relay nothing more either way, the SFU hands them
// nothing and their places in the allocation caps are free; their sockets are closed a
// moment later on a goroutine of their own (socketClosers), which Close waits for: a
// close waits for the socket's reader, and Revoke is called under a meeting's lock.
// pion/turn deletes their allocations once its reader sees them shut (or, without the
// SFU's hand-over, their sockets closed).
func (s *Server) Revoke(username string) {
	s.answers.memberLeft(username)
	expiry, err := parseUsername(username)
	if err != nil {
		return
	}
	relays := s.quota.revoke(username, time.Unix(expiry, 0), s.now())
	for _, c := range relays {
		c.shut()
	}
	s.closers.close(relays)
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
