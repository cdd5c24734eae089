package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"conclave/lobby"
	"conclave/secret"
	"conclave/store"
)

// Bounds of the rooms API (PROTOCOL.md, "Rooms API").
const (
	maxRoomBody        = 8 << 10 // bytes of one request body
	maxTitleChars      = 1024    // an encrypted title, "e1.…"
	minModSecretChars  = 22      // 128 bits of base64url
	maxRoomsPerHost    = 1000
	roomIDChars        = 22 // 128 bits of base64url, unpadded
	titleVersionPrefix = "e1."
)

// registerRooms adds the rooms API with handle (Register's).
func (s *Server) registerRooms(handle func(pattern string, h http.HandlerFunc)) {
	handle("POST /api/rooms", s.roomsHandler(s.createRoom))
	handle("GET /api/rooms", s.roomsHandler(s.listRooms))
	handle("GET /api/rooms/{id}", s.roomsHandler(s.getRoom))
	handle("PATCH /api/rooms/{id}", s.roomsHandler(s.patchRoom))
	handle("POST /api/rooms/{id}/rotate", s.roomsHandler(s.rotateRoom))
	handle("DELETE /api/rooms/{id}", s.roomsHandler(s.deleteRoom))
}

// roomsHandler checks origin and host key (throttled like every guess) and answers
// h's refusal as JSON.
func (s *Server) roomsHandler(h func(r *http.Request, hostID string) (int, any, *apiError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !sameOrigin(r) {
			writeJSONError(w, errCrossOrigin)
			return
		}
		hostID, status, retry := s.checkHostKey(r)
		switch status {
		case 0:
		case http.StatusUnauthorized:
			w.Header().Set("WWW-Authenticate", `Bearer realm="conclave"`)
			writeJSONError(w, &apiError{status: status, msg: "a valid host key is needed"})
			return
		case http.StatusTooManyRequests:
			setRetryAfter(w, retry)
			writeJSONError(w, &apiError{status: status, msg: "too many wrong host keys; try again later"})
			return
		default:
			writeJSONError(w, &apiError{status: status, msg: "cannot check the host key now; try again"})
			return
		}
		code, body, aerr := h(r, hostID)
		if aerr != nil {
			writeJSONError(w, aerr)
			return
		}
		if body == nil {
			w.WriteHeader(code)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	}
}

// roomView is what the API shows of a room: never a hash.
type roomView struct {
	ID          string         `json:"id"`
	Title       string         `json:"title"`
	Settings    store.Settings `json:"settings"`
	E2EE        bool           `json:"e2ee"`
	PasswordSet bool           `json:"passwordSet"`
	Created     time.Time      `json:"created"`
	Expires     *time.Time     `json:"expires,omitempty"`
	URL         string         `json:"url"`
}

func viewOf(r store.Room) roomView {
	v := roomView{ID: r.ID, Title: r.Title, Settings: r.Settings, E2EE: r.E2EE, PasswordSet: r.PasswordHash != "", Created: r.Created.UTC(), URL: "/m/" + r.ID}
	if !r.Expires.IsZero() {
		t := r.Expires.UTC()
		v.Expires = &t
	}
	return v
}

// roomCreated answers create and rotate: the moderator secret only when the server
// made it, the one time it is shown.
type roomCreated struct {
	Room            roomView `json:"room"`
	ModeratorSecret string   `json:"moderatorSecret,omitempty"`
}

func (s *Server) createRoom(r *http.Request, hostID string) (int, any, *apiError) {
	req, aerr := readRoomRequest(r, s.now())
	if aerr != nil {
		return 0, nil, aerr
	}
	ctx := r.Context()
	pwHash, aerr := s.newPasswordHash(ctx, req)
	if aerr != nil {
		return 0, nil, aerr
	}
	now := s.now()
	d := lobby.DefaultSettings()
	id, modSecret, made := roomCredentials(req.ID, req.ModeratorSecret)
	room := store.Room{
		ID:            id,
		HostID:        hostID,
		Settings:      store.Settings{Lobby: d.Lobby, ScreenShare: d.ScreenShare, Unmute: d.Unmute, Chat: d.Chat},
		E2EE:          true,
		Created:       now.UTC(),
		ModeratorMAC:  secret.KeyedHash(modSecret),
		ModeratorMade: made,
	}
	applyChange(&room, req, pwHash)
	var fast *newIDsTooFast
	switch err := s.createBounded(ctx, room); {
	case errors.Is(err, errTooManyRooms):
		return 0, nil, &apiError{status: http.StatusForbidden, code: codeRoomLimit, msg: fmt.Sprintf("a host may keep at most %d rooms; delete some first", maxRoomsPerHost)}
	case errors.As(err, &fast):
		return 0, nil, tooFast(fast)
	case errors.Is(err, errHostGone):
		return 0, nil, errHostKeyGone
	case errors.Is(err, store.ErrExists):
		return 0, nil, &apiError{status: http.StatusConflict, msg: "that id is or was a room's; choose another id"}
	case err != nil:
		return 0, nil, s.storeError(err)
	}
	s.log.Info("room created", "standing", room.Expires.IsZero())
	out := roomCreated{Room: viewOf(room)}
	if made {
		out.ModeratorSecret = modSecret
	}
	return http.StatusCreated, out, nil
}

func (s *Server) listRooms(r *http.Request, hostID string) (int, any, *apiError) {
	rooms, err := s.rooms.Rooms(r.Context(), hostID)
	if err != nil {
		return 0, nil, s.storeError(err)
	}
	now := s.now()
	views := make([]roomView, 0, len(rooms))
	for _, room := range rooms {
		if !room.Expired(now) { // expired ones are deleted by the janitor
			views = append(views, viewOf(room))
		}
	}
	return http.StatusOK, map[string][]roomView{"rooms": views}, nil
}

func (s *Server) getRoom(r *http.Request, hostID string) (int, any, *apiError) {
	room, aerr := s.hostRoom(r, hostID)
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, viewOf(room), nil
}

func (s *Server) patchRoom(r *http.Request, hostID string) (int, any, *apiError) {
	req, aerr := readRoomRequest(r, s.now())
	if aerr != nil {
		return 0, nil, aerr
	}
	if req.ID != nil || req.ModeratorSecret != nil {
		return 0, nil, badRequest("id and moderatorSecret change only by POST /api/rooms/{id}/rotate")
	}
	pwHash, aerr := s.newPasswordHash(r.Context(), req)
	if aerr != nil {
		return 0, nil, aerr
	}
	// One change of the host's rooms at a time, from its read to its write: two at
	// once both read the room, and the later write put back what the earlier one
	// changed (lost, with a 200 for both).
	release := s.hostTurns.take(hostID)
	defer release()
	room, aerr := s.hostRoom(r, hostID)
	if aerr != nil {
		return 0, nil, aerr
	}
	before := room
	applyChange(&room, req, pwHash)
	if err := s.rooms.UpdateRoom(r.Context(), room.ID, room); err != nil {
		return 0, nil, s.storeError(err)
	}
	if !sameMeetingFields(before, room) {
		// A meeting nobody is in is dropped: the next person starts one from the
		// changed room. One going on keeps its settings (its expiry is the room's).
		s.registry.roomChanged(room.ID)
	}
	if req.ExpiresSet {
		s.registry.roomExpiry(room.ID, room.Expires) // from its expiry on, nobody new in
	}
	s.log.Info("room changed")
	return http.StatusOK, viewOf(room), nil
}

func (s *Server) rotateRoom(r *http.Request, hostID string) (int, any, *apiError) {
	req, aerr := readRoomRequest(r, s.now())
	if aerr != nil {
		return 0, nil, aerr
	}
	if req.Password != nil || req.Settings != nil || req.E2EE != nil || req.ExpiresSet {
		return 0, nil, badRequest("rotate takes only id, moderatorSecret and title; change the rest with PATCH")
	}
	release := s.hostTurns.take(hostID) // as patchRoom: a change made meanwhile is not put back
	defer release()
	room, aerr := s.hostRoom(r, hostID)
	if aerr != nil {
		return 0, nil, aerr
	}
	oldID := room.ID
	var modSecret string
	var made bool
	room.ID, modSecret, made = roomCredentials(req.ID, req.ModeratorSecret)
	if room.ID == oldID {
		return 0, nil, badRequest("the new id must differ from the old one")
	}
	if req.Title != nil {
		room.Title = *req.Title
	}
	room.ModeratorMAC, room.ModeratorMade = secret.KeyedHash(modSecret), made
	var fast *newIDsTooFast
	if errors.As(s.idBudgets.take(hostID, s.now()), &fast) {
		return 0, nil, tooFast(fast)
	}
	switch err := s.rooms.UpdateRoom(r.Context(), oldID, room); {
	case errors.Is(err, store.ErrExists):
		s.idBudgets.giveBack(hostID, s.now()) // no id was made
		return 0, nil, &apiError{status: http.StatusConflict, msg: "that id is or was a room's; choose another id"}
	case err != nil:
		s.idBudgets.giveBack(hostID, s.now())
		return 0, nil, s.storeError(err)
	}
	// The old links stop at once: a meeting going on under them ends (bye ended).
	s.registry.endRoom(oldID)
	s.log.Info("room links rotated")
	out := roomCreated{Room: viewOf(room)}
	if made {
		out.ModeratorSecret = modSecret
	}
	return http.StatusOK, out, nil
}

func (s *Server) deleteRoom(r *http.Request, hostID string) (int, any, *apiError) {
	room, aerr := s.hostRoom(r, hostID)
	if aerr != nil {
		return 0, nil, aerr
	}
	if err := s.rooms.DeleteRoom(r.Context(), room.ID); err != nil {
		return 0, nil, s.storeError(err)
	}
	s.registry.endRoom(room.ID)
	s.log.Info("room deleted")
	return http.StatusNoContent, nil, nil
}

// hostRoom loads the room of the path's id if it is the host's: another host's room is
// answered like one that does not exist.
func (s *Server) hostRoom(r *http.Request, hostID string) (store.Room, *apiError) {
	id := r.PathValue("id")
	if !validRoomID(id) {
		return store.Room{}, errNoSuchRoom
	}
	room, err := s.rooms.Room(r.Context(), id)
	if err != nil {
		return store.Room{}, s.storeError(err)
	}
	if room.HostID != hostID || room.Expired(s.now()) {
		return store.Room{}, errNoSuchRoom
	}
	return room, nil
}

func (s *Server) storeError(err error) *apiError {
	if errors.Is(err, store.ErrNotFound) {
		return errNoSuchRoom
	}
	if !errors.Is(err, context.Canceled) {
		s.log.Warn("api: room store failed", "err", err)
	}
	return errInternal
}

// newPasswordHash hashes the request's password (argon2id) before the room is read: nil
// when the request leaves the password as it is, "" when it removes it.
func (s *Server) newPasswordHash(ctx context.Context, req roomRequest) (*string, *apiError) {
	if req.Password == nil {
		return nil, nil
	}
	h := ""
	if *req.Password != "" {
		var err error
		if h, err = s.hasher.Hash(ctx, *req.Password); err != nil {
			return nil, errInternal
		}
	}
	return &h, nil
}

// applyChange sets the request's fields on room, the password as its hash pwHash
// (newPasswordHash).
func applyChange(room *store.Room, req roomRequest, pwHash *string) {
	if req.Title != nil {
		room.Title = *req.Title
	}
	if req.E2EE != nil {
		room.E2EE = *req.E2EE
	}
	if rs := req.Settings; rs != nil {
		for _, f := range []struct {
			dst *bool
			v   *bool
		}{{&room.Settings.Lobby, rs.Lobby}, {&room.Settings.ScreenShare, rs.ScreenShare}, {&room.Settings.Unmute, rs.Unmute}, {&room.Settings.Chat, rs.Chat}} {
			if f.v != nil {
				*f.dst = *f.v
			}
		}
	}
	if req.ExpiresSet {
		room.Expires = req.Expires
	}
	if pwHash != nil {
		room.PasswordHash = *pwHash
	}
}

// roomCredentials takes the room id and moderator secret a host's browser chose (so it
// can derive the room's keys and show the links again), or makes them; made says the
// server made the moderator secret and must show it once.
func roomCredentials(id, modSecret *string) (string, string, bool) {
	roomID, mod, made := secret.Random(16), secret.Random(24), true
	if id != nil {
		roomID = *id
	}
	if modSecret != nil {
		mod, made = *modSecret, false
	}
	return roomID, mod, made
}
