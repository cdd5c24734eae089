package signaling_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
	"conclave/secret"
	"conclave/signaling"
	"conclave/store"
)

// clockStep is a step of the wall clock larger than the ping's wait and far shorter
// than a room's lifetime, so that the room itself is not over after it.
const clockStep = 10 * time.Minute

// TestWallClockStepForwardClosesNobody: a step of the wall clock forward (NTP setting a
// clock that was behind, a virtual machine resumed) closes no connection as silent.
// Each ping tick after the step, the member has been heard (its heartbeat's ping,
// Sync); it stays connected and its messages are still answered. The silence was
// measured from the clock's UnixNano at the last hearing, so the first tick after the
// step found the member silent for the step's length and closed it ("no pong"), as it
// would have closed every connection of the server.
func TestWallClockStepForwardClosesNobody(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	meeting := srv.createMeeting(t)
	member := srv.join(t, meeting, "Member")
	clock.Jump(clockStep)
	for tick := 1; tick <= 4; tick++ {
		pingTick(t, clock)
		ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
		_, err := member.Sync(ctx)
		cancel()
		if err != nil {
			t.Fatalf("ping tick %d after the clock stepped %v forward: the member's connection: %v", tick, clockStep, err)
		}
	}
	if _, err := member.Send("chat", map[string]string{"text": "still here"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, member, "chat")
}

// TestWallClockStepBackKeepsNoSilentPeer: after a step of the wall clock back, a member
// that answers nothing is still closed with 4408 "no pong" within three ping ticks (60
// s of the server's timers), as without the step. Measured from the clock's UnixNano,
// its silence was the step's length short, and it kept its place in the meeting until
// the clock had made up the step.
func TestWallClockStepBackKeepsNoSilentPeer(t *testing.T) {
	ws, clock := silentMember(t, "Silent")
	closed := readUntilClosed(ws)
	clock.Jump(-clockStep)
	for range 3 {
		pingTick(t, clock)
	}
	wantClose(t, rawClosed(t, closed), signaling.CloseTimeout, "no pong")
}

// janitorRounds lets the janitor run n rounds, one every 5 s of the server's timers.
func janitorRounds(t *testing.T, clock *fakeclock.Clock, n int) {
	t.Helper()
	for range n {
		clock.Advance(5 * time.Second)
		settleClock(t, clock) // the round is done and has armed the next
	}
}

// TestWallClockStepForwardDeletesNoRoom: a room survives a step of the wall clock past
// its expiry that is set right within ten minutes (a machine started with its clock
// two days ahead until NTP set it). While the clock says so the room lets nobody in;
// once it is set right the room's links work again, its record still in the data
// directory. A step that lasts deletes the room once it has lasted ten minutes of the
// janitor's rounds, not before. The janitor deleted every room expired at its round's
// reading of the clock, so its first round after the step deleted the room and
// retired its id for good.
func TestWallClockStepForwardDeletesNoRoom(t *testing.T) {
	clock := newFakeClock()
	rooms, err := store.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rooms.Close() })
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Store: rooms})
	ctx := context.Background()
	mt := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`) // one-off: expires in 24 h
	janitorRounds(t, clock, signaling.ExpiredRoomRounds+10)        // a server that has run a while

	clock.Jump(48 * time.Hour)
	refusedUnknown(t, srv, mt.MeetingID, map[string]any{"moderatorSecret": mt.ModeratorSecret})
	janitorRounds(t, clock, 12) // a minute
	clock.Jump(-48 * time.Hour)
	janitorRounds(t, clock, signaling.ExpiredRoomRounds+10)
	if _, err := rooms.Room(ctx, mt.MeetingID); err != nil {
		t.Fatalf("the room after the wall clock stepped 48 h ahead for a minute: %v", err)
	}
	back := srv.joinModerator(t, mt, "Back")
	back.Close()
	closeAll(t, srv, mt.MeetingID)

	clock.Jump(48 * time.Hour)
	janitorRounds(t, clock, signaling.ExpiredRoomRounds-1)
	if _, err := rooms.Room(ctx, mt.MeetingID); err != nil {
		t.Fatalf("the room deleted before its expiry had lasted %d rounds: %v", signaling.ExpiredRoomRounds, err)
	}
	janitorRounds(t, clock, 1)
	if _, err := rooms.Room(ctx, mt.MeetingID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the room still stored %d rounds past its expiry: %v", signaling.ExpiredRoomRounds, err)
	}
}

// TestExpiredRoomsAwaitingDeletionDoNotCount: a host at its room limit with one of its
// rooms past its expiry, not yet deleted (ten minutes of the janitor's rounds), may make
// a room again, as "one-off rooms included until they expire" says: the limit counted
// every stored room, so a room expired but waiting to be deleted still refused the
// host's next one (room_limit).
func TestExpiredRoomsAwaitingDeletionDoNotCount(t *testing.T) {
	clock := newFakeClock()
	rooms := store.NewMemory()
	ctx := context.Background()
	for i := range signaling.MaxRoomsPerHost {
		r := store.Room{ID: secret.Random(16), HostID: "testhost", ModeratorMAC: secret.KeyedHash("x"), Created: clock.Now()}
		if i == 0 {
			r.Expires = clock.Now().Add(time.Minute)
		}
		if err := rooms.CreateRoom(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Store: rooms})
	srv.apiJSON(t, http.MethodPost, "/api/rooms", `{}`, http.StatusForbidden, nil)
	clock.Advance(time.Minute)
	srv.apiJSON(t, http.MethodPost, "/api/rooms", `{}`, http.StatusCreated, nil)
}
