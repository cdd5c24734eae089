package turn_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"conclave/turn"
)

// connWait bounds what a failing test waits for; a passing one never waits that long.
const connWait = 20 * time.Second

// dialTCPFrom connects to addr from the loopback address from (127.0.0.x: Linux routes
// the whole 127/8 to the loopback interface, so each is an address of its own).
func dialTCPFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: connWait}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// bindingAnswered sends a STUN binding request on c (STUN over TCP frames itself)
// and reports whether its success response came back.
func bindingAnswered(t *testing.T, c net.Conn) bool {
	t.Helper()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if _, err := c.Write(req.Raw); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(connWait))
	head := make([]byte, 20)
	if _, err := io.ReadFull(c, head); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%v: no answer and not closed within %v", c.LocalAddr(), connWait)
		}
		return false
	}
	body := make([]byte, int(head[2])<<8|int(head[3]))
	if _, err := io.ReadFull(c, body); err != nil {
		return false
	}
	var m stun.Message
	return stun.Decode(append(head, body...), &m) == nil && m.Type == stun.BindingSuccess && m.TransactionID == req.TransactionID
}

// closedAtOnce reports whether c's peer closed it before sending anything.
func closedAtOnce(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(connWait))
	var b [1]byte
	_, err := c.Read(b[:])
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%v: neither closed nor answered within %v", c.LocalAddr(), connWait)
	}
	return err != nil
}

// TestTCPAndTLSConnectionsAreBounded: the TCP and TLS listeners together hold two
// connections from one address and three in all (each held one proven by a binding
// request it answers, without credentials); one beyond is closed at once, on either
// listener, and counted.
func TestTCPAndTLSConnectionsAreBounded(t *testing.T) {
	cert, pool := selfSigned(t)
	f := newFixture(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, func(c *turn.Config) {
		c.MaxTCPConns, c.MaxTCPConnsPerAddr = 3, 2
	})
	tcpAddr, tlsAddr := f.serverAddr(t, "turn", "tcp"), f.serverAddr(t, "turns", "tcp")
	refused := func(c net.Conn, what string, n uint64) {
		t.Helper()
		if !closedAtOnce(t, c) {
			t.Fatalf("%s was answered", what)
		}
		if got := f.srv.TCPRefused(); got != n {
			t.Fatalf("after %s: %d refused, want %d", what, got, n)
		}
	}

	if !bindingAnswered(t, dialTCPFrom(t, "127.0.0.1", tcpAddr)) {
		t.Fatal("the first TCP connection from 127.0.0.1 was not served")
	}
	overTLS := tls.Client(dialTCPFrom(t, "127.0.0.1", tlsAddr), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if !bindingAnswered(t, overTLS) {
		t.Fatal("the TLS connection from 127.0.0.1 was not served")
	}
	refused(dialTCPFrom(t, "127.0.0.1", tcpAddr), "a third from 127.0.0.1", 1)
	if !bindingAnswered(t, dialTCPFrom(t, "127.0.0.2", tcpAddr)) {
		t.Fatal("the TCP connection from 127.0.0.2 was not served")
	}
	refused(dialTCPFrom(t, "127.0.0.3", tlsAddr), "a fourth in all", 2)
}
