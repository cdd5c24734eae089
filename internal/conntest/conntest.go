// Package conntest holds the tests' helpers for TCP connections: dialing from a loopback
// address of one's choice, a loopback pair of connected ends, accepting in the
// background, telling a connection the server closed at once from one it holds, and
// waiting for the goroutines that closed connections leave to end; and the tests' one
// bound on waiting for what must come (Wait), with the one loop that polls for it
// (Eventually).
package conntest

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Wait bounds what a test waits for that must come (a connection, an answer, a close,
// a datagram): it only ends a hung test, and a passing one never waits that long. It is
// generous on purpose, since a verdict must not depend on how fast a loaded machine is
// (under -race beside other packages' tests, work takes ten to twenty times as long).
const Wait = 5 * time.Minute

// DialFrom connects over TCP to addr from the loopback address from ("127.0.0.2":
// Linux routes the whole 127/8 to the loopback interface, so each is an address of its
// own). The connection is closed when the test ends.
func DialFrom(t testing.TB, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: Wait}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Pair is a loopback TCP connection's two ends: the one the listener accepted and the
// one that dialed. Both are closed when the test ends.
func Pair(tb testing.TB) (accepted, dialed net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	dialed, err = net.DialTimeout("tcp4", ln.Addr().String(), Wait)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = dialed.Close() })
	accepted, err = ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = accepted.Close() })
	return accepted, dialed
}

// ClosedByPeer reports whether c's peer closed it (end of stream or reset) before
// sending anything; nothing at all within Wait fails the test.
func ClosedByPeer(t testing.TB, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(Wait))
	var b [1]byte
	_, err := c.Read(b[:])
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%v: neither closed nor answered within %v", c.LocalAddr(), Wait)
	}
	return err != nil
}

// Acceptor accepts every connection of a listener in the background and hands them out
// in order; they are closed when the test ends.
type Acceptor struct {
	t        testing.TB
	accepted chan net.Conn
}

// AcceptAll starts accepting on ln until it is closed (the test closes it).
func AcceptAll(t testing.TB, ln net.Listener) *Acceptor {
	a := &Acceptor{t: t, accepted: make(chan net.Conn, 64)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
			a.accepted <- c
		}
	}()
	return a
}

// Next is the next connection accepted; none within Wait fails the test with what.
func (a *Acceptor) Next(what string) net.Conn {
	a.t.Helper()
	select {
	case c := <-a.accepted:
		return c
	case <-time.After(Wait):
		a.t.Fatalf("%s not accepted", what)
		return nil
	}
}

// GoroutinesEnd waits until no goroutine is left but those baseline ignores, and fails
// the test naming those left after Wait. goleak.VerifyNone alone gives them about a
// second of retries, which a loaded machine can spend before a closed connection's
// goroutines have returned.
func GoroutinesEnd(tb testing.TB, baseline goleak.Option) {
	tb.Helper()
	var left error
	if !poll(func() bool { left = goleak.Find(baseline); return left == nil }) {
		tb.Fatalf("goroutines left after %v: %v", Wait, left)
	}
}

// Eventually polls cond until it holds, and fails the test after Wait naming what it
// waited for. It is for what must come: the bound only ends a hung test, and a check
// that something does not come must not be made with it.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	if !poll(cond) {
		tb.Fatalf("timed out waiting for %s", what)
	}
}

// poll calls cond until it holds (true) or Wait has passed (false). It looks again
// after 2 ms at first, as the media tests' loop did for what comes within a few
// milliseconds on loopback, and backs off to every 20 ms, as the other loops did, so
// that a long wait (an estimate's climb, goleak's look at every goroutine) costs the
// loaded machine little.
func poll(cond func() bool) bool {
	deadline := time.Now().Add(Wait)
	pause := 2 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
	return true
}
