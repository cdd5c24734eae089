package signaling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/secret"
	"conclave/signaling"
)

// Memberships lost or dropped between a claim or an admission and the welcome.

// waitGone waits until c's connection is closed (bounded only against a hung test).
func waitGone(t *testing.T, c *testclient.Client) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(conntest.Wait):
		t.Fatal("the connection was not closed")
	}
}

// expectLeft reads c's messages until it is told that id left.
func expectLeft(t *testing.T, c *testclient.Client, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	for {
		m, err := c.Expect(ctx, "participant_left")
		if err != nil {
			t.Fatalf("waiting for %s to leave: %v", id, err)
		}
		var p struct{ ParticipantID string }
		_ = json.Unmarshal(m.Payload, &p)
		if p.ParticipantID == id {
			return
		}
	}
}

// publishing has c publish its microphone and sends until watcher is offered it: the
// track is in the room from then on.
func publishing(t *testing.T, c, watcher *testclient.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pubs, err := c.Publish(ctx, "microphone")
	if err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the microphone offered to "+watcher.ParticipantID, func() bool {
		_ = pubs[0].Send([]byte{0xfc, 1, 2, 3})
		for _, tr := range lastOffer(watcher) {
			if tr.ParticipantID == c.ParticipantID {
				return true
			}
		}
		return false
	})
}

// resumableModerators is a meeting made with room (createMeetingWith's JSON) and
// moderators A and B in it, on a server whose one hasher slot the test may hold
// (passwordWaiting) and whose members may resume (testGrace).
func resumableModerators(t *testing.T, room string) (*secret.Hasher, *testServer, createdMeeting, *testclient.Client, *testclient.Client) {
	t.Helper()
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), Hasher: h, ResumeGrace: testGrace})
	m := srv.createMeetingWith(t, room)
	return h, srv, m, srv.joinModerator(t, m, "A"), srv.joinModerator(t, m, "B")
}

// resumeWhileBusy resumes member b on a new connection while b's connection is busy
// (a password change of its own waits for h's one slot, so it lets go late), and
// returns once the resume has claimed the membership, before its welcome; release lets
// the password change (and so the old connection) go on.
func resumeWhileBusy(t *testing.T, srv *testServer, h *secret.Hasher, m createdMeeting, b *testclient.Client) (*testclient.Client, func()) {
	t.Helper()
	release := passwordWaiting(t, h, b)
	r := srv.dial(t)
	if err := r.SendResume(m.MeetingID, b.ParticipantID, b.ResumeSecret, nil); err != nil {
		release()
		t.Fatal(err)
	}
	conntest.Eventually(t, "the resume to claim B", func() bool { return signaling.ResumeClaimed(srv.sig, m.MeetingID, b.ParticipantID) })
	return r, release
}

// TestRemovedBeforeWelcomeGetsNoMedia: a member removed while its resume waited for its
// last connection to let go is told so, and is offered no media: the resume went on to join
// the media, found the membership gone, and kept the media connection, whose subscribe
// offer (every publisher's id and track) went out before the removal half the time
// (from a helper's audit). The admitted session that is removed before its welcome
// takes the same path (completeJoin). The old connection is held in the hashing line
// with a password change, so the removal lands in the resume's wait every time; the
// order in which the session then handles its removal and the media's offer is
// Go's choice, hence several rounds.
func TestRemovedBeforeWelcomeGetsNoMedia(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), Hasher: h, ResumeGrace: testGrace})
	for round := range 8 {
		m := srv.createMeetingWith(t, `{}`) // a meeting allows three password changes at once
		a := srv.joinModerator(t, m, "A")
		b := srv.joinModerator(t, m, "B")
		pub := srv.admitted(t, a, m.MeetingID, "Pub")
		publishing(t, pub, a)

		r, release := resumeWhileBusy(t, srv, h, m, b)
		defer release()
		if _, err := a.Send("remove", map[string]any{"participantId": b.ParticipantID}); err != nil {
			t.Fatal(err)
		}
		expectLeft(t, a, b.ParticipantID)
		release()

		waitGone(t, r)
		for _, msg := range r.All() {
			if msg.Type == "subscribe_offer" || msg.Type == "welcome" {
				t.Fatalf("round %d: a resume removed before its welcome got %s %s", round, msg.Type, msg.Payload)
			}
		}
		if reason, _ := byeReason(t, r); reason != "removed" {
			t.Fatalf("round %d: bye %q, want removed", round, reason)
		}
	}
}

// TestResumeDroppedBeforeWelcomeResumesAgain: a resume whose connection drops while the
// member's last connection still lets go, before its welcome with the next secret, does
// not spend the secret it came with: the member resumes with it on another connection
// (it was refused, and the member stayed reconnecting until the grace ran out: from a
// helper's audit). That resume waits for the connection that still held the member's
// media, not for the one that dropped (it would find the media's id taken).
func TestResumeDroppedBeforeWelcomeResumesAgain(t *testing.T) {
	h, srv, m, a, b := resumableModerators(t, `{}`)

	first, release := resumeWhileBusy(t, srv, h, m, b)
	defer release()
	first.ParticipantID = b.ParticipantID
	dropAndSeeReconnecting(t, first, a) // before its welcome

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
	release() // now B's first connection lets go of the media
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	for {
		msg, err := second.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Type == "welcome" {
			break
		}
		if msg.Type == "error" || msg.Type == "bye" {
			t.Fatalf("a resume with the secret of one that dropped before its welcome got %s %s", msg.Type, msg.Payload)
		}
	}
	if w := resumedWelcome(t, second); !w.Resumed || w.ParticipantID != b.ParticipantID || w.Role != "moderator" {
		t.Fatalf("welcome %+v", w)
	}
	if p := participantOf(t, expectType(t, a, "participant_resumed")); p.ID != b.ParticipantID || p.Reconnecting {
		t.Fatalf("participant_resumed %+v", p)
	}
}

// TestAdmittedAndRemovedGetsNoMedia: someone admitted and removed at once is told so,
// and if the removal came before its welcome, nothing else (completeJoin: the same
// subscribe offer as TestRemovedBeforeWelcomeGetsNoMedia's could go out first). Here
// nothing holds the admitted session back, so whether a round removes it before its
// welcome is up to the machine; a round that welcomed it first says nothing.
func TestAdmittedAndRemovedGetsNoMedia(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), ResumeGrace: testGrace})
	m := srv.createMeetingWith(t, `{}`)
	a := srv.joinModerator(t, m, "A")
	pub := srv.admitted(t, a, m.MeetingID, "Pub")
	publishing(t, pub, a)
	for round := range 12 {
		name := fmt.Sprintf("Knocker %d", round)
		k := srv.knock(t, m.MeetingID, name, nil)
		id := waitingID(t, a, name)
		for _, typ := range []string{"admit", "remove"} {
			if _, err := a.Send(typ, map[string]any{"participantId": id}); err != nil {
				t.Fatal(err)
			}
		}
		waitGone(t, k)
		if slices.ContainsFunc(k.All(), func(msg testclient.Message) bool { return msg.Type == "welcome" }) {
			continue // removed after its welcome
		}
		for _, msg := range k.All() {
			if msg.Type != "lobby" && msg.Type != "bye" {
				t.Fatalf("round %d: admitted and removed before its welcome, got %s %s", round, msg.Type, msg.Payload)
			}
		}
	}
}

// TestMuteWhileResumeWaitsSurvivesItsDrop: a moderator's mute of a member whose resume
// has claimed the membership but not yet been welcomed (it waits for the last
// connection to let go) reaches the member when it resumes again after that resume's
// connection dropped. It went to the claiming connection, which dropped it unread (it
// had no media yet, and never a welcome), so the member came back unmuted, never told,
// while the mute had been accepted.
func TestMuteWhileResumeWaitsSurvivesItsDrop(t *testing.T) {
	h, srv, m, a, b := resumableModerators(t, `{}`)

	first, release := resumeWhileBusy(t, srv, h, m, b)
	defer release()
	if _, err := a.Send("mute", map[string]any{"participantId": b.ParticipantID, "source": "microphone"}); err != nil {
		t.Fatal(err)
	}
	muteBarrier(t, a, b.ParticipantID)
	first.ParticipantID = b.ParticipantID
	dropAndSeeReconnecting(t, first, a) // before its welcome

	// The page says its microphone is off (it may: B is a moderator), so only the mute
	// told after the welcome can stop it.
	second := srv.dial(t)
	if err := second.SendResume(m.MeetingID, b.ParticipantID, b.ResumeSecret, map[string]any{"media": map[string]bool{"mic": false, "camera": false}}); err != nil {
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
	release()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	for welcomed := false; !welcomed; {
		msg, err := second.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		switch msg.Type {
		case "welcome":
			welcomed = true
		case "error", "bye":
			t.Fatalf("the second resume got %s %s", msg.Type, msg.Payload)
		}
	}
	// A probe behind the resume: its error comes after every command of the resume.
	probe, err := second.Send("mute", map[string]any{"participantId": a.ParticipantID, "source": "barrier"})
	if err != nil {
		t.Fatal(err)
	}
	var told []signaling.MediaCommandPayload
	for {
		msg, err := second.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Type == "error" && msg.Ref == probe {
			break
		}
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
		t.Fatalf("the mute sent while the first resume waited, after the second's welcome: %+v, want %+v", told, want)
	}
	if !signaling.SourceBlocked(srv.sig, m.MeetingID, b.ParticipantID, "microphone") {
		t.Fatal("the muted microphone is forwarded")
	}
}
