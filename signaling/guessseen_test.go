package signaling_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"conclave/secret"
	"conclave/signaling"
)

// TestLockedMeetingIsNoOracle: a locked meeting answers a wrong and a right password
// alike with bye "locked", and counts neither as an attempt; a moderator still enters.
func TestLockedMeetingIsNoOracle(t *testing.T) {
	clock := newClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	mt := srv.createMeetingWith(t, `{"password":"correct horse battery"}`)
	mod := srv.joinModerator(t, mt, "Mod")
	_, _ = mod.Send("update_settings", map[string]any{"locked": true})
	expectType(t, mod, "settings")

	for _, pw := range []string{"wrong", "correct horse battery", "wrong again", ""} {
		c := srv.dialFrom(t, loop(2))
		fields := map[string]any{"meetingId": mt.MeetingID, "name": "Guesser"}
		if pw != "" {
			fields["password"] = pw
		}
		_ = c.SendJoin(fields)
		m := expectType(t, c, "bye")
		if !strings.Contains(string(m.Payload), `"locked"`) || waitClosed(t, c) != signaling.CloseRefused {
			t.Fatalf("password %q at a locked meeting: %s", pw, m.Raw)
		}
		for _, m := range c.All() {
			if m.Type != "bye" {
				t.Fatalf("password %q at a locked meeting: %s", pw, m.Raw)
			}
		}
	}
	srv.joinModerator(t, mt, "Second mod") // the moderator secret still opens it

	// Nothing was counted: after unlocking the address has its whole budget, and the
	// janitor's next report to the moderators counts the guesses made since, no more.
	// (The clock moves only once they are made: a tick moved earlier runs in a goroutine
	// of its own, and one that ran late counted some of them, which failed the test once.)
	_, _ = mod.Send("update_settings", map[string]any{"locked": false})
	expectType(t, mod, "settings")
	for i := 0; i <= secret.FreeFailures; i++ {
		if code := guessJoin(t, srv, loop(2), nil, withPassword(mt.MeetingID, "guess")); code != "wrong_password" {
			t.Fatalf("guess %d after unlocking: %q (the locked guesses were counted)", i, code)
		}
	}
	clock.Advance(5 * time.Second) // the janitor's tick
	m := expectType(t, mod, "access_attempts")
	if want := fmt.Sprintf(`{"wrongPasswords":%d}`, secret.FreeFailures+1); string(m.Payload) != want {
		t.Fatalf("access_attempts %s after %d guesses since unlocking, want %s (the locked guesses were counted)", m.Payload, secret.FreeFailures+1, want)
	}
}

// TestModeratorSeesWrongPasswords: moderators learn how many wrong passwords were tried,
// in one message per janitor tick however many there were, and never from where.
func TestModeratorSeesWrongPasswords(t *testing.T) {
	clock := newClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	mt := srv.createMeetingWith(t, `{"password":"correct horse battery"}`)
	mod := srv.joinModerator(t, mt, "Mod")
	member := srv.dialFrom(t, loop(9))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = member.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Member", "password": "correct horse battery"})
	expectType(t, member, "lobby")
	_, _ = mod.Send("admit", map[string]any{"participantId": waitingID(t, mod, "Member")})
	if err := member.AwaitWelcome(ctx); err != nil {
		t.Fatal(err)
	}

	for a := 2; a <= 7; a++ {
		if code := guessJoin(t, srv, loop(a), nil, withPassword(mt.MeetingID, "guess")); code != "wrong_password" {
			t.Fatalf("guess from %d: %q", a, code)
		}
	}
	clock.Advance(5 * time.Second) // the janitor's tick
	m := expectType(t, mod, "access_attempts")
	settleClock(t, clock) // the janitor has armed its next tick
	if string(m.Payload) != `{"wrongPasswords":6}` {
		t.Fatalf("access_attempts %s", m.Payload)
	}
	if strings.Contains(string(m.Raw), "127.0.0") {
		t.Fatalf("an address reached the moderator: %s", m.Raw)
	}
	// One message for the six guesses, and none to a non-moderator: the next tick has
	// run, and what it sent has arrived.
	clock.Advance(5 * time.Second)
	settleClock(t, clock)
	settled(t, srv, mod, member)
	n := 0
	for _, m := range mod.All() {
		if m.Type == "access_attempts" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d access_attempts messages for one batch of guesses", n)
	}
	for _, m := range member.All() {
		if m.Type == "access_attempts" {
			t.Fatalf("a participant got the count: %s", m.Raw)
		}
	}
	// A moderator who joins later learns the count with its welcome.
	mod2 := srv.joinModerator(t, mt, "Second mod")
	if m := expectType(t, mod2, "access_attempts"); string(m.Payload) != `{"wrongPasswords":6}` {
		t.Fatalf("late moderator: %s", m.Payload)
	}
}

// TestCreationRunsNoArgon2: moderator secrets and keyed host keys cost no argon2: making
// a meeting without a password, and joining as its moderator, hash nothing. A password
// costs one hash; an old argon2id host entry still works.
func TestCreationRunsNoArgon2(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	legacyHash, err := h.Hash(context.Background(), "old-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	before := h.Runs()
	srv := newTestServerWith(t, signaling.Config{Hasher: h, Hosts: []signaling.Host{{ID: "oldhost", Name: "old", KeyHash: legacyHash}}})
	mt := srv.createMeetingWith(t, `{}`)
	srv.joinModerator(t, mt, "Mod")
	if n := h.Runs() - before; n != 0 {
		t.Fatalf("creating a meeting without a password and joining it as moderator ran argon2 %d times", n)
	}
	srv.createMeetingWith(t, `{"password":"pw"}`)
	if n := h.Runs() - before; n != 1 {
		t.Fatalf("a meeting with a password: %d argon2 runs, want 1", n)
	}
	resp, err := srv.post(`{}`, "Bearer oldhost.old-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("legacy argon2id host key: %s", resp.Status)
	}
}
