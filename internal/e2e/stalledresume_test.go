package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// stallProxy is a TCP proxy between one browser tab and the server that can stall
// websocket handshakes: a connection whose first request is the websocket's (GET /ws)
// is then kept open and silent, while every other request (the page, its probe of the
// server before each resume) passes. It is the path of a resume that began just as a
// NAT lost its mapping or a proxy stopped forwarding: the server is reachable, and the
// one connection the page waits on never answers.
type stallProxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	stalling bool
	stalled  chan struct{} // gets one value for each handshake held
}

func startStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln := freshListener(t) // the tabs' origin: one no earlier test's pages had
	p := &stallProxy{ln: ln, target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]struct{}{}, stalled: make(chan struct{}, 64)}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
	})
	return p
}

// url is base (the server's http://host:port URL) rewritten to go through the proxy.
func (p *stallProxy) url(base string) string {
	return strings.Replace(base, p.target, p.ln.Addr().String(), 1)
}

func (p *stallProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *stallProxy) pipe(c net.Conn) {
	r := bufio.NewReader(c)
	line, err := r.Peek(len("GET /ws "))
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	stall := p.stalling && string(line) == "GET /ws "
	p.mu.Unlock()
	if stall {
		select {
		case p.stalled <- struct{}{}:
		default:
		}
		// Read and drop what the browser sends, answer nothing, until it or cut closes it.
		_, _ = io.Copy(io.Discard, r)
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[s] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(s, r); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, s); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = s.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// stall holds every websocket handshake that begins from now on (on) or lets the new
// ones pass (off); one held already stays held.
func (p *stallProxy) stall(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalling = on
}

// cut closes every connection through the proxy (a held handshake's included).
func (p *stallProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// TestResumeWhoseWebsocketStallsComesBack: a member's link drops, and the websocket of
// the page's resume stalls (the server answered the page's probe; the handshake is never
// answered). The path is good again a moment later for new connections. The page gives
// the stalled attempt up and resumes on a new websocket: back in the meeting under its
// own id, its camera sent again. It waited on the stalled one until Chromium's own limit
// for a handshake (240 s), the server's grace (60 s) long over, and then said
// "Disconnected".
func TestResumeWhoseWebsocketStallsComesBack(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	srv := startServerWith(t, serverOptions{resumeGrace: 60 * time.Second})
	links := srv.createMeeting(t)
	line := startStallProxy(t, srv.url)
	ctx, cancel := testContext()
	defer cancel()

	tab := openMeeting(ctx, t, browsertest.KindChromium, line.url(srv.pageURL(links, links.moderatorFragment())))
	knock(ctx, t, tab, "Mona")
	mona := &participant{name: "Mona", kind: browsertest.KindChromium, tab: tab}
	waitFor(ctx, t, mona, "joined as moderator", `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`)
	if err := tab.Eval(ctx, `window.conclave.participantId`, &mona.id); err != nil {
		t.Fatal(err)
	}

	line.stall(true)
	line.cut()
	waitFor(ctx, t, mona, "says it is reconnecting", `document.body.dataset.reconnecting === "true" && !document.querySelector("#reconnect-overlay").hidden`)
	select {
	case <-line.stalled:
	case <-ctx.Done():
		t.Fatal("the page's resume never opened a websocket")
	}
	start := time.Now()
	line.stall(false)

	// Reconnecting ends, one way or the other; then it must have come back.
	waitFor(ctx, t, mona, "stops reconnecting", `!document.body.dataset.reconnecting`)
	var state string
	if err := tab.Eval(ctx, fmt.Sprintf(`JSON.stringify({state: document.body.dataset.state, sameId: window.conclave.participantId === %q,
		role: window.conclave.role, overlay: document.querySelector("#reconnect-overlay").hidden})`, mona.id), &state); err != nil {
		t.Fatal(err)
	}
	if want := `{"state":"joined","sameId":true,"role":"moderator","overlay":true}`; state != want {
		t.Fatalf("after a resume whose websocket stalled the page shows %s (%v after the stall), want %s", state, time.Since(start).Round(time.Second), want)
	}
	t.Logf("back %v after the stalled handshake", time.Since(start).Round(100*time.Millisecond))
	waitFor(ctx, t, mona, "sends its camera again", `window.conclave.stats().then(s => (s.publish?.camera || 0) > 0)`)
}
