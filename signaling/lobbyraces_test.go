package signaling_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"conclave/internal/testclient"
	"conclave/secret"
	"conclave/signaling"
)

// TestPasswordChangeStopsJoinInFlight: a join whose password was being checked when a
// moderator changed the password is judged against the new one. The server checked it
// against the hash it read before the check waited its turn, so someone who knew the
// old password and was in the hashing line when the moderator changed it (because the
// old one had leaked) still got in; with the waiting room off, straight into the
// meeting (from a helper's audit).
func TestPasswordChangeStopsJoinInFlight(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), Hasher: h})
	m := srv.createMeetingWith(t, `{"password":"old password","settings":{"lobby":false}}`)
	mod := srv.joinModerator(t, m, "Mod")

	// The moderator's new password waits for the hasher's one slot ...
	release := passwordWaiting(t, h, mod)
	defer release()
	// ... and behind it, a slot the test holds until the new password is in force ...
	held := make(chan func(), 1)
	go func() {
		r, err := h.Hold(context.Background())
		if err != nil {
			t.Error(err)
		}
		held <- r
	}()
	eventually(t, "the test's hold to wait", func() bool { return h.Waiting() == 2 })
	// ... and behind that, a join with the old password.
	late := srv.dialFrom(t, loop(7))
	if err := late.SendJoin(map[string]any{"meetingId": m.MeetingID, "name": "Late", "password": "old password"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the old password's check to wait", func() bool { return h.Waiting() == 3 })

	release() // the new password is hashed and put in force
	if got := settingsOf(t, mod); !got["passwordRequired"] {
		t.Fatalf("settings after the change: %v", got)
	}
	(<-held)() // now the old password is checked

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg, err := late.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Code string }
	_ = json.Unmarshal(msg.Payload, &e)
	if msg.Type != "error" || e.Code != "wrong_password" {
		t.Fatalf("a join with the password changed while it was checked got %s %s, want wrong_password", msg.Type, msg.Payload)
	}
}

// lobbyPresent decodes a lobby message's moderatorPresent.
func lobbyPresent(t *testing.T, m testclient.Message) bool {
	t.Helper()
	var p struct {
		ModeratorPresent bool `json:"moderatorPresent"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p.ModeratorPresent
}

// TestReconnectingModeratorIsNotPresent: while the only moderator's connection is gone
// (parked for a resume: it can let nobody in), the waiting room is told that no
// moderator is present, and a knock that comes meanwhile is told so at once; when the
// moderator is back, the waiting room is told again. The server went on telling the
// waiting people that someone could let them in now for the whole grace period (from
// a helper's audit).
func TestReconnectingModeratorIsNotPresent(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	kim := f.srv.knock(t, f.meeting.MeetingID, "Kim", nil)
	if m := kim.All()[0]; !lobbyPresent(t, m) {
		t.Fatalf("Kim's lobby with the moderator in: %s", m.Payload)
	}
	waitingID(t, f.mod, "Kim")
	modID, modSecret := f.mod.ParticipantID, f.mod.ResumeSecret

	dropAndSeeReconnecting(t, f.mod, alice)
	lee := f.srv.knock(t, f.meeting.MeetingID, "Lee", nil)
	if m := lee.All()[0]; lobbyPresent(t, m) {
		t.Fatalf("a knock while the only moderator is reconnecting was told %s", m.Payload)
	}
	if m := expectType(t, kim, "lobby"); lobbyPresent(t, m) {
		t.Fatalf("Kim, once the only moderator's connection was gone: %s", m.Payload)
	}

	back := f.resume(t, modID, modSecret)
	for _, c := range []*testclient.Client{kim, lee} {
		if m := expectType(t, c, "lobby"); !lobbyPresent(t, m) {
			t.Fatalf("a knocker once the moderator was back: %s", m.Payload)
		}
	}
	waitingID(t, back, "Lee")
}
