package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"conclave/lobby"
	"conclave/secret"
	"conclave/store"
)

// OneOffRoomLifetime is how long the room of POST /api/meetings lasts: its links work
// for a day (a meeting later the same day, a dropped call rejoined), then the room is
// deleted. Hosts who want longer or shorter make a room with /api/rooms.
const OneOffRoomLifetime = 24 * time.Hour

// maxMeetingBody bounds the body of POST /api/meetings; a larger one is refused (413),
// never judged by its first part.
const maxMeetingBody = 4096

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
		writeJSONError(w, errCrossOrigin)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	hostID, status, retry := s.checkHostKey(r)
	if status != 0 {
		switch status {
		case http.StatusUnauthorized:
			w.Header().Set("WWW-Authenticate", `Bearer realm="conclave"`)
			writeJSONError(w, &apiError{status: status, msg: "a valid host key is needed to create meetings"})
		case http.StatusTooManyRequests:
			setRetryAfter(w, retry)
			writeJSONError(w, &apiError{status: status, msg: "too many wrong host keys; try again later"})
		default:
			// 503 (the request ended while it waited its turn) or 500 (the store failed):
			// as the Rooms API says it (roomsHandler); "internal error" for a 503, whose
			// code is `unavailable`, told clients the server had failed.
			writeJSONError(w, &apiError{status: status, msg: "cannot check the host key now; try again"})
		}
		return
	}

	var req createRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxMeetingBody+1))
	if err != nil {
		writeJSONError(w, badRequest("cannot read the request"))
		return
	}
	if len(body) > maxMeetingBody {
		writeJSONError(w, &apiError{status: http.StatusRequestEntityTooLarge, msg: "the body is larger than 4096 bytes"})
		return
	}
	if err := decodeObjectBody(body, &req); err != nil {
		writeJSONError(w, badRequest("the body must be a JSON object"))
		return
	}
	if passwordTooLong(req.Password) {
		writeJSONError(w, badRequest("password too long"))
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
	now := s.now()
	room := store.Room{
		ID:            secret.Random(16),
		HostID:        hostID,
		Settings:      store.Settings{Lobby: settings.Lobby, ScreenShare: settings.ScreenShare, Unmute: settings.Unmute, Chat: settings.Chat},
		E2EE:          req.E2EE == nil || *req.E2EE,
		ModeratorMAC:  secret.KeyedHash(modSecret),
		ModeratorMade: true,
		Created:       now.UTC(),
		Expires:       now.Add(OneOffRoomLifetime).UTC(),
	}
	if req.Password != "" {
		if room.PasswordHash, err = s.hasher.Hash(r.Context(), req.Password); err != nil {
			writeJSONError(w, errInternal)
			return
		}
	}
	var fast *newIDsTooFast
	if err := s.createBounded(r.Context(), room); errors.Is(err, errTooManyRooms) {
		writeJSONError(w, &apiError{status: http.StatusForbidden, code: codeRoomLimit, msg: "this host has too many rooms; delete some first"})
		return
	} else if errors.Is(err, errHostGone) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="conclave"`)
		writeJSONError(w, &apiError{status: http.StatusUnauthorized, msg: "a valid host key is needed to create meetings"})
		return
	} else if errors.As(err, &fast) {
		writeJSONError(w, &apiError{status: http.StatusTooManyRequests, retry: fast.retry, code: codeTooFast, msg: "meetings are being made too fast by this host; try again later"})
		return
	} else if err != nil {
		s.log.Warn("api: cannot store a room", "err", err)
		writeJSONError(w, errInternal)
		return
	}
	s.log.Info("one-off room created")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(createResponse{
		MeetingID:       room.ID,
		ModeratorSecret: modSecret,
		URL:             "/m/" + room.ID,
		ModeratorURL:    "/m/" + room.ID + "#mod=" + modSecret,
	})
}

// errNoSuchHost is an internal marker for a failed host-key check.
var errNoSuchHost = errors.New("signaling: wrong host key")

// checkHostKey authenticates the request's host key, throttled per source address like
// every other guess (waiting its turn for as long as the request lives). It returns 0
// and the host's id when the key is good, else the HTTP status (and for 429 when to
// retry). A header that is not a host key at all is refused without counting: it
// guesses at nothing.
func (s *Server) checkHostKey(r *http.Request) (hostID string, status int, retry time.Duration) {
	id, sec, ok := parseHostKey(r.Header.Get("Authorization"))
	if !ok {
		return "", http.StatusUnauthorized, 0
	}
	if s.rightHostKey(r.Context(), id, sec) {
		// A right random key is never held back by its address's guesses
		// (rightRandomSecret), and forgives them as a right guess does.
		s.attempts.Forgive(s.addrResolver.clientAddr(r), scopeHostKey)
		return id, 0, 0
	}
	turn, err := s.attempts.Begin(r.Context(), s.addrResolver.clientAddr(r), scopeHostKey)
	if err != nil {
		if ref, ok := errors.AsType[*secret.Refused](err); ok {
			s.stats.throttled.Add(1)
			return "", http.StatusTooManyRequests, ref.RetryAfter
		}
		return "", http.StatusServiceUnavailable, 0 // the request ended while it waited
	}
	switch err := s.authenticateHost(r.Context(), id, sec); {
	case err == nil:
		turn.Succeeded()
		return id, 0, 0
	case errors.Is(err, errNoSuchHost):
		turn.Failed()
		s.stats.wrongHost.Add(1)
		return "", http.StatusUnauthorized, 0
	default:
		turn.Release()
		return "", http.StatusInternalServerError, 0
	}
}

// rightHostKey reports whether sec is the right secret of host id by a keyed hash (cheap,
// constant time); argon2id entries are left to the throttled check.
func (s *Server) rightHostKey(ctx context.Context, id, sec string) bool {
	hashes, err := s.hostHashes(ctx, id)
	return err == nil && slices.ContainsFunc(hashes, func(hash string) bool { return rightRandomSecret(s.hasher, sec, hash) })
}

// hostHashes are the stored hashes of host id's key: the configured hosts', then the
// store's (`conclave host add`).
func (s *Server) hostHashes(ctx context.Context, id string) ([]string, error) {
	hashes := make([]string, 0, 2)
	for _, h := range s.hosts {
		if h.ID == id {
			hashes = append(hashes, h.KeyHash)
		}
	}
	switch h, err := s.rooms.Host(ctx, id); {
	case err == nil:
		hashes = append(hashes, h.KeyHash)
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return hashes, nil
}

// maxHostIDChars bounds the id of a host key. `conclave host add` makes ids of 12 hex
// digits; an id moved from an older configuration file may be another base64url word,
// and no longer one: an id is a store key, and a header of any length was looked up
// and counted as a guess.
const maxHostIDChars = 64

// authScheme is the scheme of a host key's Authorization header. RFC 9110 (section
// 11.1) makes a scheme's name case-insensitive: "bearer" and "BEARER" are the same.
const authScheme = "Bearer"

// parseHostKey reads "Bearer <id>.<secret>" (PROTOCOL.md, "Rooms API"): the scheme in any
// case, one space, then a host key as ParseHostKey takes it (spaces around it are
// dropped). Anything else is no host key: it is refused before the store is asked, a
// hash computed or a guess counted.
func parseHostKey(header string) (id, sec string, ok bool) {
	if len(header) <= len(authScheme) || !strings.EqualFold(header[:len(authScheme)], authScheme) || header[len(authScheme)] != ' ' {
		return "", "", false
	}
	return ParseHostKey(strings.TrimSpace(header[len(authScheme)+1:]))
}

// ParseHostKey reads a host key "<id>.<secret>": an id of 1 to maxHostIDChars
// characters of base64url and a secret of 1 to maxSecretChars (one that `conclave host
// add` makes has 43). It is the server's one rule for a host key's form, which
// `conclave room` applies to a host link's key before it sends any request.
func ParseHostKey(key string) (id, sec string, ok bool) {
	id, sec, ok = strings.Cut(key, ".")
	if !ok || id == "" || len(id) > maxHostIDChars || !isBase64URL(id) ||
		sec == "" || len(sec) > maxSecretChars || !isBase64URL(sec) {
		return "", "", false
	}
	return id, sec, true
}

// authenticateHost checks a host key against the configured hosts, then the store's
// (`conclave host add`). New entries are keyed hashes (checked at once); older argon2id
// entries still verify.
func (s *Server) authenticateHost(ctx context.Context, id, sec string) error {
	hashes, err := s.hostHashes(ctx, id)
	if err != nil {
		return err
	}
	for _, hash := range hashes {
		ok, err := s.hasher.Verify(ctx, sec, hash)
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
