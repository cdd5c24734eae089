// Package hostile is a test-only man in the middle between browser tabs (or Go
// clients) and a real Conclave server: it plays the server that issue 14 does not
// trust. HTTP requests pass through unchanged, so a page loads through it; every
// websocket is split into two (client ↔ proxy ↔ server) so that a test can see each
// message in both directions, drop or rewrite the ones a rule matches, inject new ones
// and replay recorded ones into any connection.
//
// It is meant for tests only: it keeps every message in memory and logs nothing.
package hostile

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/gorilla/websocket"

	"conclave/internal/freshport"
)

// Direction is the way a message travels.
type Direction int

const (
	// ToServer is a message a client sent (client → server).
	ToServer Direction = iota
	// ToClient is a message the server sent (server → client).
	ToClient
)

func (d Direction) String() string {
	if d == ToServer {
		return "client→server"
	}
	return "server→client"
}

// Message is one websocket message as the proxy handled it.
type Message struct {
	Seq      int       // position in the proxy's log, from 0
	Conn     int       // the connection, numbered from 1 in the order they opened
	Dir      Direction // which way it went
	Data     []byte    // what was delivered (for a dropped message: what would have been)
	Original []byte    // what was received, when a rule rewrote it (else nil)
	Dropped  bool      // a rule dropped it: the other side never saw it
	Injected bool      // the test put it there (Inject, Replay)
}

// Rule sees each received message before it is passed on. It returns the data to pass
// on (the message's own, or a rewrite) and whether to pass it on at all.
type Rule func(m Message) (data []byte, pass bool)

// Proxy is a running man in the middle; Start makes one.
type Proxy struct {
	target *url.URL
	ln     net.Listener
	http   *http.Server
	rp     *httputil.ReverseProxy
	up     websocket.Upgrader

	mu      sync.Mutex
	conns   map[int]*Conn
	nextID  int
	log     []Message
	rules   map[int]Rule
	nextRul int
	changed chan struct{} // closed and replaced whenever a message is logged or a connection opens
	closed  bool
}

// Start listens on 127.0.0.1:0 and proxies to target (the server's http://host:port URL).
func Start(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("hostile: target %q is not an http://host:port URL", target)
	}
	// A port no earlier listener of the process had: browser tests load pages through
	// the proxy, and a shared browser keeps storage per origin.
	ln, err := freshport.Listen()
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		target:  u,
		ln:      ln,
		rp:      httputil.NewSingleHostReverseProxy(u),
		conns:   map[int]*Conn{},
		rules:   map[int]Rule{},
		changed: make(chan struct{}),
		// The page's origin is the proxy's: the server checks it against the Host the
		// proxy passes on, which is the proxy's too.
		up: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
	}
	p.http = &http.Server{Handler: http.HandlerFunc(p.serveHTTP)}
	go func() { _ = p.http.Serve(ln) }()
	return p, nil
}

// URL is the proxy's base URL (http://127.0.0.1:port).
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Via rewrites a URL of the target server (page link with path, query and fragment)
// to go through the proxy.
func (p *Proxy) Via(serverURL string) string {
	return strings.Replace(serverURL, p.target.Host, p.ln.Addr().String(), 1)
}

// Close stops the proxy and closes every connection through it.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	conns := make([]*Conn, 0, len(p.conns))
	for _, c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	err := p.http.Close()
	for _, c := range conns {
		c.close()
	}
	return err
}

func (p *Proxy) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		p.rp.ServeHTTP(w, r)
		return
	}
	// The server's side first: a refusal there is passed on as a plain HTTP error.
	h := http.Header{}
	for _, k := range []string{"Origin", "Cookie", "User-Agent", "Accept-Language"} {
		if v := r.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	h.Set("Host", r.Host) // as a TCP proxy would: the server sees the page's own host
	dst := url.URL{Scheme: "ws", Host: p.target.Host, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	server, resp, err := websocket.DefaultDialer.DialContext(r.Context(), dst.String(), h)
	if err != nil {
		status := http.StatusBadGateway
		if resp != nil {
			status = resp.StatusCode
		}
		http.Error(w, "hostile: upstream websocket refused", status)
		return
	}
	client, err := p.up.Upgrade(w, r, nil)
	if err != nil {
		_ = server.Close()
		return
	}
	c := &Conn{p: p, client: client, server: server, over: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close()
		return
	}
	p.nextID++
	c.id = p.nextID
	p.conns[c.id] = c
	p.notifyLocked()
	p.mu.Unlock()
	go c.pump(ToServer)
	go c.pump(ToClient)
}

// AddRule installs a rule for every message received from now on; rules run in the
// order they were added, each on the output of the one before. remove takes it out.
func (p *Proxy) AddRule(r Rule) (remove func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextRul++
	id := p.nextRul
	p.rules[id] = r
	return func() {
		p.mu.Lock()
		delete(p.rules, id)
		p.mu.Unlock()
	}
}

// Drop drops every message that match reports.
func (p *Proxy) Drop(match func(Message) bool) (remove func()) {
	return p.AddRule(func(m Message) ([]byte, bool) { return m.Data, !match(m) })
}

// Rewrite passes on rewrite's result for every message it reports ok for.
func (p *Proxy) Rewrite(rewrite func(Message) (data []byte, ok bool)) (remove func()) {
	return p.AddRule(func(m Message) ([]byte, bool) {
		if d, ok := rewrite(m); ok {
			return d, true
		}
		return m.Data, true
	})
}

// Messages returns a copy of the log: every message so far, in the order handled.
func (p *Proxy) Messages() []Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Message(nil), p.log...)
}

// Find returns the messages of the log that match reports.
func (p *Proxy) Find(match func(Message) bool) []Message {
	var out []Message
	for _, m := range p.Messages() {
		if match(m) {
			out = append(out, m)
		}
	}
	return out
}

// Wait returns the first message of the log (from position from on) that match
// reports, waiting for it until ctx ends.
func (p *Proxy) Wait(ctx context.Context, from int, match func(Message) bool) (Message, error) {
	for {
		p.mu.Lock()
		for i := max(from, 0); i < len(p.log); i++ {
			if match(p.log[i]) {
				m := p.log[i]
				p.mu.Unlock()
				return m, nil
			}
		}
		from = len(p.log)
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// Conns returns the connections, open or closed, in the order they opened.
func (p *Proxy) Conns() []*Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Conn, 0, len(p.conns))
	for i := 1; i <= p.nextID; i++ {
		if c, ok := p.conns[i]; ok {
			out = append(out, c)
		}
	}
	return out
}

// ConnOf returns the newest connection whose welcome named participant id, if any.
func (p *Proxy) ConnOf(participant string) (*Conn, bool) {
	conns := p.Conns()
	for i := len(conns) - 1; i >= 0; i-- {
		if conns[i].Participant() == participant {
			return conns[i], true
		}
	}
	return nil, false
}

// Conn returns connection id (numbered from 1).
func (p *Proxy) Conn(id int) (*Conn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.conns[id]
	return c, ok
}

// Replay sends a recorded message's data again, the same way, into connection conn
// (its own or another one).
func (p *Proxy) Replay(m Message, conn int) error {
	c, ok := p.Conn(conn)
	if !ok {
		return fmt.Errorf("hostile: no connection %d", conn)
	}
	return c.Inject(m.Dir, m.Data)
}

func (p *Proxy) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// record appends m to the log and returns it with its Seq set.
func (p *Proxy) record(m Message) Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.Seq = len(p.log)
	p.log = append(p.log, m)
	p.notifyLocked()
	return m
}

func (p *Proxy) applyRules(m Message) Message {
	p.mu.Lock()
	ids := make([]int, 0, len(p.rules))
	for id := range p.rules {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	slices.Sort(ids)
	orig := m.Data
	for _, id := range ids {
		p.mu.Lock()
		r, ok := p.rules[id]
		p.mu.Unlock()
		if !ok {
			continue
		}
		data, pass := r(m) // never under the lock: a rule may call back into the proxy
		if !pass {
			m.Dropped = true
			return m
		}
		m.Data = data
	}
	if string(m.Data) != string(orig) {
		m.Original = orig
	}
	return m
}

// Conn is one websocket through the proxy: the client's side and the server's.
type Conn struct {
	p      *Proxy
	id     int
	client *websocket.Conn
	server *websocket.Conn

	mu          sync.Mutex
	participant string // from the welcome the server sent on it
	done        bool
	over        chan struct{} // closed once either side closed

	// One writer per side at a time (gorilla's rule): the pump and Inject share it.
	wClient sync.Mutex
	wServer sync.Mutex
}

// ID is the connection's number (from 1).
func (c *Conn) ID() int { return c.id }

// Participant is the participant id the server's welcome on this connection named ("" before).
func (c *Conn) Participant() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.participant
}

// Done is closed once either side of the connection closed.
func (c *Conn) Done() <-chan struct{} { return c.over }

// Closed reports whether either side closed.
func (c *Conn) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// ErrClosed is returned by Inject on a connection that is over.
var ErrClosed = errors.New("hostile: connection closed")

// Inject sends data on this connection in direction dir, as if the client (ToServer)
// or the server (ToClient) had sent it. It is recorded in the log as Injected; rules
// do not apply to it.
func (c *Conn) Inject(dir Direction, data []byte) error {
	if c.Closed() {
		return ErrClosed
	}
	c.p.record(Message{Conn: c.id, Dir: dir, Data: append([]byte(nil), data...), Injected: true})
	return c.write(dir, data)
}

func (c *Conn) write(dir Direction, data []byte) error {
	ws, mu := c.server, &c.wServer
	if dir == ToClient {
		ws, mu = c.client, &c.wClient
	}
	mu.Lock()
	defer mu.Unlock()
	return ws.WriteMessage(websocket.TextMessage, data)
}

// pump reads one side and passes each message, through the rules, to the other.
func (c *Conn) pump(dir Direction) {
	from := c.client
	if dir == ToClient {
		from = c.server
	}
	defer c.close()
	for {
		kind, data, err := from.ReadMessage()
		if err != nil {
			return
		}
		if kind != websocket.TextMessage {
			continue // the signaling protocol is text only
		}
		if dir == ToClient {
			c.learn(data)
		}
		m := c.p.applyRules(Message{Conn: c.id, Dir: dir, Data: data})
		c.p.record(m)
		if m.Dropped {
			continue
		}
		if err := c.write(dir, m.Data); err != nil {
			return
		}
	}
}

// learn notes the participant id of a welcome (protocol knowledge, to find connections).
func (c *Conn) learn(data []byte) {
	env, err := ParseEnvelope(data)
	if err != nil || env.Type != "welcome" {
		return
	}
	id, _ := env.PayloadString("participantId")
	if id == "" {
		return
	}
	c.mu.Lock()
	c.participant = id
	c.mu.Unlock()
}

func (c *Conn) close() {
	c.mu.Lock()
	already := c.done
	c.done = true
	c.mu.Unlock()
	_ = c.client.Close()
	_ = c.server.Close()
	if !already {
		close(c.over)
	}
}
