package signaling_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/secret"
	"conclave/signaling"
)

// Between a resume's claim of a membership and its welcome.

// muteBarrier has moderator mod mute a source of member pid's that does not exist and
// returns once that is refused: mod's session handles its messages in order, so
// everything mod sent before has been carried out.
func muteBarrier(t *testing.T, mod *testclient.Client, pid string) {
	t.Helper()
	bad, err := mod.Send("mute", map[string]any{"participantId": pid, "source": "barrier"})
	if err != nil {
		t.Fatal(err)
	}
	if code, ref := expectError(t, mod); code != "invalid_field" || ref != bad {
		t.Fatalf("the barrier: error %s for %q, want invalid_field for %q", code, ref, bad)
	}
}

// barrier sends c a message its state refuses and returns what c received before the
// refusal: everything queued for c before the barrier was handled.
func barrier(t *testing.T, c *testclient.Client) []testclient.Message {
	t.Helper()
	id, err := c.Send("chat", map[string]string{"text": "barrier"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	var got []testclient.Message
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == "error" && m.Ref == id {
			return got
		}
		got = append(got, m)
	}
}

// TestModeratorBackOnlyWithItsWelcome: the waiting people are told that a moderator is
// here again only once its resume is welcomed, not when the resume claims the
// membership: until its welcome it lets nobody in, and it may never get there (the
// old connection may take seconds to let go, the new one may drop). They were told at
// the claim (from a helper's audit).
func TestModeratorBackOnlyWithItsWelcome(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), Hasher: h, ResumeGrace: testGrace})
	m := srv.createMeetingWith(t, `{}`)
	b := srv.joinModerator(t, m, "B") // the only moderator
	alice := srv.admitted(t, b, m.MeetingID, "Alice")
	kim := srv.knock(t, m.MeetingID, "Kim", nil)
	if msg := kim.All()[0]; !lobbyPresent(t, msg) {
		t.Fatalf("Kim's lobby with the moderator in: %s", msg.Payload)
	}

	// A first resume claims B while B's connection is busy, and drops before its
	// welcome: B is parked, and Kim is told that nobody can let her in.
	first, release := resumeWhileBusy(t, srv, h, m, b)
	defer release()
	first.ParticipantID = b.ParticipantID
	dropAndSeeReconnecting(t, first, alice)
	if msg := expectType(t, kim, "lobby"); lobbyPresent(t, msg) {
		t.Fatalf("Kim, once the only moderator was away: %s", msg.Payload)
	}

	// A second resume claims B; it waits for B's busy connection to let go.
	second := srv.dial(t)
	if err := second.SendResume(m.MeetingID, b.ParticipantID, b.ResumeSecret, nil); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the second resume to claim B", func() bool {
		select {
		case <-second.Done():
			return true
		default:
			return signaling.ResumeClaimed(srv.sig, m.MeetingID, b.ParticipantID)
		}
	})
	for _, msg := range barrier(t, kim) {
		if msg.Type == "lobby" && lobbyPresent(t, msg) {
			t.Fatalf("Kim was told a moderator is here while its resume was not welcomed: %s", msg.Payload)
		}
	}

	release() // B's old connection lets go: the resume is welcomed
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := second.AwaitWelcome(ctx); err != nil {
		t.Fatal(err)
	}
	if msg := expectType(t, kim, "lobby"); !lobbyPresent(t, msg) {
		t.Fatalf("Kim, once the moderator's resume was welcomed: %s", msg.Payload)
	}
}

// TestNothingBeforeTheResumesWelcome: what happens in the meeting between a resume's
// claim and its welcome (here a settings change and a mute of B) does not reach
// the resuming connection before its welcome: the welcome carries the settings as they
// are then, and the mute follows it (the member comes back muted, and is told so). A
// settings message went out to the claiming connection before its welcome (from a
// helper's audit).
func TestNothingBeforeTheResumesWelcome(t *testing.T) {
	h, srv, m, a, b := resumableModerators(t, `{}`)

	// B's connection is busy (its password change waits for the hasher) and a resume
	// claims B meanwhile. B stays a moderator: a password change whose moderator is made
	// a participant is given up then, even on a connection a resume replaced, and B's
	// connection would be busy no more; a moderator's mute of B reaches a moderator.
	release := passwordWaiting(t, h, b)
	defer release()
	r := srv.dial(t)
	if err := r.SendResume(m.MeetingID, b.ParticipantID, b.ResumeSecret, nil); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the resume to claim B", func() bool { return signaling.ResumeClaimed(srv.sig, m.MeetingID, b.ParticipantID) })

	if _, err := a.Send("update_settings", map[string]any{"chat": false}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send("mute", map[string]any{"participantId": b.ParticipantID, "source": "microphone"}); err != nil {
		t.Fatal(err)
	}
	muteBarrier(t, a, b.ParticipantID)

	release() // B's old connection lets go: the resume is welcomed
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	msg, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Type != "welcome" {
		t.Fatalf("the resuming connection got %s %s before its welcome", msg.Type, msg.Payload)
	}
	var w struct {
		Role     string
		Settings map[string]bool
	}
	if err := json.Unmarshal(msg.Payload, &w); err != nil {
		t.Fatal(err)
	}
	if w.Role != "moderator" || w.Settings["chat"] {
		t.Fatalf("the welcome of the resume: role %q, settings %v; want moderator, chat off", w.Role, w.Settings)
	}
	var told []signaling.MediaCommandPayload
	for _, msg := range barrier(t, r) {
		if msg.Type == "media_command" {
			var p signaling.MediaCommandPayload
			if err := json.Unmarshal(msg.Payload, &p); err != nil {
				t.Fatal(err)
			}
			told = append(told, p)
		}
	}
	want := []signaling.MediaCommandPayload{{Command: "mute_microphone", By: a.ParticipantID}}
	if !slices.Equal(told, want) {
		t.Fatalf("after the welcome: media commands %+v, want %+v", told, want)
	}
	if !signaling.SourceBlocked(srv.sig, m.MeetingID, b.ParticipantID, "microphone") {
		t.Fatal("the microphone muted before the welcome is forwarded")
	}
}
