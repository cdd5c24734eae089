// Package signaling is Conclave's websocket protocol (PROTOCOL.md): sessions, the
// in-memory meeting registry, host authentication, and the glue between them, the
// access policy (lobby) and the SFU.
package signaling

import (
	"context"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"conclave/lobby"
	"conclave/secret"
	"conclave/store"
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
	// serials numbers the connections in the order they are taken (Session.serial).
	serials atomic.Uint64

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
	perAddr  map[string]int // the same, per addrGroup and per IPv6 /48 (secret.SiteOf)
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
	cfg.Lobby.MaxWaiting = min(cfg.Lobby.MaxWaiting, lobby.MaxWaitingCeiling)
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
			Error: refuseHandshake,
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
