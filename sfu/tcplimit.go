package sfu

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// The ICE-TCP port is open to anyone, with a meeting link or without, and every
// connection on it costs the server a goroutine and a read buffer for as long as it is
// held (tcpCheckWait before its first passed check, tcpIdle between frames after). So
// the connections are bounded as the websockets are: so many on the server and so many
// from one address (an IPv4 address, or an IPv6 /64: one customer's network); beyond
// either bound a new connection is closed as soon as it is accepted. A browser that
// cannot use UDP holds two (its publish and its subscribe connection, briefly more
// across an ICE restart), so the defaults are twice the websockets'.
const (
	// DefaultMaxTCPConns bounds the ICE-TCP connections held at once.
	DefaultMaxTCPConns = 20_000
	// DefaultMaxTCPConnsPerAddr bounds those from one address: a school's or an
	// office's network behind one address must still fit a few classes.
	DefaultMaxTCPConnsPerAddr = 400
)

// tcpLimits counts the ICE-TCP connections held, in all and by address group.
type tcpLimits struct {
	max, maxPerAddr int
	refused         atomic.Uint64 // connections closed at accept (Stats.ICETCPRefused)

	mu      sync.Mutex
	total   int
	perAddr map[netip.Prefix]int
}

func newTCPLimits(max, maxPerAddr int) *tcpLimits {
	if max <= 0 {
		max = DefaultMaxTCPConns
	}
	if maxPerAddr <= 0 {
		maxPerAddr = DefaultMaxTCPConnsPerAddr
	}
	return &tcpLimits{max: max, maxPerAddr: maxPerAddr, perAddr: map[netip.Prefix]int{}}
}

// take counts a connection from group, or reports false when a bound is reached.
func (l *tcpLimits) take(group netip.Prefix) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.max || l.perAddr[group] >= l.maxPerAddr {
		return false
	}
	l.total++
	l.perAddr[group]++
	return true
}

// give uncounts a connection from group.
func (l *tcpLimits) give(group netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if n := l.perAddr[group] - 1; n > 0 {
		l.perAddr[group] = n
	} else {
		delete(l.perAddr, group) // the map holds only the addresses connected now
	}
}

// addrGroup is the unit of the per-address bound: the address itself for IPv4, its
// /64 for IPv6. An address that cannot be read shares one group with its kind.
func addrGroup(a net.Addr) netip.Prefix {
	var ip netip.Addr
	if ta, ok := a.(*net.TCPAddr); ok {
		ip = ta.AddrPort().Addr()
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip = ap.Addr()
	}
	ip = ip.WithZone("").Unmap()
	bits := 32
	if !ip.Is4() {
		bits = 64
	}
	p, _ := ip.Prefix(bits) // the zero prefix for an invalid address
	return p
}

// limitedListener accepts only what the limits allow; the connections it returns give
// their count back when they are closed.
type limitedListener struct {
	net.Listener
	limits *tcpLimits
}

func (ln *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		group := addrGroup(c.RemoteAddr())
		if !ln.limits.take(group) {
			ln.limits.refused.Add(1)
			_ = c.Close()
			continue
		}
		return &limitedConn{Conn: c, limits: ln.limits, group: group}, nil
	}
}

// limitedConn is a counted connection: its first Close gives the count back.
type limitedConn struct {
	net.Conn
	limits *tcpLimits
	group  netip.Prefix
	once   sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.limits.give(c.group) })
	return err
}

// tcpRefused is Stats.ICETCPRefused: 0 without ICE-TCP.
func (e *Engine) tcpRefused() uint64 {
	if e.tcpLimits == nil {
		return 0
	}
	return e.tcpLimits.refused.Load()
}
