package signaling_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// answerWhileHeld returns the answer to c's message id, which must come while the test
// still holds the hasher: without it, the answer waited for a hash that never ends.
func answerWhileHeld(t *testing.T, c *testclient.Client, id string) (typ, code string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	for {
		msg, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("no answer to %s while the hasher is held: %v", id, err)
		}
		if msg.Ref != id {
			continue
		}
		var p struct {
			Code string `json:"code"`
		}
		if err := json.Unmarshal(msg.Payload, &p); err != nil {
			t.Fatalf("answer %s: %v", msg.Payload, err)
		}
		return msg.Type, p.Code
	}
}

// TestDemotionEndsAWaitForTheHash: B's own password waits for its hash; C makes B a
// participant. B's change is refused at once (not_allowed) and its hash leaves the
// line: carried out during the wait, the demotion left the hash waiting for its turn
// on the hasher every meeting shares, run when it came, and refused only where it was
// to be applied, every other change of the meeting's password held behind it.
func TestDemotionEndsAWaitForTheHash(t *testing.T) {
	h, release := heldHasher(t)
	defer release()
	srv, m, _, b := twoModerators(t, h)
	c := srv.joinModerator(t, m, "C")
	id := sendHashWaiting(t, h, b, map[string]any{"password": "Linde", "revision": b.SettingsRevision})
	if got := changeRole(t, c, b.ParticipantID, "participant"); got != "done" {
		t.Fatalf("C's set_role: %s", got)
	}
	if typ, code := answerWhileHeld(t, b, id); typ != "error" || code != "not_allowed" {
		t.Fatalf("B's password after B stopped being a moderator: %s %s, want error not_allowed", typ, code)
	}
	conntest.Eventually(t, "B's hash to leave the line", func() bool { return h.Waiting() == 0 })
	// The turn is given back: C's own password is hashed once the hasher is free.
	release()
	if got := changeSettings(t, c, map[string]any{"password": "Eiche", "revision": c.SettingsRevision}); got.Type != "settings" {
		t.Fatalf("C's password after B's refusal: %+v", got)
	}
}

// TestDemotionEndsAWaitForThePasswordTurn: B's password waits for A's, whose hash
// waits; C makes B a participant. B is refused at once (not_allowed), not when A's hash
// is done, and A's change is not held back by it.
func TestDemotionEndsAWaitForThePasswordTurn(t *testing.T) {
	h, release := heldHasher(t)
	defer release()
	srv, m, a, b, c, idB := waitingForTurn(t, h)
	if got := changeRole(t, c, b.ParticipantID, "participant"); got != "done" {
		t.Fatalf("C's set_role: %s", got)
	}
	if typ, code := answerWhileHeld(t, b, idB); typ != "error" || code != "not_allowed" {
		t.Fatalf("B's password after B stopped being a moderator: %s %s, want error not_allowed", typ, code)
	}
	if n := h.Waiting(); n != 1 {
		t.Fatalf("%d hashes waiting, want A's", n)
	}
	runs := h.Runs()
	release()
	if got := expectType(t, a, "settings"); got.Ref == "" {
		t.Fatalf("A's answer: %+v", got)
	}
	if !passwordHolds(t, srv, m, "Birke") {
		t.Fatal("A's password does not hold")
	}
	if n := h.Runs() - runs; n != 2 {
		t.Fatalf("%d hashes for A's password and a newcomer's check, want 2 (none of B's)", n)
	}
}

// TestReplacedWhileItsPasswordHashesLetsGoOfTheMedia: B's password waits for its hash
// (the hasher held) when B resumes on a new connection, and A mutes B's microphone.
// The old connection, which carries the change out before it goes (the resume's
// welcome brings its password), lets go of B's media at once: it kept sending B's
// media and getting the meeting's for as long as the hash waited, and the mute, kept
// for the resume (which waits for the old connection), was not carried out on it.
// The resume is welcomed once the hash is done, with the mute and the password.
func TestReplacedWhileItsPasswordHashesLetsGoOfTheMedia(t *testing.T) {
	h, srv, m, a, b := resumableModerators(t, `{"settings":{"lobby":false}}`) // a guest tries the password
	conntest.Eventually(t, "A's and B's media", func() bool { return signaling.MediaHeld(srv.sig, m.MeetingID) == 2 })
	r, release := resumeWhileBusy(t, srv, h, m, b)
	defer release()
	if _, err := a.Send("mute", map[string]any{"participantId": b.ParticipantID, "source": "microphone"}); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "B's old connection to let go of B's media while its hash waits", func() bool {
		return signaling.MediaHeld(srv.sig, m.MeetingID) == 1
	})
	if h.Waiting() != 1 {
		t.Fatalf("%d hashes waiting, want B's", h.Waiting())
	}
	release()
	if bye := expectType(t, b, "bye"); !strings.Contains(string(bye.Payload), "replaced") {
		t.Fatalf("B's old connection: bye %s", bye.Payload)
	}
	w := expectType(t, r, "welcome")
	var welcome struct {
		Settings struct {
			PasswordRequired bool `json:"passwordRequired"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(w.Payload, &welcome); err != nil || !welcome.Settings.PasswordRequired {
		t.Fatalf("the resume's welcome: %s", w.Payload)
	}
	conntest.Eventually(t, "the mute to hold on the resume's media", func() bool {
		return signaling.SourceBlocked(srv.sig, m.MeetingID, b.ParticipantID, "microphone")
	})
	if !passwordHolds(t, srv, m, "new password") || passwordHolds(t, srv, m, "") {
		t.Fatal("B's password does not hold")
	}
}
