package turn

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"time"
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
	// relay sockets listen on RelayBind ("" means all interfaces of RelayIP's family),
	// an IP address of RelayIP's family (ErrRelayBind): relays are of that family.
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
	// listeners hold together, in all and from one address (IPv6: one /64, and 16 times
	// that from the /64s of one /48, connlimit); one beyond is closed as soon as it is
	// accepted (defaults DefaultMaxTCPConns and
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
	// Now is the wall clock credentials are issued and checked against, each step it
	// makes back taken out (credclock.go); nil means time.Now.
	Now func() time.Time
	// AfterFunc runs f after d on the same clock (a TCP or TLS connection's wait for
	// its allocation, a TLS handshake's bound); nil means time.AfterFunc.
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

// Errors of a Config that cannot work.
var (
	ErrNoListener = errors.New("turn: no listen address (UDP, TCP or TLS)")
	ErrNoHost     = errors.New("turn: no host for the TURN URLs")
	ErrNoRelayIP  = errors.New("turn: no relay address")
	ErrNoPeers    = errors.New("turn: no SFU address to relay to")
	ErrNoTLSCert  = errors.New("turn: TLS listener without a certificate")
	// ErrRelayBind: RelayBind is not an IP address of RelayIP's family. Relay sockets
	// are of the bind address's family (an Allocate of the other is refused), and one
	// of the other family than the address it is announced at relays nothing.
	ErrRelayBind = errors.New("turn: relay bind address is not an IP address of the relay address's family")
)

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
	case c.RelayBind != "" && !sameFamily(c.RelayBind, c.RelayIP):
		return ErrRelayBind
	case c.TLSAddr != "" && (c.TLSConfig == nil || (len(c.TLSConfig.Certificates) == 0 && c.TLSConfig.GetCertificate == nil)):
		return ErrNoTLSCert
	}
	return nil
}

// sameFamily reports whether bind is an IP address of ip's family, IPv4-mapped IPv6
// addresses being IPv4 (as relayGenerator.network has them).
func sameFamily(bind string, ip netip.Addr) bool {
	a, err := netip.ParseAddr(bind)
	return err == nil && a.Unmap().Is4() == ip.Unmap().Is4()
}
