// Package connlimit bounds the connections a listener holds: so many in all and so many
// from one address (addrgroup: an IPv4 address, or an IPv6 /64, one customer's
// network), and addrgroup.SiteFactor times that from one IPv6 /48 (addrgroup.Site):
// with the bound from one address alone, one customer's /48 (a tunnel broker hands
// them out for free) counted as 65,536 addresses and could hold every connection the
// bound in all allows. Beyond any bound a new connection is closed as soon as it is
// accepted.
// The TCP ports that anyone can reach (the web port, ICE-TCP, TURN over TCP and TLS)
// use it, since every connection they hold costs a goroutine, buffers and a file
// descriptor.
package connlimit

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"conclave/addrgroup"
)

// Limits counts the connections held, in all and by address group. Its listeners
// (Listener) share the counts.
type Limits struct {
	max, maxPerAddr int
	refused         atomic.Uint64
	acceptFailed    atomic.Uint64

	// afterFunc runs f after d (time.AfterFunc's; tests set a fake clock's) and
	// returns what stops it: the waits after an accept that failed for want of
	// resources.
	afterFunc func(d time.Duration, f func()) (stop func() bool)

	// exempt are the addresses bounded only by the bound in all (ExemptFromPerAddr);
	// set before the first Accept, read-only after.
	exempt []netip.Prefix

	mu      sync.Mutex
	total   int
	perAddr map[netip.Prefix]int
	perSite map[netip.Prefix]int // IPv6 /48s
}

// New returns limits of max connections in all and maxPerAddr from one address; both
// must be positive.
func New(max, maxPerAddr int) *Limits {
	return &Limits{max: max, maxPerAddr: maxPerAddr, perAddr: map[netip.Prefix]int{}, perSite: map[netip.Prefix]int{}}
}

// ExemptFromPerAddr bounds connections from addresses within prefixes by the bound in
// all only: the trusted reverse proxies, through which every client of a server behind
// them comes. Everyone else keeps the bound from one address. It must be called before
// the limits' listeners accept.
func (l *Limits) ExemptFromPerAddr(prefixes []netip.Prefix) {
	l.exempt = prefixes
}

// exempted reports whether a is within an exempt prefix.
func (l *Limits) exempted(a net.Addr) bool {
	if len(l.exempt) == 0 {
		return false
	}
	ip := addrOf(a)
	for _, p := range l.exempt {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Refused is the number of connections closed at accept.
func (l *Limits) Refused() uint64 { return l.refused.Load() }

// AcceptFailed is the number of accepts that failed for want of resources (no file
// descriptor left, no memory) and were tried again after a wait.
func (l *Limits) AcceptFailed() uint64 { return l.acceptFailed.Load() }

// Held is the number of connections held now, in all and from how many address groups.
func (l *Limits) Held() (conns, groups int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, len(l.perAddr)
}

// take counts a connection from group, or reports false when a bound is reached. An
// exempt group has the bound in all only, and is not counted in its site, which it
// would otherwise fill for the site's other addresses; site is the /48 the connection
// is counted in, the zero Prefix for none.
func (l *Limits) take(group netip.Prefix, exempt bool) (site netip.Prefix, ok bool) {
	site, inSite := addrgroup.Site(group.Addr())
	if exempt || !inSite {
		site = netip.Prefix{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.max {
		return site, false
	}
	if !exempt && (l.perAddr[group] >= l.maxPerAddr || (site.IsValid() && l.perSite[site] >= addrgroup.SiteFactor*l.maxPerAddr)) {
		return site, false
	}
	l.total++
	l.perAddr[group]++
	if site.IsValid() {
		l.perSite[site]++
	}
	return site, true
}

// give uncounts a connection from group, counted in site (take's).
func (l *Limits) give(group, site netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	decrement(l.perAddr, group) // the maps hold only the addresses connected now
	if site.IsValid() {
		decrement(l.perSite, site)
	}
}

// decrement takes one from m[k], deleting it at 0.
func decrement(m map[netip.Prefix]int, k netip.Prefix) {
	if n := m[k] - 1; n > 0 {
		m[k] = n
	} else {
		delete(m, k)
	}
}

// Take counts one of what a connection can carry several of at once (HTTP/2's
// requests) from a's address group, as Accept counts a connection, and returns what
// gives it back (once, however often called); false when a bound is reached, which
// Refused counts.
func (l *Limits) Take(a net.Addr) (give func(), ok bool) {
	group := Group(a)
	site, ok := l.take(group, l.exempted(a))
	if !ok {
		l.refused.Add(1)
		return nil, false
	}
	var once sync.Once
	return func() { once.Do(func() { l.give(group, site) }) }, true
}

// Group is the unit of the per-address bound (addrgroup.Of): the address itself for
// IPv4 (mapped into IPv6, or through a translator's 64:ff9b::/96, or not), its /64 for
// IPv6. Addresses that cannot be read share one group.
func Group(a net.Addr) netip.Prefix {
	return addrgroup.Of(addrOf(a))
}

// addrOf is a's IP address without zone, IPv4 unmapped; the zero Addr if unreadable.
func addrOf(a net.Addr) netip.Addr {
	var ip netip.Addr
	if ta, ok := a.(*net.TCPAddr); ok {
		ip = ta.AddrPort().Addr()
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip = ap.Addr()
	}
	return ip.WithZone("").Unmap()
}

// Listener returns ln bounded by l: its Accept closes what the bounds refuse and goes
// on accepting; the connections it returns give their count back when first closed.
//
// An accept that fails for want of resources (the process's or the system's file
// descriptors, kernel memory) is tried again after a wait that doubles from 5 ms to
// 1 s, as net/http's server does: returned, the error would end the accept loop of
// pion/turn and of ICE-TCP for good, and whoever had exhausted the descriptors for a
// moment would have closed those ports for everybody until a restart.
func (l *Limits) Listener(ln net.Listener) net.Listener {
	return &listener{Listener: ln, limits: l, closed: make(chan struct{})}
}

type listener struct {
	net.Listener
	limits    *Limits
	closed    chan struct{}
	closeOnce sync.Once
}

const (
	firstAcceptWait = 5 * time.Millisecond
	maxAcceptWait   = time.Second
)

func (ln *listener) Accept() (net.Conn, error) {
	var wait time.Duration
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			if !outOfResources(err) {
				return nil, err
			}
			ln.limits.acceptFailed.Add(1)
			wait = min(max(2*wait, firstAcceptWait), maxAcceptWait)
			if !ln.pause(wait) {
				return nil, net.ErrClosed
			}
			continue
		}
		wait = 0
		group := Group(c.RemoteAddr())
		site, ok := ln.limits.take(group, ln.limits.exempted(c.RemoteAddr()))
		if !ok {
			ln.limits.refused.Add(1)
			_ = c.Close()
			continue
		}
		return &conn{Conn: c, limits: ln.limits, group: group, site: site}, nil
	}
}

// Close closes the listener and ends an Accept waiting to try again.
func (ln *listener) Close() error {
	ln.closeOnce.Do(func() { close(ln.closed) })
	return ln.Listener.Close()
}

// pause waits d, and reports false if the listener was closed first.
func (ln *listener) pause(d time.Duration) bool {
	after := ln.limits.afterFunc
	if after == nil {
		after = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	done := make(chan struct{})
	stop := after(d, func() { close(done) })
	select {
	case <-done:
		return true
	case <-ln.closed:
		stop()
		return false
	}
}

// outOfResources reports whether an accept failed for want of something that comes
// back: file descriptors (the process's, the system's) or kernel memory.
func outOfResources(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// conn is a counted connection.
type conn struct {
	net.Conn
	limits      *Limits
	group, site netip.Prefix
	once        sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.limits.give(c.group, c.site) })
	return err
}

// SyscallConn is the socket's, so that what reads and writes the connection can make
// its calls raw (rawstream); closing stays the counted connection's.
func (c *conn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}
