package main

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testcert"
)

// With -tls or -acme-domain the web port speaks HTTP/2 (net/http offers h2 in ALPN), and
// one connection of it carries many requests at once, each a handler goroutine with its
// buffers, while the port's bounds (webConnLimits) count connections. These tests speak
// HTTP/2 frames by hand over TLS, as an attacker's client would, and look at what the
// server does and says, not at how long anything takes.

// HTTP/2 frame types and the settings they name (RFC 9113).
const (
	h2Data         = 0x0
	h2Headers      = 0x1
	h2RSTStream    = 0x3
	h2Settings     = 0x4
	h2GoAway       = 0x7
	h2WindowUpdate = 0x8

	h2FlagEndStream  = 0x1
	h2FlagAck        = 0x1
	h2FlagEndHeaders = 0x4

	h2SettingMaxConcurrentStreams = 0x3
	h2SettingInitialWindowSize    = 0x4
	h2SettingMaxFrameSize         = 0x5

	h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
)

// h2Frame is one frame as written on the wire.
func h2Frame(typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	b := []byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[5:], stream)
	return append(b, payload...)
}

// h2Get is the header block of GET https://conclave.test/ in HPACK.
func h2Get() []byte { return h2GetOf("conclave.test", "/") }

// h2GetOf is the header block of GET https://authority/path in HPACK: two entries of the
// static table (:method GET, :scheme https), and :authority and :path as literals
// without indexing whose names are the table's (each shorter than 127 bytes).
func h2GetOf(authority, path string) []byte {
	b := append([]byte{0x82, 0x87, 0x01, byte(len(authority))}, authority...)
	return append(append(b, 0x04, byte(len(path))), path...)
}

// readH2Frame reads one frame: its type, flags, stream and payload.
func readH2Frame(r io.Reader) (typ, flags byte, stream uint32, payload []byte, err error) {
	var h [9]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return
	}
	payload = make([]byte, int(h[0])<<16|int(h[1])<<8|int(h[2]))
	if _, err = io.ReadFull(r, payload); err != nil {
		return
	}
	return h[3], h[4], binary.BigEndian.Uint32(h[5:]) & 0x7fffffff, payload, nil
}

// serveH2 serves h with our HTTP server over TLS, as serve does with -tls, on a listener
// that wrap may replace; it returns the address.
func serveH2(t *testing.T, h http.Handler, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	srv := newHTTPServer(h, log.New(io.Discard, "", 0), httpIdleWait)
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{testcert.New(t).TLS}, MinVersion: tls.VersionTLS12}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// dialH2 opens a TLS connection that has agreed on h2 and sends the client's preface
// and frames.
func dialH2(t *testing.T, addr string, frames ...[]byte) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) // a test's own certificate
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("the TLS port agreed on %q, want h2", p)
	}
	_ = c.SetDeadline(time.Now().Add(conntest.Wait)) // a bound on hanging, not a verdict
	out := []byte(h2Preface)
	for _, f := range frames {
		out = append(out, f...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestH2ServerOpensWithTightBounds: the server's first frames say how much one HTTP/2
// connection may make it hold: requests at once (MAX_CONCURRENT_STREAMS; net/http's
// default is 250, a handler goroutine each), the largest frame it reads into one buffer
// (MAX_FRAME_SIZE; the default 1 MB is allocated as soon as a frame's header announces
// it, and a client that then sends nothing holds it), and the request body it buffers
// for handlers that have not read it (the stream's and the connection's windows; 1 MB
// each by default). With the port's bound of 4 × -max-conns-per-addr connections, the
// defaults let one address hold 800 × 250 handlers and 800 MB of frame buffers and as
// much of bodies, where HTTP/1.1 holds one request and 4 KB of reading per connection.
// The server is the real one with certificate files, as an operator runs it.
func TestH2ServerOpensWithTightBounds(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t, t.TempDir())
	out := start(t, "-https", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile).stdout
	addr := regexp.MustCompile(`Open https://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(out)
	if addr == nil {
		t.Fatalf("stdout %q", out)
	}
	c := dialH2(t, addr[1], h2Frame(h2Settings, 0, 0, nil))
	r := bufio.NewReader(c)
	settings := map[uint16]uint32{}
	typ, _, _, payload, err := readH2Frame(r)
	if err != nil || typ != h2Settings {
		t.Fatalf("the server's first frame: type %d, %v; want SETTINGS", typ, err)
	}
	for p := payload; len(p) >= 6; p = p[6:] {
		settings[binary.BigEndian.Uint16(p)] = binary.BigEndian.Uint32(p[2:])
	}
	// The connection's window starts at 65,535 and grows by the WINDOW_UPDATE on
	// stream 0 that the server sends at once when it takes more; its next frame is
	// that, or the ACK of our SETTINGS.
	connWindow := uint32(65535)
	if typ, _, stream, payload, err := readH2Frame(r); err != nil {
		t.Fatal(err)
	} else if typ == h2WindowUpdate && stream == 0 {
		connWindow += binary.BigEndian.Uint32(payload) & 0x7fffffff
	}
	for _, b := range []struct {
		what      string
		got, most uint32
	}{
		{"requests at once (MAX_CONCURRENT_STREAMS)", settings[h2SettingMaxConcurrentStreams], h2MaxStreams},
		{"bytes of a frame (MAX_FRAME_SIZE)", settings[h2SettingMaxFrameSize], h2MaxFrameBytes},
		{"bytes of a request's body buffered (INITIAL_WINDOW_SIZE)", settings[h2SettingInitialWindowSize], h2StreamBodyBytes},
		{"bytes of request bodies buffered for the connection (its window)", connWindow, h2ConnBodyBytes},
	} {
		if b.got == 0 || b.got > b.most {
			t.Errorf("one HTTP/2 connection may make the server hold %d %s, want at most %d", b.got, b.what, b.most)
		}
	}
}

// TestH2RequestsAtOnceAreBounded: a client that opens 300 requests at once on one
// HTTP/2 connection, each to a handler that does not end (as a large asset does for a
// client that grants the window and never reads), has at most h2MaxStreams of them
// run; the rest are refused with RST_STREAM, which browsers retry once a stream is
// free. The answers are counted, not timed.
func TestH2RequestsAtOnceAreBounded(t *testing.T) {
	const asked = 300
	release := make(chan struct{})
	var running sync.WaitGroup
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		running.Add(1)
		defer running.Done()
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush() // the client sees that this one runs
		<-release
	})
	addr := serveH2(t, h, nil)
	t.Cleanup(func() { close(release); running.Wait() }) // runs before the server's Close
	frames := [][]byte{h2Frame(h2Settings, 0, 0, nil), h2Frame(h2Settings, h2FlagAck, 0, nil)}
	for i := range asked {
		frames = append(frames, h2Frame(h2Headers, h2FlagEndHeaders|h2FlagEndStream, uint32(2*i+1), h2Get()))
	}
	c := dialH2(t, addr, frames...)
	r := bufio.NewReader(c)
	ran, refused := map[uint32]bool{}, map[uint32]bool{}
	for len(ran)+len(refused) < asked {
		typ, _, stream, payload, err := readH2Frame(r)
		if err != nil {
			t.Fatalf("after %d requests ran and %d were refused: %v", len(ran), len(refused), err)
		}
		switch typ {
		case h2Headers:
			ran[stream] = true
		case h2RSTStream:
			refused[stream] = true
		case h2GoAway:
			t.Fatalf("the server ended the connection (GOAWAY %x) after %d requests ran and %d were refused", payload, len(ran), len(refused))
		}
	}
	if len(ran) > h2MaxStreams {
		t.Fatalf("%d requests ran at once on one HTTP/2 connection, want at most %d (%d refused)", len(ran), h2MaxStreams, len(refused))
	}
	if len(ran) == 0 {
		t.Fatal("no request ran")
	}
}

// writeWatchConn reports the write deadline in force at the first write it is given
// once more than after bytes have been written through it.
type writeWatchConn struct {
	net.Conn
	after   int
	mu      sync.Mutex
	written int
	dl      time.Time
	report  chan time.Time
}

func (c *writeWatchConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.dl = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *writeWatchConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.dl = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *writeWatchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.written > c.after {
		reportOnce(c.report, c.dl)
	}
	c.written += len(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

type writeWatchListener struct {
	net.Listener
	after  int
	report chan time.Time
}

func (l *writeWatchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &writeWatchConn{Conn: c, after: l.after, report: l.report}, nil
}

// TestUnreadH2ResponseHasWriteDeadline: an HTTP/2 client that grants the server a window
// of 2 GB for a large answer and never reads it. net/http's HTTP/2 server clears the
// connection's write deadline once it takes the connection over (its WriteTimeout
// bounds each stream's handler, not the connection's writes), so without a write
// deadline of its own the frame writer stays blocked on the full socket for as long
// as the client's kernel acknowledges zero-window probes: the stream is reset after
// httpWriteWait, but its GOAWAY, queued behind the blocked write, never leaves, and
// the connection, its goroutines and its buffers are held for good. No timing: the
// test looks at the deadline in force at the server's writes past the first megabyte.
func TestUnreadH2ResponseHasWriteDeadline(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := make([]byte, 64<<10)
		for range 256 { // 16 MB, more than the sockets' buffers hold
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	report := make(chan time.Time, 1)
	addr := serveH2(t, h, func(ln net.Listener) net.Listener {
		return &writeWatchListener{Listener: ln, after: 1 << 20, report: report}
	})
	window := make([]byte, 4)
	binary.BigEndian.PutUint32(window, 1<<31-1-65535)
	settings := make([]byte, 6)
	binary.BigEndian.PutUint16(settings, h2SettingInitialWindowSize)
	binary.BigEndian.PutUint32(settings[2:], 1<<31-1)
	dialH2(t, addr, h2Frame(h2Settings, 0, 0, settings), h2Frame(h2WindowUpdate, 0, 0, window),
		h2Frame(h2Headers, h2FlagEndHeaders|h2FlagEndStream, 1, h2Get()))
	select {
	case d := <-report:
		if d.IsZero() {
			t.Fatal("the server writes an HTTP/2 connection's frames with no write deadline: a client that never reads holds the connection for good")
		}
	case <-time.After(conntest.Wait): // a bound on hanging, not a verdict
		t.Fatalf("the server wrote no more than %d bytes", 1<<20)
	}
}
