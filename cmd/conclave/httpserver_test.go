package main

import (
	"bufio"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"conclave/internal/conntest"
)

// TestHTTPServerClosesIdleConnections: a kept-alive connection that sends nothing after
// its request is closed by the server once idle for the idle wait (a client could
// otherwise hold it, and many more, for as long as it likes).
func TestHTTPServerClosesIdleConnections(t *testing.T) {
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		log.New(io.Discard, "", 0), 200*time.Millisecond)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(conntest.Wait)) // bounds a failure only
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: conclave.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "ok" || resp.Close {
		t.Fatalf("response %d %q (close %v), want a kept-alive 200 ok", resp.StatusCode, body, resp.Close)
	}
	_, err = r.ReadByte()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the idle connection was still open after %v", conntest.Wait)
	}
	if !errors.Is(err, io.EOF) {
		t.Fatalf("after the response: %v, want the end of the stream", err)
	}
}

// TestWebPortBoundsConnections: with -max-conns-per-addr 1 the web port holds four
// connections from one address (each proven held by a response it carries, kept
// alive); a fifth from that address is closed at once, one from another address is
// served. Behind a proxy, where every client has the proxy's address, the fifth is
// served too.
func TestWebPortBoundsConnections(t *testing.T) {
	served := func(t *testing.T, from, hostport string) bool {
		t.Helper()
		c := conntest.DialFrom(t, from, hostport)
		_ = c.SetDeadline(time.Now().Add(conntest.Wait))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil { // a Host the server serves
			return false
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("no response and not closed")
		}
		return err == nil && resp.StatusCode == http.StatusOK && !resp.Close
	}
	for _, c := range []struct {
		name  string
		args  []string
		fifth bool
	}{
		{"direct", nil, false},
		{"behind a proxy", []string{"-behind-proxy"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := start(t, append([]string{"-max-conns-per-addr", "1"}, c.args...)...)
			u, err := url.Parse(r.url)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				if !served(t, "127.0.0.1", u.Host) {
					t.Fatalf("connection %d from 127.0.0.1 not served", i+1)
				}
			}
			if got := served(t, "127.0.0.1", u.Host); got != c.fifth {
				t.Fatalf("a fifth connection from 127.0.0.1 served: %v, want %v", got, c.fifth)
			}
			if !served(t, "127.0.0.2", u.Host) {
				t.Fatal("a connection from 127.0.0.2 not served")
			}
		})
	}
}
