// Package signaling is Conclave's websocket protocol (PROTOCOL.md): sessions, the
// in-memory meeting registry, host authentication, and the glue between them, the
// access policy (lobby) and the SFU.
package signaling

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"conclave/lobby"
	"conclave/secret"
	"conclave/sfu"
	"conclave/store"
)

// Host is someone allowed to create meetings: an entry of the server's configuration.
type Host struct {
	ID      string // the part of the host key before the dot
	Name    string
	KeyHash string // hash of the part after the dot: secret.KeyedHash, or argon2id (older entries)
}

// Config wires a Server.
type Config struct {
	Engine *sfu.Engine
	Logger *slog.Logger
	// Clock drives every limiter, timer and timeout; nil means the wall clock (read
	// through Now, when that is set).
	Clock Clock
	// Now is the clock's reading when Clock is nil; nil means time.Now.
	Now func() time.Time
	// Hosts may create meetings and rooms, besides the hosts in Store (both are asked).
	Hosts []Host
	// Store keeps the rooms (and the hosts `conclave host add` made); nil means an
	// empty store.Memory, gone when the process ends.
	Store RoomStore
	// Hasher checks and makes password hashes; nil means argon2id's defaults with one
	// hash per CPU at a time.
	Hasher *secret.Hasher
	// TrustForwardedFor takes the client address, for password throttling, from the
	// right-most X-Forwarded-For hop that is not one of TrustedProxies, when the request
	// comes from one of them (set it behind a reverse proxy that sets the header).
	TrustForwardedFor bool
	// TrustedProxies are the proxies whose X-Forwarded-For is believed; nil means
	// DefaultTrustedProxies (loopback).
	TrustedProxies []netip.Prefix
	// MaxMeetings bounds live meetings (default 1000); MaxParticipants bounds one
	// meeting's members (default DefaultMaxParticipants).
	MaxMeetings     int
	MaxParticipants int
	// Lobby bounds waiting rooms (its MaxMembers is MaxParticipants).
	Lobby lobby.Config
	// MaxWaitingPerAddr bounds one address's knocks waiting in one meeting, so that one
	// address cannot fill a waiting room (default DefaultMaxWaitingPerAddr).
	MaxWaitingPerAddr int
	// MaxConns bounds open websockets (default DefaultMaxConns); MaxConnsPerAddr bounds
	// those of one address, an IPv4 address or an IPv6 /64 (default
	// DefaultMaxConnsPerAddr). Both are checked before the upgrade.
	MaxConns        int
	MaxConnsPerAddr int
	// JoinTimeout is how long a new websocket may take to send an accepted join before
	// it is closed with 4408 (default DefaultJoinTimeout, on Clock).
	JoinTimeout time.Duration
	// WriteTimeout bounds one write to a peer whose TCP window stays full, in real time
	// (a socket deadline); the peer is then cut off without a close frame. Default
	// DefaultWriteTimeout. A slow consumer is normally found sooner, by its full queue.
	WriteTimeout time.Duration
	// EmptyMeetingGrace is how long a meeting that had members outlives its last
	// connection (a reload, a network change); 0 ends it at once. NewServer's callers
	// choose; cmd/conclave uses DefaultEmptyMeetingGrace.
	EmptyMeetingGrace time.Duration
	// ResumeGrace is how long an admitted member whose connection dropped stays in the
	// meeting as reconnecting, so that a new connection can take it back with its
	// resumption secret (resume.go); 0 makes a drop a leave at once. NewServer's callers
	// choose; cmd/conclave uses DefaultResumeGrace. On Clock.
	ResumeGrace time.Duration
	// ICE, when set, gives every welcome its ICE servers (the embedded TURN server with
	// fresh short-lived credentials). The credentials go to that one session and are
	// never logged.
	ICE ICESource
}

// ICESource hands out the ICE servers of one welcome; now is the server's clock,
// member the address the member's websocket comes from (as the password throttling
// sees it; invalid if unreadable), which the TURN server answers beyond the bound in
// all a flood of forged requests spends (turn.Server.ICEServersFor); it is kept in
// memory only and never logged. Revoke ends credentials it handed out: the member
// they went to is gone (left, was removed or sent back to the waiting room, or the
// meeting ended), or the welcome they were made for did not go out; whatever relays
// they opened close, and the TURN server counts a member less at their address. It
// must not block: it is called under a meeting's lock (turn.Server.Revoke ends the
// relays at once and closes their sockets later, on a goroutine of its own).
type ICESource interface {
	ICEServers(now time.Time, member netip.Addr) []ICEServer
	Revoke(servers []ICEServer)
}

// DefaultEmptyMeetingGrace lets a moderator reload the page without ending the meeting.
const DefaultEmptyMeetingGrace = time.Minute

// Defaults of the connection and admission caps. A school or an office behind one NAT
// address is one address: 200 websockets per address and 40 knocks per address per
// meeting leave room for several classes at once and a whole class knocking, while one
// address still cannot fill a waiting room (100) or the server (10,000).
const (
	DefaultMaxMeetings       = 1000 // live meetings per server (PROTOCOL.md, "Limits")
	DefaultMaxParticipants   = 100
	DefaultMaxWaitingPerAddr = 40
	DefaultMaxConns          = 10000
	DefaultMaxConnsPerAddr   = 200
	DefaultJoinTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
)

// Server serves the websocket endpoint and the meeting API.
type Server struct {
	log          *slog.Logger
	clock        Clock
	now          func() time.Time
	registry     *Registry
	meetings     meetingChecker // GET /api/meetings/{id}: the registry (rooms extend it)
	upgrader     websocket.Upgrader
	hosts        []Host
	hasher       *secret.Hasher
	attempts     *secret.Attempts
	joinTimeout  time.Duration
	resumeGrace  time.Duration
	writeWait    time.Duration
	maxConns     int
	maxPerAddr   int
	addrResolver *addrResolver
	rooms        RoomStore
	ice          ICESource   // nil: no TURN
	stats        counters    // monitoring (stats.go)
	hostTurns    hostTurns   // one room creation at a time per host (roomcap.go)
	idBudgets    idBudgets   // how fast each host makes room ids (roomcap.go)
	knocks       knockLimits // knocks per address group (knocklimit.go)

	// maxParticipants bounds a batch's envelopes; batchReadLimit is the read limit that
	// lets a member of an end-to-end encrypted meeting send one (batch.go).
	maxParticipants int
	batchReadLimit  int
	// maxWaiting is a waiting room's bound (Config.Lobby.MaxWaiting): also the most
	// knocks an admit_all or a deny_all may name (chosenKnocks).
	maxWaiting int

	mu       sync.Mutex
	sessions map[*Session]struct{}
	conns    int            // websockets open or being upgraded
	perAddr  map[string]int // the same, per addrGroup
	stopping bool
	wg       sync.WaitGroup
	stopTick func() bool // cancels the janitor's next run
}

// janitorInterval is how often expired knocks, unused meetings and expired rooms are
// swept, and the address groups no limit counts any more forgotten.
const janitorInterval = 5 * time.Second

// NewServer makes a server and starts its janitor; Engine is required. Shutdown stops it.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{now: cfg.Now}
	}
	cfg.Now = cfg.Clock.Now
	if cfg.MaxMeetings <= 0 {
		cfg.MaxMeetings = DefaultMaxMeetings
	}
	if cfg.MaxParticipants <= 0 {
		cfg.MaxParticipants = DefaultMaxParticipants
	}
	if cfg.MaxWaitingPerAddr <= 0 {
		cfg.MaxWaitingPerAddr = DefaultMaxWaitingPerAddr
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxConnsPerAddr <= 0 {
		cfg.MaxConnsPerAddr = DefaultMaxConnsPerAddr
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = DefaultJoinTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	cfg.Lobby.MaxMembers = cfg.MaxParticipants
	if cfg.Lobby.MaxWaiting <= 0 {
		cfg.Lobby.MaxWaiting = lobby.DefaultMaxWaiting
	}
	if cfg.Hasher == nil {
		cfg.Hasher = secret.NewHasher(secret.DefaultParams, runtime.NumCPU())
	}
	if cfg.Store == nil {
		cfg.Store = store.NewMemory()
	}
	if cfg.TrustedProxies == nil {
		cfg.TrustedProxies, _ = ParseProxyList(DefaultTrustedProxies)
	}
	s := &Server{
		log:          cfg.Logger,
		clock:        cfg.Clock,
		now:          cfg.Now,
		hosts:        cfg.Hosts,
		hasher:       cfg.Hasher,
		attempts:     secret.NewAttempts(cfg.Now),
		joinTimeout:  cfg.JoinTimeout,
		resumeGrace:  cfg.ResumeGrace,
		writeWait:    cfg.WriteTimeout,
		maxConns:     cfg.MaxConns,
		maxPerAddr:   cfg.MaxConnsPerAddr,
		knocks:       knockLimits{burst: float64(cfg.MaxConnsPerAddr)},
		perAddr:      make(map[string]int),
		addrResolver: &addrResolver{behindProxy: cfg.TrustForwardedFor, trusted: cfg.TrustedProxies, log: cfg.Logger},
		rooms:        cfg.Store,
		ice:          cfg.ICE,
		upgrader: websocket.Upgrader{
			// The read buffer is kept for the connection's life: most messages are a
			// few hundred bytes, and a larger one (a description, a key batch) is read
			// past the buffer into the message's own. 0 would keep net/http's 4 KB one.
			ReadBufferSize:  512,
			WriteBufferSize: 4096,
			// Members write a few messages a minute: a write buffer is borrowed for
			// each message instead of kept by every connection for its life.
			WriteBufferPool: &sync.Pool{},
			// nil CheckOrigin: gorilla refuses an Origin that is not this host.
		},
		sessions: make(map[*Session]struct{}),

		maxParticipants: cfg.MaxParticipants,
		batchReadLimit:  batchWireBytes(cfg.MaxParticipants),
		maxWaiting:      cfg.Lobby.MaxWaiting,
	}
	s.registry = newRegistry(cfg.Engine, cfg.Store, cfg.Now, cfg.MaxMeetings, cfg.MaxWaitingPerAddr, cfg.Lobby, cfg.EmptyMeetingGrace)
	s.registry.after = s.clock.AfterFunc
	if cfg.ICE != nil {
		s.registry.revokeICE = cfg.ICE.Revoke
	}
	s.meetings = s.registry
	s.armJanitor()
	return s
}

// armJanitor schedules the next sweep on the server's clock.
func (s *Server) armJanitor() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return
	}
	s.stopTick = s.clock.AfterFunc(janitorInterval, s.janitor)
}

func (s *Server) janitor() {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1) // under mu, so never after Shutdown started waiting
	s.mu.Unlock()
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), janitorInterval)
	s.registry.tick(ctx)
	cancel()
	// Addresses are kept only while they count against a limit (the privacy notice says
	// for how long): on a quiet server too, where no new guess or knock sweeps.
	s.knocks.sweep(s.now())
	s.attempts.Sweep()
	s.armJanitor()
}

// Registry exposes the meetings (tests, metrics).
func (s *Server) Registry() *Registry { return s.registry }

// EndRoom ends the live meeting of room id, if any, for everyone in it: the operator
// deleted the room, or its host, from outside the Rooms API (the admin socket).
func (s *Server) EndRoom(id string) { s.registry.endRoom(id) }

// RemoveHost removes host hostID with remove, which deletes the host and every room of
// it from the store in one step (`conclave host remove`, over the admin socket), and
// ends the live meetings of those rooms at once. It holds the host's turn (hostTurns)
// from the listing of its rooms to their deletion, so that none of them is created or
// rotated in between: a room made or a link rotated after the listing would be
// deleted with the host while a meeting started under its id ran on until the
// janitor's round. A creation that waited for the turn finds the host gone and makes
// nothing (errHostGone), a rotation or change finds no room. It returns how many
// rooms the host had.
func (s *Server) RemoveHost(ctx context.Context, hostID string, remove func(context.Context) error) (rooms int, err error) {
	release := s.hostTurns.take(hostID)
	defer release()
	mine, err := s.rooms.Rooms(ctx, hostID)
	if err != nil {
		return 0, err
	}
	if err := remove(ctx); err != nil {
		return 0, err
	}
	for _, r := range mine {
		s.registry.endRoom(r.ID)
	}
	return len(mine), nil
}

// Register adds the server's routes to mux: /ws, /api/meetings, /api/meetings/{id}
// (GET and HEAD: can a meeting be joined under that id) and /api/rooms; and the API's
// refusals of other methods on them and of other paths under /api/
// (registerAPIRefusals), where the web client's GET /api/notice is to be mounted
// besides "/" (web.NoticePath).
func (s *Server) Register(mux *http.ServeMux) {
	routes := apiRoutes{}
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, withAPIHeaders(h))
		routes.add(pattern)
	}
	handle("GET /ws", s.serveWS)
	handle("POST /api/meetings", s.createMeeting)
	handle("GET /api/meetings/{id}", s.meetingStatus)
	s.registerRooms(handle)
	routes.registerAPIRefusals(mux)
}

// apiHeaders are set on every answer of the routes here, refusals included, as the web
// client's files have theirs (web.Handler): nothing of an answer is to be read as a
// page, a script or a style, embedded in a frame, fetched from another origin, or given a
// referrer.
var apiHeaders = [][2]string{
	{"X-Content-Type-Options", "nosniff"},
	{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{"Referrer-Policy", "no-referrer"},
}

func withAPIHeaders(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, kv := range apiHeaders {
			w.Header().Set(kv[0], kv[1])
		}
		h(w, r)
	})
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	addr := s.addrResolver.clientAddr(r)
	group := addrGroup(addr)
	if status, msg := s.reserveConn(group); status != 0 {
		http.Error(w, msg, status)
		return
	}
	hw := &holdingWriter{ResponseWriter: w}
	conn, err := s.upgrader.Upgrade(hw, r, nil)
	if err != nil {
		s.releaseConn(group)
		return // the upgrader has answered
	}
	sess := newSession(s, conn, addr)
	sess.held = hw.conn
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		sess.abort(CloseGoingAway, "server shutting down")
		s.releaseConn(group)
		return
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()

	go func() {
		defer s.wg.Done()
		sess.serve()
		s.mu.Lock()
		delete(s.sessions, sess)
		s.mu.Unlock()
		s.releaseConn(group)
	}()
}

// reserveConn takes a websocket slot for group before the upgrade, or says why not
// (an HTTP status and a body for people).
func (s *Server) reserveConn(group string) (status int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopping:
		s.stats.refusedStopping.Add(1)
		return http.StatusServiceUnavailable, "server is shutting down"
	case s.conns >= s.maxConns:
		s.stats.refusedFull.Add(1)
		return http.StatusServiceUnavailable, "the server has too many connections; try again later"
	case s.perAddr[group] >= s.maxPerAddr:
		s.stats.refusedAddr.Add(1)
		return http.StatusTooManyRequests, "too many connections from your address; close some meetings or tabs"
	}
	s.conns++
	s.perAddr[group]++
	return 0, ""
}

func (s *Server) releaseConn(group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns--
	if s.perAddr[group]--; s.perAddr[group] <= 0 {
		delete(s.perAddr, group)
	}
}

// Shutdown tells every participant that the server is going away, closes their
// connections and ends all meetings. It returns when all sessions are gone or ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	for sess := range s.sessions {
		sess.requestShutdown()
	}
	if s.stopTick != nil {
		s.stopTick()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.mu.Lock()
		for sess := range s.sessions {
			sess.abort(CloseGoingAway, "server shutting down")
		}
		s.mu.Unlock()
		<-done
	}
	s.registry.closeAll()
	return err
}

// iceServers returns the ICE servers of the welcome of a member whose websocket comes
// from addr (Session.addr), nil without TURN.
func (s *Server) iceServers(addr string) []ICEServer {
	if s.ice == nil {
		return nil
	}
	member, _ := netip.ParseAddr(addr) // invalid if unreadable: nothing expected
	return s.ice.ICEServers(s.now(), member)
}
