package main

import (
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conclave/web"
)

// deadlineConn reports the deadline in force when the server blocks: the read
// deadline at every Read after it has read `after` bytes (to reads), and the write
// deadline at every Write (to writes). Each channel keeps the first report.
type deadlineConn struct {
	net.Conn
	mu            sync.Mutex
	read, write   time.Time // the deadlines set
	n, after      int
	reads, writes chan time.Time
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.read = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.write = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.read, c.write = t, t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// reportOnce sends d to ch unless ch holds a report already.
func reportOnce(ch chan time.Time, d time.Time) {
	select {
	case ch <- d:
	default:
	}
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.n >= c.after {
		reportOnce(c.reads, c.read)
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.n += n
	c.mu.Unlock()
	return n, err
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	reportOnce(c.writes, c.write)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// deadlineListener accepts deadlineConns that report to its channels.
type deadlineListener struct {
	net.Listener
	after         int
	reads, writes chan time.Time
}

func (l *deadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c, after: l.after, reads: l.reads, writes: l.writes}, nil
}

// serveRecorded serves h with our HTTP server on a listener of deadlineConns.
func serveRecorded(t *testing.T, h http.Handler, after int) (addr string, reads, writes chan time.Time) {
	t.Helper()
	srv := newHTTPServer(h, log.New(io.Discard, "", 0), httpIdleWait)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reads, writes = make(chan time.Time, 1), make(chan time.Time, 1)
	go func() { _ = srv.Serve(&deadlineListener{Listener: ln, after: after, reads: reads, writes: writes}) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), reads, writes
}

// TestSlowBodyHasReadDeadline: a client that sends a request's header with a
// Content-Length and then never sends the body. Whatever the handler answers, net/http
// reads (discards) the body before it writes the response; every such read must be
// bounded by a deadline, or one connection is held for as long as the client likes
// (ReadHeaderTimeout covers the header only, IdleTimeout only the time between
// requests). No timing: the test looks at the deadline in force when the server
// blocks reading the body.
func TestSlowBodyHasReadDeadline(t *testing.T) {
	// Any path will do: the web client's handler answers its 404 page without reading
	// the body, as the APIs answer a missing host key.
	const req = "POST /nowhere HTTP/1.1\r\nHost: conclave.test\r\nContent-Length: 100\r\n\r\n"
	addr, reads, _ := serveRecorded(t, web.Handler(web.Options{}), len(req))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	d := <-reads // the server's read after the whole header: the body's
	if d.IsZero() {
		t.Fatalf("the server waits for the body of a request with no read deadline: one connection (and goroutine) is held for as long as the client keeps it open")
	}
}

// TestUnreadResponseHasWriteDeadline: a client that asks for a large asset (the
// blur runtime's WebAssembly is megabytes) and never reads the answer. Once the socket's
// buffers are full the server's write blocks; it must be bounded by a deadline, or the
// connection is held for as long as the client's kernel acknowledges zero-window probes.
func TestUnreadResponseHasWriteDeadline(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(make([]byte, 1<<20))
	})
	addr, _, writes := serveRecorded(t, h, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /static/vendor/big.wasm HTTP/1.1\r\nHost: conclave.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if d := <-writes; d.IsZero() {
		t.Fatalf("the server writes a response with no write deadline: a client that never reads holds the connection for good")
	}
}

// TestLargeHeaderRefused: a request whose header is larger than httpHeaderBytes is
// answered 431 and not handed on (net/http's default let each connection hold a
// megabyte of header); one within it is served.
func TestLargeHeaderRefused(t *testing.T) {
	var served atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { served.Add(1) })
	srv := newHTTPServer(h, log.New(io.Discard, "", 0), httpIdleWait)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	get := func(pad int) (int, error) {
		req, err := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Pad", strings.Repeat("a", pad))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(8 << 10); err != nil || code != http.StatusOK {
		t.Fatalf("an 8 KB header: %d, %v; want 200", code, err)
	}
	// The server answers 431 once it has read past the bound and closes the connection
	// with the rest unread, which a loaded machine may turn into a reset before the
	// answer is read: the verdict is that the request was not handed on.
	if code, err := get(100 << 10); err == nil && code != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a 100 KB header: %d, want 431", code)
	}
	if n := served.Load(); n != 1 {
		t.Fatalf("%d requests handed on, want 1", n)
	}
}
