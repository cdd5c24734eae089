package turn

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
)

// closeSignalListener hands out connections that close closed when they are closed.
type closeSignalListener struct {
	net.Listener
	closed chan struct{}
}

func (l closeSignalListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &closeSignalConn{Conn: c, closed: l.closed}, nil
}

type closeSignalConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closeSignalConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// TestStalledTLSHandshakeEndsOnTheServersClock: a client that opens a TLS connection
// and sends nothing has it closed when the server's clock (Config.AfterFunc, the clock
// of allocWait) passes tlsHandshakeWait, and not before, where the handshake was bounded
// by a context on the system's clock, which a test cannot move and a fake clock's
// server ignored. The listener's streams hold no record of the connection here (no
// queuedListener below), so allocWait arms nothing: only the handshake's wait closes it.
func TestStalledTLSHandshakeEndsOnTheServersClock(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	ln := tlsListener{
		Listener: tls.NewListener(closeSignalListener{Listener: inner, closed: closed}, &tls.Config{MinVersion: tls.VersionTLS12}),
		streams:  newStreams(clock.AfterFunc),
	}
	defer ln.Close()
	client, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := clock.Pending(); n != 1 {
		t.Fatalf("%d waits on the server's clock for the stalled handshake, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	clock.Advance(tlsHandshakeWait - time.Millisecond)
	if err := clock.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
		t.Fatal("the stalled handshake's connection was closed before its wait passed on the server's clock")
	default:
	}
	clock.Advance(time.Millisecond)
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("the stalled handshake's connection stayed open past its wait on the server's clock")
	}
}
