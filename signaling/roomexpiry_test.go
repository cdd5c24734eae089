package signaling_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/signaling"
)

// TestExtendedRoomKeepsItsMeeting: a host who extends a room (or makes it standing)
// while a meeting goes on in it does not have that meeting ended at the old expiry:
// the room is still there and its links still work.
func TestExtendedRoomKeepsItsMeeting(t *testing.T) {
	clock := newFakeClock()
	rooms := newGatedStore()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Store: rooms})
	soon := clock.Now().Add(10 * time.Second).Format(time.RFC3339)
	room := srv.createRoom(t, `{"settings":{"lobby":false},"expires":"`+soon+`"}`)
	id := room.Room.ID
	a := inWith(t, srv, id, "A", nil)
	srv.apiJSON(t, http.MethodPatch, "/api/rooms/"+id, `{"expires":null}`, http.StatusOK, nil)

	clock.Advance(10 * time.Second)
	// Two more janitor rounds begun: the round at the old expiry is over.
	start := rooms.ticks.Load()
	conntest.Eventually(t, "two janitor rounds", func() bool {
		if rooms.ticks.Load() >= start+2 {
			return true
		}
		clock.Advance(5 * time.Second)
		return false
	})
	if _, err := rooms.Memory.Room(context.Background(), id); err != nil {
		t.Fatalf("the extended room: %v", err)
	}
	for _, m := range a.All() {
		if m.Type == "bye" {
			t.Fatalf("the meeting of an extended room was ended at its old expiry: %s", m.Payload)
		}
	}
	if srv.sig.Registry().Get(id) == nil {
		t.Fatal("the meeting of an extended room is gone")
	}
	// Its links still lead into that meeting.
	b := inWith(t, srv, id, "B", nil)
	if w := welcomeOf(t, b); len(w.Participants) != 1 {
		t.Fatalf("a join after the old expiry: %+v", w.Participants)
	}
}

// TestExpiredRoomRefusesJoinsBeforeTheJanitor: once a room has expired, its links let
// nobody new into the meeting still going on in it, and GET /api/meetings says it is
// gone, also before the janitor's round ends that meeting (which it then does).
func TestExpiredRoomRefusesJoinsBeforeTheJanitor(t *testing.T) {
	clock := newFakeClock()
	rooms := newGatedStore()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Store: rooms})
	soon := clock.Now().Add(10 * time.Second).Format(time.RFC3339)
	room := srv.createRoom(t, `{"settings":{"lobby":false},"expires":"`+soon+`"}`)
	id := room.Room.ID
	a := inWith(t, srv, id, "A", nil)

	held, release := rooms.holdJanitor()
	t.Cleanup(release)
	clock.Advance(10 * time.Second)
	waitFor(t, "the janitor's round", held)
	refusedUnknown(t, srv, id, nil)
	refusedUnknown(t, srv, id, map[string]any{"moderatorSecret": room.ModeratorSecret})
	if code, body := srv.api(t, http.MethodGet, "/api/meetings/"+id, "", ""); code != http.StatusNotFound {
		t.Fatalf("GET /api/meetings of the expired room: %d %s", code, body)
	}
	release()
	if reason, _ := byeReason(t, a); reason != "ended" {
		t.Fatalf("bye %q", reason)
	}
}

// TestShortenedRoomRefusesJoinsBeforeTheJanitor: a host who gives a standing room an
// expiry (or brings it forward) while a meeting goes on in it has its links let nobody
// new in from that expiry on, also before the janitor's round: the meeting's own
// expiry, the one it was made with, let them in until then.
func TestShortenedRoomRefusesJoinsBeforeTheJanitor(t *testing.T) {
	clock := newFakeClock()
	rooms := newGatedStore()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Store: rooms})
	room := srv.createRoom(t, `{"settings":{"lobby":false}}`)
	id := room.Room.ID
	a := inWith(t, srv, id, "A", nil)
	soon := clock.Now().Add(10 * time.Second).Format(time.RFC3339)
	srv.apiJSON(t, http.MethodPatch, "/api/rooms/"+id, `{"expires":"`+soon+`"}`, http.StatusOK, nil)

	held, release := rooms.holdJanitor()
	t.Cleanup(release)
	clock.Advance(10 * time.Second)
	waitFor(t, "the janitor's round", held)
	refusedUnknown(t, srv, id, nil)
	if code, body := srv.api(t, http.MethodGet, "/api/meetings/"+id, "", ""); code != http.StatusNotFound {
		t.Fatalf("GET /api/meetings of the expired room: %d %s", code, body)
	}
	release()
	if reason, _ := byeReason(t, a); reason != "ended" {
		t.Fatalf("bye %q", reason)
	}
}

// TestExpiredRoomLetsNobodyBack: once a room has expired, a member whose connection
// dropped does not resume into the meeting still going on in it, also before the
// janitor's round ends that meeting: the meeting is over, and the resume fails as one
// into an ended meeting does (resume_failed). It came back, for up to the janitor's
// period (from a helper's audit).
func TestExpiredRoomLetsNobodyBack(t *testing.T) {
	clock := newFakeClock()
	rooms := newGatedStore()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Store: rooms, ResumeGrace: testGrace})
	soon := clock.Now().Add(10 * time.Second).Format(time.RFC3339)
	room := srv.createRoom(t, `{"settings":{"lobby":false},"expires":"`+soon+`"}`)
	id := room.Room.ID
	a := inWith(t, srv, id, "A", nil)
	b := inWith(t, srv, id, "B", nil)
	aID, aSecret := a.ParticipantID, a.ResumeSecret
	dropAndSeeReconnecting(t, a, b)

	held, release := rooms.holdJanitor()
	t.Cleanup(release)
	clock.Advance(10 * time.Second) // the room expires; A's grace (30 s) runs on
	waitFor(t, "the janitor's round", held)
	c := srv.dial(t)
	if err := c.SendResume(id, aID, aSecret, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg, err := c.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Code string }
	_ = json.Unmarshal(msg.Payload, &p)
	if msg.Type != "error" || p.Code != "resume_failed" {
		t.Fatalf("a resume into the meeting of an expired room got %s %s, want resume_failed", msg.Type, msg.Payload)
	}
	if code := waitClosed(t, c); code != 4401 {
		t.Fatalf("close %d, want 4401", code)
	}
	release()
	if reason, _ := byeReason(t, b); reason != "ended" {
		t.Fatalf("bye %q", reason)
	}
}
