// Package testclient is a Conclave participant made of gorilla/websocket and Pion, for
// integration tests and the load generator: it speaks the signaling protocol, publishes
// real RTP and records what it receives. It only talks to loopback addresses.
package testclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// Message is a received envelope.
type Message struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Ref     string          `json:"ref,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Raw     []byte          `json:"-"`
}

// Client is one participant.
type Client struct {
	ws  *websocket.Conn
	api *webrtc.API

	wmu   sync.Mutex // serialises websocket writes
	subMu sync.Mutex // serialises subscribe offer handling
	seq   atomic.Int64
	inbox chan Message
	done  chan struct{}
	// arrived is poked (never blocking) after each message is recorded, so that a
	// reader of AllFrom learns of new messages without polling and without the
	// inbox's risk of dropping any.
	arrived chan struct{}

	mu        sync.Mutex
	all       []Message // every message received, in order
	pub       *webrtc.PeerConnection
	sub       *webrtc.PeerConnection
	midInfo   map[string]TrackInfo
	received  map[string]*Received // key: participantID/source
	closeErr  error
	subErrors []error
	subOffers int        // subscribe offers taken (SubscribeOffers)
	subHooks  subHooks   // misbehaviour on subscribe offers, for tests (media.go)
	joinName  string     // the name of the last join sent (knocknames.go)
	book      *KnockBook // where knock nonces are recorded (knocknames.go)

	closers []func() error // what Close releases besides the connections (shaped.go)

	ParticipantID string
	// ResumeSecret is the resumption secret of the last welcome (PROTOCOL.md,
	// "Reconnecting").
	ResumeSecret string
	// Speakers is the last welcome's `speakers`: the server tells who speaks.
	Speakers bool
	// SettingsRevision is the last welcome's `settingsRevision`, the revision of the
	// meeting's settings it carried (an update_settings names the one it is based on).
	SettingsRevision uint64
}

// TrackInfo mirrors the subscribe offer's track list.
type TrackInfo struct {
	Mid           string `json:"mid"`
	ParticipantID string `json:"participantId"`
	Source        string `json:"source"`
	Kind          string `json:"kind"`
}

// Received is what arrived on one subscribed track.
type Received struct {
	mu       sync.Mutex
	payloads [][]byte
}

// Payloads returns copies of the payloads received so far.
func (r *Received) Payloads() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.payloads...)
}

// Count is the number of packets received.
func (r *Received) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.payloads)
}

// NewAPI makes a Pion API that gathers only loopback candidates, over UDP.
func NewAPI() (*webrtc.API, error) { return newAPI(webrtc.NetworkTypeUDP4) }

// UseICETCPOnly makes the client's next peer connections use ICE over TCP only, as a
// client behind a firewall that blocks UDP would.
func (c *Client) UseICETCPOnly() error {
	api, err := newAPI(webrtc.NetworkTypeTCP4)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.api = api
	c.mu.Unlock()
	return nil
}

func newAPI(network webrtc.NetworkType) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(loopbackSettings(network))), nil
}

// loopbackSettings gather only loopback candidates of one network type.
func loopbackSettings(network webrtc.NetworkType) webrtc.SettingEngine {
	var s webrtc.SettingEngine
	s.SetIncludeLoopbackCandidate(true)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	s.SetNetworkTypes([]webrtc.NetworkType{network})
	return s
}

// Dial opens the websocket at wsURL (ws://127.0.0.1:port/ws).
func Dial(ctx context.Context, wsURL string) (*Client, error) {
	return DialFrom(ctx, wsURL, nil)
}

// DialFrom is Dial from a given local address, such as 127.0.0.2, so that a test can
// stand for clients on different machines.
func DialFrom(ctx context.Context, wsURL string, local net.IP) (*Client, error) {
	api, err := NewAPI()
	if err != nil {
		return nil, err
	}
	dialer := *websocket.DefaultDialer
	if local != nil {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: local}}
		dialer.NetDialContext = nd.DialContext
	}
	ws, _, err := dialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		return nil, err
	}
	c := &Client{
		ws:       ws,
		api:      api,
		inbox:    make(chan Message, 1024),
		done:     make(chan struct{}),
		arrived:  make(chan struct{}, 1),
		midInfo:  make(map[string]TrackInfo),
		received: make(map[string]*Received),
	}
	go c.readLoop()
	return c, nil
}

// SendRaw writes one websocket text message as is.
func (c *Client) SendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// SendBinary writes one websocket binary message.
func (c *Client) SendBinary(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// Send writes an envelope and returns its id.
func (c *Client) Send(typ string, payload any) (string, error) {
	id := strconv.FormatInt(c.seq.Add(1), 10)
	env := map[string]any{"type": typ, "id": id}
	if payload != nil {
		env["payload"] = payload
	}
	b, err := json.Marshal(env)
	if err != nil {
		return "", err
	}
	return id, c.SendRaw(b)
}

// Next returns the next message that the client did not handle itself (subscribe offers
// are answered automatically), or an error when ctx ends or the connection closes.
func (c *Client) Next(ctx context.Context) (Message, error) {
	select {
	case m := <-c.inbox:
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	case <-c.done:
		select {
		case m := <-c.inbox:
			return m, nil
		default:
		}
		return Message{}, c.CloseError()
	}
}

// Expect returns the next message of type typ, skipping others.
func (c *Client) Expect(ctx context.Context, typ string) (Message, error) {
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return m, fmt.Errorf("waiting for %q: %w", typ, err)
		}
		if m.Type == typ {
			return m, nil
		}
	}
}

// ErrNotPong is Sync's error when the server answered its ping with something else
// (an error: too many pings).
var ErrNotPong = errors.New("ping not answered with a pong")

// Sync sends a ping and returns once its pong has come, with the messages that came
// before it (taken from the inbox, which then holds only later ones; All keeps them).
// The server answers a ping in the order it handles the connection's messages and
// queues the pong behind everything queued for the connection before (PROTOCOL.md,
// "Transport"): what it sent this connection while handling what it took before has
// arrived by then. A ping changes nothing; a connection may send 5 at once, then one
// every 5 s of the server's clock.
func (c *Client) Sync(ctx context.Context) ([]Message, error) {
	id, err := c.Send("ping", map[string]int{"n": 0})
	if err != nil {
		return nil, err
	}
	var before []Message
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return before, fmt.Errorf("waiting for the pong: %w", err)
		}
		if m.Ref == id {
			if m.Type != "pong" {
				return before, fmt.Errorf("%w: %s %s", ErrNotPong, m.Type, m.Payload)
			}
			return before, nil
		}
		before = append(before, m)
	}
}

// All is every message received so far, including handled subscribe offers.
func (c *Client) All() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.all...)
}

// AllFrom is every message received after the first n, in order: with Arrived, a way
// to follow every message as it comes, none dropped.
func (c *Client) AllFrom(n int) []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n >= len(c.all) {
		return nil
	}
	return append([]Message(nil), c.all[n:]...)
}

// Arrived receives a signal after messages arrived (one for several, when the reader is
// behind); read them with AllFrom.
func (c *Client) Arrived() <-chan struct{} { return c.arrived }

// Done is closed when the websocket has closed.
func (c *Client) Done() <-chan struct{} { return c.done }

// CloseError is the websocket's close error (a *websocket.CloseError for a close frame).
func (c *Client) CloseError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// CloseCode is the code of the close frame received, or 0.
func (c *Client) CloseCode() int {
	var ce *websocket.CloseError
	if errors.As(c.CloseError(), &ce) {
		return ce.Code
	}
	return 0
}

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.closeErr = err
			c.mu.Unlock()
			return
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			m = Message{Type: "<invalid>"}
		}
		m.Raw = b
		if m.Type == "lobby" {
			c.noteLobby(m.Payload) // before a test can see the message (knocknames.go)
		}
		c.mu.Lock()
		c.all = append(c.all, m)
		c.mu.Unlock()
		select {
		case c.arrived <- struct{}{}:
		default: // already poked: the reader will see this message too
		}
		if m.Type == "subscribe_offer" {
			go c.answerSubscribe(m)
			continue
		}
		select {
		case c.inbox <- m:
		default: // a test that does not read its inbox does not block the client
		}
	}
}

// Join sends join and waits for welcome.
func (c *Client) Join(ctx context.Context, meetingID, name string) error {
	return c.JoinWith(ctx, map[string]any{"meetingId": meetingID, "name": name})
}

// SendJoin sends a join with the given payload fields (version, the E2EE format version
// and media are added; fields may override them).
func (c *Client) SendJoin(fields map[string]any) error {
	p := map[string]any{"version": 1, "e2ee": 6, "media": map[string]bool{"mic": true, "camera": true}}
	for k, v := range fields {
		p[k] = v
	}
	if name, ok := p["name"].(string); ok {
		c.mu.Lock()
		c.joinName = name
		c.mu.Unlock()
	}
	_, err := c.Send("join", p)
	return err
}

// JoinWith sends a join with the given payload fields and waits for welcome, passing
// through a lobby wait (a test admits the client meanwhile).
func (c *Client) JoinWith(ctx context.Context, fields map[string]any) error {
	if err := c.SendJoin(fields); err != nil {
		return err
	}
	return c.AwaitWelcome(ctx)
}

// AwaitWelcome waits for welcome, skipping lobby messages.
func (c *Client) AwaitWelcome(ctx context.Context) error {
	var m Message
	for {
		var err error
		if m, err = c.Next(ctx); err != nil {
			return err
		}
		if m.Type != "lobby" {
			break
		}
	}
	if m.Type != "welcome" {
		return fmt.Errorf("join: got %s %s", m.Type, m.Payload)
	}
	var w struct {
		ParticipantID string `json:"participantId"`
		ResumeSecret  string `json:"resumeSecret"`
		Speakers      bool   `json:"speakers"`
		SettingsRev   uint64 `json:"settingsRevision"`
	}
	if err := json.Unmarshal(m.Payload, &w); err != nil {
		return err
	}
	c.ParticipantID, c.ResumeSecret, c.Speakers = w.ParticipantID, w.ResumeSecret, w.Speakers
	c.SettingsRevision = w.SettingsRev
	return nil
}

// SendResume sends a resume for participantID with secret (version and media are
// added; fields override them).
func (c *Client) SendResume(meetingID, participantID, secret string, fields map[string]any) error {
	p := map[string]any{"version": 1, "meetingId": meetingID, "participantId": participantID, "secret": secret,
		"media": map[string]bool{"mic": true, "camera": true}}
	for k, v := range fields {
		p[k] = v
	}
	_, err := c.Send("resume", p)
	return err
}

// Resume takes a dropped membership back on this connection and waits for its welcome.
func (c *Client) Resume(ctx context.Context, meetingID, participantID, secret string) error {
	if err := c.SendResume(meetingID, participantID, secret, nil); err != nil {
		return err
	}
	return c.AwaitWelcome(ctx)
}

// Close closes the peer connections and the websocket.
func (c *Client) Close() {
	c.mu.Lock()
	pub, sub := c.pub, c.sub
	c.mu.Unlock()
	if pub != nil {
		_ = pub.Close()
	}
	if sub != nil {
		_ = sub.Close()
	}
	_ = c.ws.Close()
	<-c.done
	c.mu.Lock()
	closers := c.closers
	c.closers = nil
	c.mu.Unlock()
	for _, f := range closers {
		_ = f()
	}
}

// Leave sends leave and waits for the server to close the connection.
func (c *Client) Leave(ctx context.Context) error {
	if _, err := c.Send("leave", nil); err != nil {
		return err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	c.Close()
	return nil
}
