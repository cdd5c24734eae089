package signaling_test

import (
	"encoding/json"
	"testing"

	"conclave/internal/conntest"
	"conclave/lobby"
	"conclave/signaling"
)

// A password change is its sender's as the moderator it was when it began: made a
// participant and a moderator again before its connection took the demotion, the
// sender's change is refused all the same (PROTOCOL.md, "Two moderators at once").

// demotedAndBack has moderator by make target a participant and a moderator again in
// meeting m, both carried out before any connection takes the first's event (the
// meeting held meanwhile); meanwhile runs first, under the same hold.
func demotedAndBack(t *testing.T, srv *testServer, m createdMeeting, by, target string, meanwhile func()) {
	t.Helper()
	act, release := signaling.HoldMeetingToAct(srv.sig, m.MeetingID)
	defer release()
	meanwhile()
	for _, role := range []lobby.Role{lobby.RoleParticipant, lobby.RoleModerator} {
		if err := act(by, lobby.SetRole{Target: lobby.ID(target), Role: role}); err != nil {
			t.Fatalf("set_role %s: %v", role, err)
		}
	}
}

// TestDemotionUndoneAtOnceRefusesThePassword: B's password waits for its hash, or for
// A's turn; C makes B a participant and a moderator again before B's connection takes
// the demotion. B's change is refused (not_allowed) at once, and nothing of it is
// hashed. B's connection looked at the role in force when it took the event, and the
// meeting when it checked the change again: B's hash, given up in line at the
// demotion, was hashed anew, and a change waiting for the turn went on waiting.
func TestDemotionUndoneAtOnceRefusesThePassword(t *testing.T) {
	t.Run("waiting for its hash", func(t *testing.T) {
		h, release := heldHasher(t)
		defer release()
		srv, m, _, b := twoModerators(t, h)
		c := srv.joinModerator(t, m, "C")
		id := sendHashWaiting(t, h, b, map[string]any{"password": "Linde", "revision": b.SettingsRevision})
		demotedAndBack(t, srv, m, c.ParticipantID, b.ParticipantID, func() {})
		if typ, code := answerWhileHeld(t, b, id); typ != "error" || code != "not_allowed" {
			t.Fatalf("B's password after B was a participant a moment: %s %s, want error not_allowed", typ, code)
		}
		conntest.Eventually(t, "B's hash to leave the line", func() bool { return h.Waiting() == 0 })
		runs := h.Runs()
		release()
		if !passwordHolds(t, srv, m, "") || h.Runs() != runs {
			t.Fatal("B's password was hashed")
		}
	})
	t.Run("waiting for the turn", func(t *testing.T) {
		h, release := heldHasher(t)
		defer release()
		srv, m, a, b, c, idB := waitingForTurn(t, h)
		demotedAndBack(t, srv, m, c.ParticipantID, b.ParticipantID, func() {})
		if typ, code := answerWhileHeld(t, b, idB); typ != "error" || code != "not_allowed" {
			t.Fatalf("B's password after B was a participant a moment: %s %s, want error not_allowed", typ, code)
		}
		release()
		if got := expectType(t, a, "settings"); got.Ref == "" {
			t.Fatalf("A's answer: %+v", got)
		}
		if !passwordHolds(t, srv, m, "Birke") {
			t.Fatal("A's password does not hold")
		}
	})
}

// TestDemotionUndoneAtOnceRefusesAHashedPassword: B's password has been hashed when A
// makes B a participant and a moderator again, and B's connection, which a resume
// has replaced, takes no event: the meeting, where the change is applied, refuses it,
// and the resume's welcome shows no password. It was applied, B being a moderator
// again by then.
func TestDemotionUndoneAtOnceRefusesAHashedPassword(t *testing.T) {
	h, srv, m, a, b := resumableModerators(t, `{"settings":{"lobby":false}}`) // a guest tries the password
	r, release := resumeWhileBusy(t, srv, h, m, b)
	defer release()
	runs := h.Runs()
	demotedAndBack(t, srv, m, a.ParticipantID, b.ParticipantID, func() {
		release()
		conntest.Eventually(t, "B's password to be hashed", func() bool { return h.Runs() > runs })
	})
	w := expectType(t, r, "welcome")
	var welcome struct {
		Role     string `json:"role"`
		Settings struct {
			PasswordRequired bool `json:"passwordRequired"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(w.Payload, &welcome); err != nil || welcome.Role != "moderator" || welcome.Settings.PasswordRequired {
		t.Fatalf("the resume's welcome: %s, want a moderator's without a password", w.Payload)
	}
	if !passwordHolds(t, srv, m, "") {
		t.Fatal("B's password holds")
	}
}
