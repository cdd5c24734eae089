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

	"conclave/internal/conntest"
	"conclave/turn"
)

// bindingAnswered sends a STUN binding request on c (STUN over TCP frames itself)
// and reports whether its success response came back.
func bindingAnswered(t *testing.T, c net.Conn) bool {
	t.Helper()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if _, err := c.Write(req.Raw); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(conntest.Wait))
	head := make([]byte, 20)
	if _, err := io.ReadFull(c, head); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%v: no answer and not closed within %v", c.LocalAddr(), conntest.Wait)
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
		if !conntest.ClosedByPeer(t, c) {
			t.Fatalf("%s was answered", what)
		}
		if got := f.srv.TCPRefused(); got != n {
			t.Fatalf("after %s: %d refused, want %d", what, got, n)
		}
	}

	if !bindingAnswered(t, conntest.DialFrom(t, "127.0.0.1", tcpAddr)) {
		t.Fatal("the first TCP connection from 127.0.0.1 was not served")
	}
	overTLS := tls.Client(conntest.DialFrom(t, "127.0.0.1", tlsAddr), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if !bindingAnswered(t, overTLS) {
		t.Fatal("the TLS connection from 127.0.0.1 was not served")
	}
	refused(conntest.DialFrom(t, "127.0.0.1", tcpAddr), "a third from 127.0.0.1", 1)
	if !bindingAnswered(t, conntest.DialFrom(t, "127.0.0.2", tcpAddr)) {
		t.Fatal("the TCP connection from 127.0.0.2 was not served")
	}
	refused(conntest.DialFrom(t, "127.0.0.3", tlsAddr), "a fourth in all", 2)
}

// TestFailedTLSHandshakesAreClosed: a client that sends a broken ClientHello to the TLS
// listener is disconnected, and its place under the bounds is free again. (pion/turn
// left such a connection open and unread for good: two of them from one address held
// the address's places until the server stopped.)
func TestFailedTLSHandshakesAreClosed(t *testing.T) {
	cert, pool := selfSigned(t)
	f := newFixture(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, func(c *turn.Config) {
		c.MaxTCPConns, c.MaxTCPConnsPerAddr = 3, 2
	})
	tlsAddr := f.serverAddr(t, "turns", "tcp")
	for i := 0; i < 3; i++ {
		c := conntest.DialFrom(t, "127.0.0.1", tlsAddr)
		if _, err := c.Write([]byte("\x16\x03\x01\x00\x05 not a ClientHello at all")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(conntest.Wait))
		if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("broken handshake %d: the connection was not closed within %v", i, conntest.Wait)
		}
		_ = c.Close()
	}
	overTLS := tls.Client(conntest.DialFrom(t, "127.0.0.1", tlsAddr), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if !bindingAnswered(t, overTLS) {
		t.Fatal("a TLS connection after the broken ones was not served")
	}
	if n := f.srv.TCPRefused(); n != 0 {
		t.Fatalf("%d connections refused by the bounds", n)
	}
}
