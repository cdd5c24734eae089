package sfu

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"conclave/internal/fakeclock"
)

// dialFrom connects to addr from the loopback address from (127.0.0.x: Linux routes
// the whole 127/8 to the loopback interface, so each is an address of its own).
func dialFrom(t *testing.T, from string, addr net.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: mediaWait}
	c, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// closedByPeer reports whether c's peer closed it (end of stream or reset) before
// anything came; a deadline passing first is a test failure, not an answer.
func closedByPeer(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(mediaWait))
	var b [1]byte
	_, err := c.Read(b[:])
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%v: neither closed nor answered within %v", c.LocalAddr(), mediaWait)
	}
	return err != nil
}

// TestTCPLimitsBoundTheListener: the listener hands out at most two connections from
// one address and three in all; one beyond is closed at once (its dialer reads the
// end of the stream) and counted; a closed connection makes room, once however often
// it is closed.
func TestTCPLimitsBoundTheListener(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limits := newTCPLimits(3, 2)
	ln := &limitedListener{Listener: raw, limits: limits}
	t.Cleanup(func() { _ = ln.Close() })
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	accept := func(what string) net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			t.Cleanup(func() { _ = c.Close() })
			return c
		case <-time.After(mediaWait):
			t.Fatalf("%s not accepted", what)
			return nil
		}
	}
	refused := func(c net.Conn, what string, n uint64) {
		t.Helper()
		if !closedByPeer(t, c) {
			t.Fatalf("%s answered", what)
		}
		if got := limits.refused.Load(); got != n {
			t.Fatalf("after %s: %d refused, want %d", what, got, n)
		}
	}

	dialFrom(t, "127.0.0.1", raw.Addr())
	a1 := accept("the first from 127.0.0.1")
	dialFrom(t, "127.0.0.1", raw.Addr())
	accept("the second from 127.0.0.1")
	refused(dialFrom(t, "127.0.0.1", raw.Addr()), "the third from 127.0.0.1", 1)
	dialFrom(t, "127.0.0.2", raw.Addr())
	accept("the first from 127.0.0.2")
	refused(dialFrom(t, "127.0.0.3", raw.Addr()), "a fourth in all", 2)

	_ = a1.Close()
	_ = a1.Close() // gives its count back once
	dialFrom(t, "127.0.0.3", raw.Addr())
	accept("127.0.0.3 after a close")
	refused(dialFrom(t, "127.0.0.4", raw.Addr()), "a fourth in all again", 3)
	limits.mu.Lock()
	defer limits.mu.Unlock()
	if limits.total != 3 || len(limits.perAddr) != 3 {
		t.Fatalf("counted %d connections from %v, want 3 from 3 addresses", limits.total, limits.perAddr)
	}
}

// TestTCPAddrGroup: an IPv4 address (mapped into IPv6 or not) is a group of its own;
// an IPv6 address shares its group with its /64.
func TestTCPAddrGroup(t *testing.T) {
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	for _, c := range []struct {
		addr net.Addr
		want string
	}{
		{tcp("192.0.2.7:5000"), "192.0.2.7/32"},
		{tcp("[::ffff:192.0.2.7]:5000"), "192.0.2.7/32"},
		{tcp("[2001:db8:1:2:aaaa::1]:5000"), "2001:db8:1:2::/64"},
		{tcp("[2001:db8:1:2:bbbb::9]:6000"), "2001:db8:1:2::/64"},
		{tcp("[fe80::1%eth0]:5000"), "fe80::/64"},
		{&net.UnixAddr{Name: "@x", Net: "unix"}, "invalid Prefix"},
	} {
		if got := addrGroup(c.addr).String(); got != c.want {
			t.Errorf("addrGroup(%v) = %s, want %s", c.addr, got, c.want)
		}
	}
}

// withTCP gives the engine an ICE-TCP port, bounded to two connections an address and
// three in all, where a connection has wait to pass a check.
func withTCP(wait time.Duration) engineOption {
	return func(_ *fakeclock.Clock, cfg *Config) {
		cfg.TCPAddr = "127.0.0.1:0"
		cfg.MaxTCPConns, cfg.MaxTCPConnsPerAddr = 3, 2
		cfg.tcpCheckWait = wait
	}
}

// frame writes b to c as one RFC 4571 frame.
func frame(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)); err != nil {
		t.Fatal(err)
	}
}

// checkAnswered sends a check on c and reports whether the answer came (false: the
// server closed c).
func checkAnswered(t *testing.T, c net.Conn, check []byte) bool {
	t.Helper()
	frame(t, c, check)
	_ = c.SetReadDeadline(time.Now().Add(mediaWait))
	buf := make([]byte, maxTCPFrame)
	n, err := readFrame(c, buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%v: check neither answered nor the connection closed within %v", c.LocalAddr(), mediaWait)
	}
	return err == nil && isSTUN(buf[:n])
}

// TestICETCPConnectionsAreBounded: the engine's ICE-TCP port holds two connections
// from one address and three in all (each proven held by a check it answers); one
// beyond is closed at once, before it could send anything, and counted in the stats.
func TestICETCPConnectionsAreBounded(t *testing.T) {
	_, eng, room := newClockedRoom(t, true, withTCP(time.Minute))
	p, err := room.Join("sub")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.own.offer(false); err != nil {
		t.Fatal(err)
	}
	ok := check{username: p.own.lite.ufrag + ":peer", pwd: p.own.lite.pwd}.bytes(t)
	held := func(from string) {
		t.Helper()
		if !checkAnswered(t, dialFrom(t, from, eng.TCPAddr()), ok) {
			t.Fatalf("a connection from %s was closed", from)
		}
	}
	refused := func(from string, n uint64) {
		t.Helper()
		if !closedByPeer(t, dialFrom(t, from, eng.TCPAddr())) {
			t.Fatalf("a connection from %s was answered", from)
		}
		if got := eng.Stats().ICETCPRefused; got != n {
			t.Fatalf("%d ICE-TCP connections refused, want %d", got, n)
		}
	}
	held("127.0.0.1")
	held("127.0.0.1")
	refused("127.0.0.1", 1)
	held("127.0.0.2")
	refused("127.0.0.3", 2)
}

// TestICETCPFailedChecksAreNotHeld: a connection whose checks keep failing (the right
// agent, the wrong password) is closed once its time to pass one is up, however often
// it sends; a connection whose check passed stays past that time.
func TestICETCPFailedChecksAreNotHeld(t *testing.T) {
	// Long enough for a loaded machine to read the good connection's first check,
	// short enough for the test.
	const wait = 2 * time.Second
	_, eng, room := newClockedRoom(t, true, withTCP(wait))
	p, err := room.Join("sub")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.own.offer(false); err != nil {
		t.Fatal(err)
	}
	ok := check{username: p.own.lite.ufrag + ":peer", pwd: p.own.lite.pwd}.bytes(t)
	wrong := check{username: p.own.lite.ufrag + ":peer", pwd: "not-the-password-of-it"}.bytes(t)

	good := dialFrom(t, "127.0.0.1", eng.TCPAddr())
	if !checkAnswered(t, good, ok) {
		t.Fatal("the good connection was closed")
	}
	bad := dialFrom(t, "127.0.0.2", eng.TCPAddr())
	closed := make(chan error, 1)
	go func() {
		_ = bad.SetReadDeadline(time.Now().Add(mediaWait))
		var b [1]byte
		_, err := bad.Read(b[:])
		closed <- err
	}()
	tick := time.NewTicker(wait / 20)
	defer tick.Stop()
	sent := 0
	for {
		select {
		case err := <-closed:
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the connection that failed %d checks was still open after %v", sent, mediaWait)
			}
			if err == nil {
				t.Fatal("a failed check was answered")
			}
			if !checkAnswered(t, good, ok) {
				t.Fatal("the good connection was closed with the bad one")
			}
			return
		case <-tick.C:
			// Writes fail once the server has closed it; the read says so.
			_, _ = bad.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(wrong))), wrong...))
			sent++
		}
	}
}
