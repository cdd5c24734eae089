package signaling

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"conclave/store"
)

// errTooManyRooms is createBounded's answer for a host at maxRoomsPerHost.
var errTooManyRooms = errors.New("signaling: the host has too many rooms")

// newIDsTooFast is the refusal of a room id a host makes beyond its budget
// (idBudgets): how long until it may make one.
type newIDsTooFast struct{ retry time.Duration }

func (e *newIDsTooFast) Error() string {
	return fmt.Sprintf("signaling: the host makes room ids too fast; one more in %v", e.retry)
}

// Room ids a host may make (rooms, one-off meetings, rotated links): every id a room
// ever had stays retired in the store for good, so that a withdrawn link is never
// taken over, and a host key in a loop of create and delete (or of rotate) would
// otherwise grow the store without end. As many at once as a host may keep rooms,
// then one every 30 s: 2,880 a day, some 100 KB of the store at most.
const (
	newIDBurst = maxRoomsPerHost
	newIDRate  = 1.0 / 30 // ids a second
)

// idBudgets are the hosts' budgets of new room ids. A budget filled up again is
// forgotten (it is as new), so the map holds only hosts that made ids lately. They
// live in memory: a restart gives every host a full budget, a burst of retired ids
// more per restart (PROTOCOL.md, "Limits", says so). Only the operator restarts the
// server, so the store's growth stays bounded by the rate and the restarts; keeping
// the budgets would put a record of each host in the store, written at every new id.
type idBudgets struct {
	mu      sync.Mutex
	buckets map[string]*tokenBucket
	lastGC  time.Time
}

// take spends one of host's new ids at now, or refuses with *newIDsTooFast.
func (b *idBudgets) take(host string, now time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buckets == nil {
		b.buckets = map[string]*tokenBucket{}
	}
	if now.Sub(b.lastGC) >= time.Hour {
		b.lastGC = now
		for h, t := range b.buckets {
			if t.until(now) == 0 && t.tokens >= t.burst {
				delete(b.buckets, h)
			}
		}
	}
	t := b.buckets[host]
	if t == nil {
		nt := newTokenBucket(newIDRate, newIDBurst)
		t = &nt
		b.buckets[host] = t
	}
	if !t.allow(now) {
		return &newIDsTooFast{retry: max(t.until(now), time.Second)}
	}
	return nil
}

// giveBack returns the id take spent for a room the store then did not write (the id
// was taken, 409, or the store failed): no id was made, and none is retired.
func (b *idBudgets) giveBack(host string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.buckets[host]; t != nil { // else forgotten full: nothing to give back
		t.giveBack(now)
	}
}

// hostTurns lets one room creation of a host at a time count the host's rooms and
// create one: checked apart, parallel requests at 999 rooms each saw room for one
// more, and a host kept 999 + N. A change or rotation of one of the host's rooms takes
// the same turn from its read of the room to its write (patchRoom), and the host's
// removal from the listing of its rooms to their deletion (RemoveHost). Only that host's
// requests wait for each other (the turn spans the store's write, which its writers
// share anyway); a password is hashed before the turn is taken.
type hostTurns struct {
	mu    sync.Mutex
	turns map[string]*hostTurn // only hosts with a creation or change under way
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

// errHostGone is createBounded's answer for a host removed while its creation was
// under way (its key was good when the request began): it gets no room.
var errHostGone = errors.New("signaling: the host was removed")

// createBounded stores room unless its host already keeps maxRoomsPerHost rooms
// (errTooManyRooms), has made room ids too fast (*newIDsTooFast) or was removed
// meanwhile (errHostGone); the store's errors as they are.
func (s *Server) createBounded(ctx context.Context, room store.Room) error {
	release := s.hostTurns.take(room.HostID)
	defer release()
	mine, err := s.rooms.Rooms(ctx, room.HostID)
	if err != nil {
		return err
	}
	now, live := s.now(), 0
	for _, r := range mine {
		if !r.Expired(now) { // an expired one awaits the janitor's deletion (expirywindow.go)
			live++
		}
	}
	if live >= maxRoomsPerHost {
		return errTooManyRooms
	}
	if err := s.idBudgets.take(room.HostID, s.now()); err != nil {
		return err
	}
	if err := s.rooms.CreateRoom(ctx, room); err != nil {
		s.idBudgets.giveBack(room.HostID, s.now())
		return err
	}
	// The host's key was checked when the request began; its body, a password's hash
	// and the count came since. A host removed meanwhile (`conclave host remove`
	// deletes the host and its rooms in one step) must not keep a room made after that
	// step: so the host is looked up again, after the room is stored. A removal before
	// this lookup is seen here and the room goes; one after it finds the room stored
	// and deletes it with the host's others.
	hashes, err := s.hostHashes(context.WithoutCancel(ctx), room.HostID)
	if err == nil && len(hashes) > 0 {
		return nil
	}
	if derr := s.rooms.DeleteRoom(context.WithoutCancel(ctx), room.ID); derr != nil && !errors.Is(derr, store.ErrNotFound) {
		s.log.Warn("api: cannot delete the room of a removed host", "err", derr)
	}
	s.registry.endRoom(room.ID)
	if err != nil {
		return err
	}
	return errHostGone
}
