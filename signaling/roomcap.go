package signaling

import (
	"context"
	"errors"
	"sync"

	"conclave/store"
)

// errTooManyRooms is createBounded's answer for a host at maxRoomsPerHost.
var errTooManyRooms = errors.New("signaling: the host has too many rooms")

// hostTurns lets one room creation of a host at a time count the host's rooms and
// create one: checked apart, parallel requests at 999 rooms each saw room for one
// more, and a host kept 999 + N. Only that host's creations wait for each other (the
// turn spans the store's write, which its writers share anyway); a password is hashed
// before the turn is taken.
type hostTurns struct {
	mu    sync.Mutex
	turns map[string]*hostTurn // only hosts with a creation under way
}

type hostTurn struct {
	mu    sync.Mutex
	users int // creations holding or waiting for mu; guarded by hostTurns.mu
}

func (h *hostTurns) take(host string) (release func()) {
	h.mu.Lock()
	if h.turns == nil {
		h.turns = map[string]*hostTurn{}
	}
	t := h.turns[host]
	if t == nil {
		t = &hostTurn{}
		h.turns[host] = t
	}
	t.users++
	h.mu.Unlock()
	t.mu.Lock()
	return func() {
		t.mu.Unlock()
		h.mu.Lock()
		if t.users--; t.users == 0 {
			delete(h.turns, host)
		}
		h.mu.Unlock()
	}
}

// createBounded stores room unless its host already keeps maxRoomsPerHost rooms
// (errTooManyRooms); the store's errors as they are.
func (s *Server) createBounded(ctx context.Context, room store.Room) error {
	release := s.hostTurns.take(room.HostID)
	defer release()
	mine, err := s.rooms.Rooms(ctx, room.HostID)
	if err != nil {
		return err
	}
	if len(mine) >= maxRoomsPerHost {
		return errTooManyRooms
	}
	return s.rooms.CreateRoom(ctx, room)
}
