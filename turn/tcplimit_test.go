package turn_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"

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

// TestConnectionsWithoutAllocationAreClosed: a TCP or TLS connection that asks for no
// allocation within allocWait (10 s on the server's clock) is closed, and its place
// under the bounds is free again; one that holds an allocation stays, and its relay
// works after the wait.
func TestConnectionsWithoutAllocationAreClosed(t *testing.T) {
	cert, pool := selfSigned(t)
	f := newFixture(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, func(c *turn.Config) {
		c.MaxTCPConns, c.MaxTCPConnsPerAddr = 3, 3
	})
	tcpAddr, tlsAddr := f.serverAddr(t, "turn", "tcp"), f.serverAddr(t, "turns", "tcp")
	silentTCP := conntest.DialFrom(t, "127.0.0.1", tcpAddr)
	silentTLS := tls.Client(conntest.DialFrom(t, "127.0.0.1", tlsAddr), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err := silentTLS.Handshake(); err != nil {
		t.Fatal(err)
	}
	user, pass := f.creds(t)
	conn, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, pionturn.NewSTUNConn(conn), tcpAddr, user, pass)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	defer relay.Close()

	// Each accepted connection armed its wait; the allocated one's was stopped.
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := f.clock.WaitForTimers(ctx, 2); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10*time.Second - time.Millisecond)
	if !bindingAnswered(t, silentTCP) {
		t.Fatal("a connection was closed before its wait was over")
	}
	f.clock.Advance(time.Millisecond)
	for _, c := range []net.Conn{silentTCP, silentTLS} {
		_ = c.SetReadDeadline(time.Now().Add(conntest.Wait))
		if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%v: not closed after the wait", c.LocalAddr())
		}
	}
	sendToSFU(t, f, relay)
	if !bindingAnswered(t, conntest.DialFrom(t, "127.0.0.1", tcpAddr)) {
		t.Fatal("the places of the closed connections were not free again")
	}
}
