package main

import (
	"bufio"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
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
	const wait = 20 * time.Second // bounds a failure only
	_ = c.SetDeadline(time.Now().Add(wait))
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
		t.Fatalf("the idle connection was still open after %v", wait)
	}
	if !errors.Is(err, io.EOF) {
		t.Fatalf("after the response: %v, want the end of the stream", err)
	}
}
