package e2e

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// cutProxy is a TCP proxy between one browser tab and the server that the test can cut:
// every connection through it closes at once, and new ones are closed as they arrive
// until the cut is over. DevTools' offline mode leaves an open websocket running
// (DESIGN.md), so a real cut is the only honest way to drop a browser's connection.
// It can also make a path dead while it stays open (freeze) and leave websocket
// handshakes unanswered while everything else passes (stall).
type cutProxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	until    time.Time             // new connections are refused until then
	held     bool                  // new connections are refused until release
	frozen   map[net.Conn]struct{} // connections whose bytes are dropped (freeze)
	stalling bool                  // websocket handshakes are stalled (stall)
	stalled  chan struct{}         // gets one value for each handshake stalled
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln := freshListener(t) // the tabs' origin: one no earlier test's pages had
	p := &cutProxy{ln: ln, target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]struct{}{}, stalled: make(chan struct{}, 64)}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.closeAll()
	})
	return p
}

// url is base (the server's http://host:port URL) rewritten to go through the proxy.
func (p *cutProxy) url(base string) string {
	return strings.Replace(base, p.target, p.ln.Addr().String(), 1)
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		// Taken into conns under the same lock as the check, so that no cut, freeze
		// or closeAll falls between the two.
		p.mu.Lock()
		cut := p.held || time.Now().Before(p.until)
		if !cut {
			p.conns[c] = struct{}{}
		}
		p.mu.Unlock()
		if cut {
			_ = c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *cutProxy) pipe(c net.Conn) {
	// The first bytes say whether this is a websocket handshake to stall; a browser
	// always speaks first on an HTTP connection. The server is dialled only then, so
	// a connection a browser opens ahead and never uses opens none to the server.
	r := bufio.NewReader(c)
	first, err := r.Peek(len("GET /ws "))
	if err != nil {
		p.forget(c)
		return
	}
	p.mu.Lock()
	stall := p.stalling && string(first) == "GET /ws "
	p.mu.Unlock()
	if stall {
		select {
		case p.stalled <- struct{}{}:
		default:
		}
		// Read and drop what the browser sends, answer nothing, until it or closeAll
		// closes it.
		_, _ = io.Copy(io.Discard, r)
		p.forget(c)
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		p.forget(c)
		return
	}
	p.mu.Lock()
	p.conns[s] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(p.unlessFrozen(c, s), r); done <- struct{}{} }()
	go func() { _, _ = io.Copy(p.unlessFrozen(c, c), s); done <- struct{}{} }()
	<-done
	if p.isFrozen(c) {
		// A dead path: the end that closed is not told to the other, whose
		// connection stays open and silent until the test ends (closeAll).
		return
	}
	p.forget(c, s)
}

// forget closes conns and stops tracking them.
func (p *cutProxy) forget(conns ...net.Conn) {
	for _, c := range conns {
		_ = c.Close()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
	}
}

// freeze makes every connection through the proxy a dead path: it stays open, and
// nothing more crosses it either way (a close of the server's end included), as when a
// NAT forgets the mapping or a proxy stops forwarding. New connections pass.
func (p *cutProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen == nil {
		p.frozen = map[net.Conn]struct{}{}
	}
	for c := range p.conns {
		p.frozen[c] = struct{}{}
	}
}

func (p *cutProxy) isFrozen(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.frozen[c]
	return ok
}

// unlessFrozen writes to dst while client's connection is not frozen, and drops the
// bytes once it is.
func (p *cutProxy) unlessFrozen(client net.Conn, dst io.Writer) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		if p.isFrozen(client) {
			return len(b), nil
		}
		return dst.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// cut drops every connection through the proxy and refuses new ones for d.
func (p *cutProxy) cut(d time.Duration) {
	p.mu.Lock()
	p.until = time.Now().Add(d)
	p.mu.Unlock()
	p.closeAll()
}

// hold refuses every new connection through the proxy until release; the open ones
// stay as they are. With freeze it keeps a page's new connection away until the test
// has made the server see what must come first.
func (p *cutProxy) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = true
}

func (p *cutProxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = false
}

// stall leaves every websocket handshake (a connection whose first request is GET /ws)
// that begins from now on open and unanswered (on), or lets the new ones pass (off); one
// stalled already stays so. Every other request (the page, its probe of the server before each resume)
// passes: the path of a resume that began just as a NAT lost its mapping or a proxy
// stopped forwarding, the server reachable and the one connection the page waits on
// never answered.
func (p *cutProxy) stall(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalling = on
}

// closeAll closes every connection through the proxy (a stalled handshake's included).
func (p *cutProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}
