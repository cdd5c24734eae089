package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"conclave/lobby"
	"conclave/secret"
)

// createRequest is the optional body of POST /api/meetings.
type createRequest struct {
	Password string `json:"password"`
	// E2EE is on unless the host turns it off (nil means on).
	E2EE     *bool `json:"e2ee"`
	Settings *struct {
		Lobby       *bool `json:"lobby"`
		ScreenShare *bool `json:"screenShare"`
		Unmute      *bool `json:"unmute"`
		Chat        *bool `json:"chat"`
	} `json:"settings"`
}

// createResponse answers POST /api/meetings. The moderator secret is shown once and
// kept only as a hash.
type createResponse struct {
	MeetingID       string `json:"meetingId"`
	ModeratorSecret string `json:"moderatorSecret"`
	URL             string `json:"url"`
	ModeratorURL    string `json:"moderatorUrl"`
}

func (s *Server) createMeeting(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if status, retry := s.checkHostKey(r); status != 0 {
		switch status {
		case http.StatusUnauthorized:
			w.Header().Set("WWW-Authenticate", `Bearer realm="conclave"`)
			http.Error(w, "a valid host key is needed to create meetings", status)
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
			http.Error(w, "too many wrong host keys; try again later", status)
		default:
			http.Error(w, "internal error", status)
		}
		return
	}

	var req createRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		http.Error(w, "cannot read the request", http.StatusBadRequest)
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "the body must be a JSON object", http.StatusBadRequest)
			return
		}
	}
	if len(req.Password) > maxPasswordChars {
		http.Error(w, "password too long", http.StatusBadRequest)
		return
	}
	settings := lobby.DefaultSettings()
	if rs := req.Settings; rs != nil {
		for _, f := range []struct {
			dst *bool
			v   *bool
		}{{&settings.Lobby, rs.Lobby}, {&settings.ScreenShare, rs.ScreenShare}, {&settings.Unmute, rs.Unmute}, {&settings.Chat, rs.Chat}} {
			if f.v != nil {
				*f.dst = *f.v
			}
		}
	}
	// The moderator secret is random (192 bits): a keyed hash, no argon2. Only a
	// password a person chose pays for argon2id.
	modSecret := secret.Random(24)
	spec := meetingSpec{settings: settings, e2ee: req.E2EE == nil || *req.E2EE, modMAC: s.modKey.Sum(modSecret)}
	if req.Password != "" {
		if spec.pwHash, err = s.hasher.Hash(r.Context(), req.Password); err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	}
	m, err := s.registry.create(spec)
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
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(createResponse{
		MeetingID:       m.id,
		ModeratorSecret: modSecret,
		URL:             "/m/" + m.id,
		ModeratorURL:    "/m/" + m.id + "#mod=" + modSecret,
	})
}

// errNoSuchHost is an internal marker for a failed host-key check.
var errNoSuchHost = errors.New("signaling: wrong host key")

// checkHostKey authenticates the request's host key, throttled per source address like
// every other guess (waiting its turn for as long as the request lives). It returns 0
// when the key is good, else the HTTP status (and for 429 when to retry). A header that
// is not a host key at all is refused without counting: it guesses at nothing.
func (s *Server) checkHostKey(r *http.Request) (int, time.Duration) {
	id, sec, ok := parseHostKey(r.Header.Get("Authorization"))
	if !ok {
		return http.StatusUnauthorized, 0
	}
	turn, err := s.attempts.Begin(r.Context(), s.addrResolver.clientAddr(r), scopeHostKey)
	if err != nil {
		if ref, ok := errors.AsType[*secret.Refused](err); ok {
			s.stats.throttled.Add(1)
			return http.StatusTooManyRequests, ref.RetryAfter
		}
		return http.StatusServiceUnavailable, 0 // the request ended while it waited
	}
	switch err := s.authenticateHost(r.Context(), id, sec); {
	case err == nil:
		turn.Succeeded()
		return 0, 0
	case errors.Is(err, errNoSuchHost):
		turn.Failed()
		s.stats.wrongHost.Add(1)
		return http.StatusUnauthorized, 0
	default:
		turn.Release()
		return http.StatusInternalServerError, 0
	}
}

// parseHostKey reads "Bearer <id>.<secret>".
func parseHostKey(header string) (id, sec string, ok bool) {
	key, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return "", "", false
	}
	id, sec, ok = strings.Cut(strings.TrimSpace(key), ".")
	if !ok || id == "" || sec == "" || len(sec) > maxSecretChars {
		return "", "", false
	}
	return id, sec, true
}

// authenticateHost checks a host key against the configured hosts. New entries are
// keyed hashes (checked at once); older argon2id entries still verify.
func (s *Server) authenticateHost(ctx context.Context, id, sec string) error {
	for _, h := range s.hosts {
		if h.ID != id {
			continue
		}
		ok, err := s.hasher.Verify(ctx, sec, h.KeyHash)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return errNoSuchHost
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
