package signaling_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
	"conclave/store"
)

// A change of a room (PATCH) leaves a meeting going on in it alone, and the next
// meeting starts from the changed room (PROTOCOL.md, "Rooms API"). A meeting nobody is
// in is not one going on: it must not let the next person in by what the room was.

// firstAnswer is the first message c gets after its join: its type, and its code for an
// error.
func firstAnswer(t *testing.T, c *testclient.Client) (typ, code string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	m, err := c.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Code string }
	_ = json.Unmarshal(m.Payload, &p)
	return m.Type, p.Code
}

// mustBeAskedThePassword checks that a join of id without a password is asked for one,
// and one with the room's new password waits to be let in.
func mustBeAskedThePassword(t *testing.T, srv *testServer, id, what string) {
	t.Helper()
	c := srv.dial(t)
	_ = c.SendJoin(map[string]any{"meetingId": id, "name": "Leaked link"})
	if typ, code := firstAnswer(t, c); code != "password_required" {
		t.Fatalf("%s, a join without the room's new password: %s %s, want password_required", what, typ, code)
	}
	c = srv.dial(t)
	_ = c.SendJoin(map[string]any{"meetingId": id, "name": "Guest", "password": "new pw"})
	if typ, code := firstAnswer(t, c); typ == "welcome" || typ == "error" {
		t.Fatalf("%s, a join with the new password: %s %s, want it to wait (the waiting room is on now)", what, typ, code)
	}
}

// TestRoomChangeReachesAMeetingNobodyIsIn: a host whose participant link leaked gives
// the room a password and turns its waiting room on. A meeting nobody is in (one a
// refused join opened, or one whose last person left a moment ago) takes the change:
// the next join is asked for the password, not let straight in as before.
func TestRoomChangeReachesAMeetingNobodyIsIn(t *testing.T) {
	for _, how := range []string{"opened by a refused join", "after the last person left"} {
		t.Run(how, func(t *testing.T) {
			srv := newTestServerWith(t, signaling.Config{EmptyMeetingGrace: time.Hour})
			room := srv.createRoom(t, `{"settings":{"lobby":false}}`)
			id := room.Room.ID
			if how == "opened by a refused join" {
				c := srv.dial(t)
				_ = c.SendJoin(map[string]any{"meetingId": id, "name": "Leaked link", "moderatorSecret": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
				if code, _ := expectError(t, c); code != "wrong_moderator_secret" {
					t.Fatalf("a wrong moderator secret: %s", code)
				}
			} else {
				c := inWith(t, srv, id, "Early", nil)
				ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
				defer cancel()
				if err := c.Leave(ctx); err != nil {
					t.Fatal(err)
				}
				conntest.Eventually(t, "the member to be gone", func() bool { return signaling.PeopleIn(srv.sig.Registry().Get(id)) == 0 })
			}
			if srv.sig.Registry().Get(id) == nil {
				t.Fatal("no meeting nobody is in: the test tests nothing")
			}
			srv.apiJSON(t, http.MethodPatch, "/api/rooms/"+id, `{"password":"new pw","settings":{"lobby":true}}`, http.StatusOK, nil)
			mustBeAskedThePassword(t, srv, id, how)
		})
	}
}

// secondReadGate holds the second read of a room after it is armed, with what it read
// before it was held: a join's read of the room once its meeting is in the registry
// (Registry.open), so that the room can change while the join is on its way to it.
type secondReadGate struct {
	*store.Memory
	mu    sync.Mutex
	reads int // left before the held one; 0: none armed
	gate  chan struct{}
	held  chan struct{}
}

func (g *secondReadGate) armSecond() (held <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reads, g.gate, g.held = 2, make(chan struct{}), make(chan struct{})
	gate := g.gate
	return g.held, func() { close(gate) }
}

func (g *secondReadGate) Room(ctx context.Context, id string) (store.Room, error) {
	r, err := g.Memory.Room(ctx, id)
	g.mu.Lock()
	var gate, held chan struct{}
	if g.reads > 0 {
		if g.reads--; g.reads == 0 {
			gate, held = g.gate, g.held
		}
	}
	g.mu.Unlock()
	if gate != nil {
		close(held)
		<-gate
	}
	return r, err
}

// TestRoomChangeAcrossAMeetingsMaking: a change of the room while a join makes its
// meeting, before the meeting is in the registry (the change finds none to drop) or
// after (the join holds the meeting the change drops), reaches that join and the next:
// the join starts over and is asked for the new password.
func TestRoomChangeAcrossAMeetingsMaking(t *testing.T) {
	for _, when := range []string{"before the meeting is there", "once the meeting is there"} {
		t.Run(when, func(t *testing.T) {
			var cfg signaling.Config
			var arm func() (held <-chan struct{}, release func())
			if when == "before the meeting is there" {
				rooms := newGatedStore()
				cfg.Store, arm = rooms, rooms.arm
			} else {
				rooms := &secondReadGate{Memory: store.NewMemory()}
				cfg.Store, arm = rooms, rooms.armSecond
			}
			srv := newTestServerWith(t, cfg)
			room := srv.createRoom(t, `{"settings":{"lobby":false}}`)
			id := room.Room.ID
			held, release := arm()

			c := srv.dial(t)
			_ = c.SendJoin(map[string]any{"meetingId": id, "name": "Leaked link"})
			waitFor(t, "the join to read the room", held)
			srv.apiJSON(t, http.MethodPatch, "/api/rooms/"+id, `{"password":"new pw","settings":{"lobby":true}}`, http.StatusOK, nil)
			release()
			if typ, code := firstAnswer(t, c); code != "password_required" {
				t.Fatalf("a join across the change: %s %s, want password_required", typ, code)
			}
			mustBeAskedThePassword(t, srv, id, "after a join across the change")
		})
	}
}
