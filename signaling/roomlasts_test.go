package signaling_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/secret"
	"conclave/signaling"
	"conclave/store"
)

// How long a room and its meeting last (PROTOCOL.md, "Rooms API"): a room outlives its
// meetings and a restart of the server, and ends at its expiry, on the server's clock,
// or when it is deleted from the store behind the server's back; a one-off meeting's
// room lasts a day.

// TestExpiredRoom: a room past its expiry is refused at once, even before the janitor
// deleted it; the janitor, on the server's clock, ends the meetings going on in expired
// rooms and deletes the rooms ten minutes of its rounds later.
func TestExpiredRoom(t *testing.T) {
	clock := newFakeClock()
	rooms := store.NewMemory()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Store: rooms})
	ctx := context.Background()

	// Stored already expired (the janitor has not run since): refused.
	stale := store.Room{ID: secret.Random(16), HostID: "testhost", ModeratorMAC: secret.KeyedHash("x"), Created: clock.Now(), Expires: clock.Now()}
	if err := rooms.CreateRoom(ctx, stale); err != nil {
		t.Fatal(err)
	}
	refusedUnknown(t, srv, stale.ID, nil)
	if _, err := rooms.Room(ctx, stale.ID); err != nil {
		t.Fatalf("deleted outside the janitor: %v", err)
	}

	// One that expires in 10 s (two janitor rounds, short of any ping, so nobody's
	// verdict depends on how fast a pong comes), with a meeting going on when it does.
	soon := clock.Now().Add(10 * time.Second).Format(time.RFC3339)
	room := srv.createRoom(t, `{"settings":{"lobby":false},"expires":"`+soon+`"}`)
	standing := srv.createRoom(t, `{}`)
	a := inWith(t, srv, room.Room.ID, "A", nil)
	clock.Advance(10 * time.Second)
	if reason, _ := byeReason(t, a); reason != "ended" {
		t.Fatalf("bye %q", reason)
	}
	// Deleted once they have been past their expiry for ten minutes of the janitor's
	// rounds (TestWallClockStepForwardDeletesNoRoom).
	janitorRounds(t, clock, signaling.ExpiredRoomRounds+2)
	_, err1 := rooms.Room(ctx, stale.ID)
	_, err2 := rooms.Room(ctx, room.Room.ID)
	if !errors.Is(err1, store.ErrNotFound) || !errors.Is(err2, store.ErrNotFound) {
		t.Fatalf("expired rooms after the janitor's rounds: %v, %v", err1, err2)
	}
	refusedUnknown(t, srv, room.Room.ID, nil)
	var list struct{ Rooms []roomView }
	srv.apiJSON(t, http.MethodGet, "/api/rooms", "", http.StatusOK, &list)
	if len(list.Rooms) != 1 || list.Rooms[0].ID != standing.Room.ID {
		t.Fatalf("after expiry: %+v", list.Rooms)
	}
	// An expiry in the past is refused; the server's clock decides what past is.
	srv.apiJSON(t, http.MethodPost, "/api/rooms", `{"expires":"`+soon+`"}`, http.StatusBadRequest, nil)
}

// TestRoomLastsAcrossRestart: a room made on one server is joined on the next one over
// the same store, with its settings, password and moderator secret.
func TestRoomLastsAcrossRestart(t *testing.T) {
	rooms := store.NewMemory()
	first := newTestServerWith(t, signaling.Config{Store: rooms})
	room := first.createRoom(t, `{"password":"pw","settings":{"chat":false}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.sig.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	first.http.Close()

	second := newTestServerWith(t, signaling.Config{Store: rooms})
	mod := joinRoomAsModerator(t, second, room.Room.ID, room.ModeratorSecret, "Mod")
	if w := welcomeOf(t, mod); w.Role != "moderator" || w.Settings.Chat || !w.Settings.PasswordRequired || !w.Settings.Lobby {
		t.Fatalf("welcome after restart %+v", w)
	}
	wrong := second.dial(t)
	_ = wrong.SendJoin(map[string]any{"meetingId": room.Room.ID, "name": "Wrong", "password": "nope"})
	if code, _ := expectError(t, wrong); code != "wrong_password" {
		t.Fatalf("wrong password after restart: %s", code)
	}
	knocker := second.knock(t, room.Room.ID, "Guest", map[string]any{"password": "pw"})
	_ = knocker
	var got roomView
	second.apiJSON(t, http.MethodGet, "/api/rooms/"+room.Room.ID, "", http.StatusOK, &got)
}

// TestMeetingEndsRoomStays: a meeting ends when its last member leaves; its room stays
// and a later join starts a new meeting in it.
func TestMeetingEndsRoomStays(t *testing.T) {
	srv := newTestServer(t)
	room := srv.createRoom(t, `{"settings":{"lobby":false}}`)
	a := inWith(t, srv, room.Room.ID, "A", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the empty meeting to end", func() bool { return srv.sig.Registry().Len() == 0 })
	b := inWith(t, srv, room.Room.ID, "B", nil)
	if w := welcomeOf(t, b); len(w.Participants) != 0 {
		t.Fatalf("new meeting: %+v", w.Participants)
	}
	srv.apiJSON(t, http.MethodGet, "/api/rooms/"+room.Room.ID, "", http.StatusOK, nil)
}

// TestOneOffMeetingLastsADay: POST /api/meetings makes a room whose links work for 24
// hours on the server's clock, whether or not anyone joined, and which is then deleted.
func TestOneOffMeetingLastsADay(t *testing.T) {
	clock := newFakeClock()
	rooms := store.NewMemory()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Store: rooms})
	mt := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	got, err := rooms.Room(context.Background(), mt.MeetingID)
	if err != nil || !got.Expires.Equal(clock.Now().Add(signaling.OneOffRoomLifetime)) || got.HostID != "testhost" {
		t.Fatalf("stored %+v, %v", got, err)
	}
	clock.Advance(signaling.OneOffRoomLifetime - time.Minute) // nobody connected: no pong is due
	a := srv.joinModerator(t, mt, "Later that day")
	a.Close()
	closeAll(t, srv, mt.MeetingID)
	clock.Advance(time.Minute)
	refusedUnknown(t, srv, mt.MeetingID, map[string]any{"moderatorSecret": mt.ModeratorSecret})
	// The next janitor round: the one the last move started arms it once done, which
	// may be after a single move here, so the clock moves on until it has run.
	conntest.Eventually(t, "the janitor to delete the one-off room", func() bool {
		clock.Advance(5 * time.Second)
		_, err := rooms.Room(context.Background(), mt.MeetingID)
		return errors.Is(err, store.ErrNotFound)
	})
}

// TestRoomGoneFromStoreEndsMeeting: a room deleted from the store behind the server's
// back (another process sharing it) ends its meeting at the janitor's next round.
func TestRoomGoneFromStoreEndsMeeting(t *testing.T) {
	clock := newFakeClock()
	rooms := store.NewMemory()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Store: rooms})
	room := srv.createRoom(t, `{"settings":{"lobby":false}}`)
	a := inWith(t, srv, room.Room.ID, "A", nil)
	if err := rooms.DeleteRoom(context.Background(), room.Room.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Second)
	if reason, _ := byeReason(t, a); reason != "ended" {
		t.Fatalf("bye %q", reason)
	}
	refusedUnknown(t, srv, room.Room.ID, nil)
}
