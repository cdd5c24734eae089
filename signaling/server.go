// Package signaling is Conclave's websocket protocol (PROTOCOL.md): sessions, the
// in-memory meeting registry, and the glue between them and the SFU.
package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"conclave/sfu"
)

// Config wires a Server.
type Config struct {
	Engine *sfu.Engine
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxMeetings bounds live meetings (default 1000); MaxParticipants bounds one
	// meeting (default 100).
	MaxMeetings     int
	MaxParticipants int
}

// Server serves the websocket endpoint and the meeting API.
type Server struct {
	log      *slog.Logger
	now      func() time.Time
	registry *Registry
	upgrader websocket.Upgrader

	mu       sync.Mutex
	sessions map[*Session]struct{}
	stopping bool
	wg       sync.WaitGroup
}

// NewServer makes a server; Engine is required.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxMeetings <= 0 {
		cfg.MaxMeetings = 1000
	}
	if cfg.MaxParticipants <= 0 {
		cfg.MaxParticipants = 100
	}
	return &Server{
		log:      cfg.Logger,
		now:      cfg.Now,
		registry: newRegistry(cfg.Engine, cfg.Now, cfg.MaxMeetings, cfg.MaxParticipants),
		upgrader: websocket.Upgrader{
			ReadBufferSize:  4096,
			WriteBufferSize: 4096,
			// nil CheckOrigin: gorilla refuses an Origin that is not this host.
		},
		sessions: make(map[*Session]struct{}),
	}
}

// Registry exposes the meetings (tests, metrics).
func (s *Server) Registry() *Registry { return s.registry }

// Register adds the server's routes to mux: /ws and /api/meetings.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /ws", s.serveWS)
	mux.HandleFunc("POST /api/meetings", s.createMeeting)
}

func (s *Server) createMeeting(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	m, err := s.registry.Create()
	if err != nil {
		if errors.Is(err, ErrTooManyMeetings) {
			http.Error(w, "too many meetings on this server", http.StatusServiceUnavailable)
			return
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.log.Info("meeting created", "meetings", s.registry.Len())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]string{"meetingId": m.id, "url": "/m/" + m.id})
}

// sameOrigin accepts requests without an Origin header (non-browser clients) and those
// whose Origin is this host, so another web site cannot create meetings from a visitor's
// browser.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if stopping {
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	sess := newSession(s, conn)
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		sess.abort(CloseGoingAway, "server shutting down")
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
	}()
}

// Shutdown tells every participant that the server is going away, closes their
// connections and ends all meetings. It returns when all sessions are gone or ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	for sess := range s.sessions {
		sess.requestShutdown()
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
