package signaling_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"conclave/internal/conntest"
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
	conntest.Eventually(t, "the test's hold to wait", func() bool { return h.Waiting() == 2 })
	// ... and behind that, a join with the old password.
	late := srv.dialFrom(t, loop(7))
	if err := late.SendJoin(map[string]any{"meetingId": m.MeetingID, "name": "Late", "password": "old password"}); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the old password's check to wait", func() bool { return h.Waiting() == 3 })

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

// TestNewPasswordInFlightIsLetIn: a join with the new password, whose check read the
// old hash before it waited its turn in the hashing line while a moderator changed the
// password, is checked again against the password in force: it gets in, and nothing is
// counted against its address or shown to the moderators as a wrong password. It got
// wrong_password, counted towards the address's lockout (from a helper's audit).
func TestNewPasswordInFlightIsLetIn(t *testing.T) {
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
	conntest.Eventually(t, "the test's hold to wait", func() bool { return h.Waiting() == 2 })
	// ... and behind that, a join with the new password, checked against the old hash.
	told := srv.dialFrom(t, loop(7))
	if err := told.SendJoin(map[string]any{"meetingId": m.MeetingID, "name": "Told", "password": "new password"}); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the new password's check to wait", func() bool { return h.Waiting() == 3 })

	release() // the new password is hashed and put in force
	if got := settingsOf(t, mod); !got["passwordRequired"] {
		t.Fatalf("settings after the change: %v", got)
	}
	(<-held)() // now the join's password is checked

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg, err := told.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Type != "welcome" {
		t.Fatalf("a join with the password in force, checked while it changed, got %s %s, want welcome", msg.Type, msg.Payload)
	}
	if n := srv.sig.Stats().WrongPasswords; n != 0 {
		t.Fatalf("%d wrong password(s) counted for the password in force", n)
	}
}

// TestClearedPasswordInFlightIsLetIn: a join whose password waited its turn in the
// hashing line while a moderator cleared the meeting's password needs none: it gets
// in, and its password (wrong against the old one) is not counted.
func TestClearedPasswordInFlightIsLetIn(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), Hasher: h})
	m := srv.createMeetingWith(t, `{"password":"old password","settings":{"lobby":false}}`)
	mod := srv.joinModerator(t, m, "Mod")

	release, err := h.Hold(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	c := srv.dialFrom(t, loop(7))
	if err := c.SendJoin(map[string]any{"meetingId": m.MeetingID, "name": "Late", "password": "a guess"}); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the join's check to wait", func() bool { return h.Waiting() == 1 })
	if _, err := mod.Send("update_settings", map[string]any{"password": ""}); err != nil {
		t.Fatal(err)
	}
	if got := settingsOf(t, mod); got["passwordRequired"] {
		t.Fatalf("settings after clearing the password: %v", got)
	}
	release()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg, err := c.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Type != "welcome" {
		t.Fatalf("a join checked while the password was cleared got %s %s, want welcome", msg.Type, msg.Payload)
	}
	if n := srv.sig.Stats().WrongPasswords; n != 0 {
		t.Fatalf("%d wrong password(s) counted at a meeting without one", n)
	}
}

// TestLastModeratorTakesItsLobbyKey: when the last moderator with a connection leaves,
// the waiting people's next lobby message says that no moderator is here and lists no
// lobby key of it. The first one still listed the leaving moderator's key (its key
// was dropped only after the waiting room was told), and a second followed without
// (from a helper's audit).
func TestLastModeratorTakesItsLobbyKey(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`)
	mod := srv.joinModerator(t, mt, "Mod")
	expectType(t, mod, "waiting_list")
	kim := srv.knock(t, mt.MeetingID, "Kim", nil)
	if _, err := mod.Send("lobby_key", lobbyKeyFor(mod.ParticipantID, 1)); err != nil {
		t.Fatal(err)
	}
	for {
		msg := expectType(t, kim, "lobby")
		var p struct{ LobbyKeys []lobbyKeyInfo }
		if err := json.Unmarshal(msg.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.LobbyKeys) == 1 {
			break
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mod.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	msg := expectType(t, kim, "lobby")
	var p struct {
		ModeratorPresent bool
		LobbyKeys        []lobbyKeyInfo
	}
	if err := json.Unmarshal(msg.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.ModeratorPresent || len(p.LobbyKeys) != 0 {
		t.Fatalf("Kim's first lobby message once the last moderator left: %s", msg.Payload)
	}
}
