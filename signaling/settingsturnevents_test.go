package signaling_test

import (
	"encoding/json"
	"strings"
	"testing"

	"conclave/internal/conntest"
	"conclave/signaling"
)

// This file holds what a password change waiting for its turn or its hash leaves to
// its connection and to the meeting (passwordchange.go): the connection's messages
// read meanwhile, a change given up as soon as it would be refused, and the place of
// the meeting's password budget it took given back.

// TestConnectionIsHeardWhileItsPasswordHashes: B's new password waits for its hash (the
// hasher held). B's ping is answered meanwhile, and a second password B sends before
// the first is answered is refused (change_pending), changing nothing. The session's
// goroutine waited for the hash, reading none of the connection's messages: the ping
// was answered only once the hash was done. The second password was refused as
// rate_limited, though the meeting's budget of new passwords had two left.
func TestConnectionIsHeardWhileItsPasswordHashes(t *testing.T) {
	h, release := heldHasher(t)
	defer release()
	srv, m, _, b := twoModerators(t, h)
	idFirst := sendHashWaiting(t, h, b, map[string]any{"password": "Esche", "revision": b.SettingsRevision})
	ping, err := b.Send("ping", map[string]any{"n": 7})
	if err != nil {
		t.Fatal(err)
	}
	if typ, _ := answerWhileHeld(t, b, ping); typ != "pong" {
		t.Fatalf("B's ping while its password hashes: %s, want pong", typ)
	}
	second, err := b.Send("update_settings", map[string]any{"password": "Espe", "revision": b.SettingsRevision})
	if err != nil {
		t.Fatal(err)
	}
	if typ, code := answerWhileHeld(t, b, second); typ != "error" || code != "change_pending" {
		t.Fatalf("B's second password while its first hashes: %s %s, want error change_pending", typ, code)
	}
	if h.Waiting() != 1 {
		t.Fatalf("%d hashes waiting, want B's first", h.Waiting())
	}
	release()
	if got := settingsReply(t, b, idFirst); got.Type != "settings" || !got.Settings["passwordRequired"] {
		t.Fatalf("B's first password: %+v", got)
	}
	if !passwordHolds(t, srv, m, "Esche") || passwordHolds(t, srv, m, "Espe") {
		t.Fatal("the password in force is not B's first")
	}
}

// TestSwitchChangedMeanwhileGivesUpAPasswordsHash: A's new password, sent with an
// unlock, waits for its hash when C locks the meeting (a switch never waits). A's
// change would be refused where it is applied, as an unlock of a lock A had not seen:
// it is refused at once (settings_changed) and its hash leaves the hasher's line. It
// was hashed when its turn in the line came, and refused only then.
func TestSwitchChangedMeanwhileGivesUpAPasswordsHash(t *testing.T) {
	h, release := heldHasher(t)
	defer release()
	srv, m, a, _ := twoModerators(t, h)
	c := srv.joinModerator(t, m, "C")
	base := a.SettingsRevision
	id := sendHashWaiting(t, h, a, map[string]any{"password": "Pappel", "locked": false, "revision": base})
	if lock := changeSettings(t, c, map[string]any{"locked": true, "revision": base}); lock.Type != "settings" {
		t.Fatalf("C's lock: %+v", lock)
	}
	if typ, code := answerWhileHeld(t, a, id); typ != "error" || code != "settings_changed" {
		t.Fatalf("A's password with an unlock of C's lock: %s %s, want error settings_changed", typ, code)
	}
	conntest.Eventually(t, "A's hash to leave the line", func() bool { return h.Waiting() == 0 })
	runs := h.Runs()
	release()
	// C's password, on what C sees, is the next hash to run.
	if got := changeSettings(t, c, map[string]any{"password": "Pappel zwei", "revision": base + 1}); got.Type != "settings" {
		t.Fatalf("C's password: %+v", got)
	}
	if n := h.Runs() - runs; n != 1 {
		t.Fatalf("%d hashes for A's refused password and C's, want 1 (C's)", n)
	}
}

// TestPasswordChangeGivenUpGivesBackItsPlace: a meeting's moderators set at most three
// new passwords at once. B's waits for its hash and D's for B's turn; C makes B a
// participant, and D's connection goes while D's hash waits. Neither hash ran, and
// both places of the budget are given back: A then sets three passwords at once. The
// places were kept, and A's third was refused (rate_limited) on a clock that had not
// moved.
func TestPasswordChangeGivenUpGivesBackItsPlace(t *testing.T) {
	h, release := heldHasher(t)
	defer release()
	srv, m, a, b := twoModerators(t, h)
	c := srv.joinModerator(t, m, "C")
	d := srv.joinModerator(t, m, "D")
	idB := sendHashWaiting(t, h, b, map[string]any{"password": "Hasel", "revision": b.SettingsRevision})
	sendTurnWaiting(t, srv, m, d, map[string]any{"password": "Holunder", "revision": d.SettingsRevision})
	if got := changeRole(t, c, b.ParticipantID, "participant"); got != "done" {
		t.Fatalf("C's set_role: %s", got)
	}
	if typ, code := answerWhileHeld(t, b, idB); typ != "error" || code != "not_allowed" {
		t.Fatalf("B's password after B stopped being a moderator: %s %s", typ, code)
	}
	conntest.Eventually(t, "D's password to wait for its hash", func() bool {
		return signaling.PasswordTurnWaiters(srv.sig, m.MeetingID) == 0 && h.Waiting() == 1
	})
	d.Close()
	conntest.Eventually(t, "D's hash to leave the line", func() bool { return h.Waiting() == 0 })
	runs := h.Runs()
	release()
	for _, pw := range []string{"Ahorn eins", "Ahorn zwei", "Ahorn drei"} {
		if got := changeSettings(t, a, map[string]any{"password": pw}); got.Type != "settings" {
			t.Fatalf("A's password %q after two changes were given up: %+v", pw, got)
		}
	}
	if n := h.Runs() - runs; n != 3 {
		t.Fatalf("%d hashes, want A's three", n)
	}
}

// TestDemotedWhileReplacedGivesUpThePasswordsHash: B's password waits for its hash when
// B resumes on a new connection, and A makes B a participant. No event reaches the old
// connection, which carries the change on for the resume's welcome; the meeting gives
// its hash up at once, and the resume is welcomed, as a participant, while the hasher
// is still held. The hash waited for its turn, was run and refused only where it was
// to be applied, and the resume waited for it.
func TestDemotedWhileReplacedGivesUpThePasswordsHash(t *testing.T) {
	h, srv, m, a, b := resumableModerators(t, `{"settings":{"lobby":false}}`) // a guest tries the password
	r, release := resumeWhileBusy(t, srv, h, m, b)
	defer release()
	if got := changeRole(t, a, b.ParticipantID, "participant"); got != "done" {
		t.Fatalf("A's set_role: %s", got)
	}
	conntest.Eventually(t, "B's hash to leave the line", func() bool { return h.Waiting() == 0 })
	if bye := expectType(t, b, "bye"); !strings.Contains(string(bye.Payload), "replaced") {
		t.Fatalf("B's old connection: bye %s", bye.Payload)
	}
	w := expectType(t, r, "welcome")
	var welcome struct {
		Role     string `json:"role"`
		Settings struct {
			PasswordRequired bool `json:"passwordRequired"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(w.Payload, &welcome); err != nil || welcome.Role != "participant" || welcome.Settings.PasswordRequired {
		t.Fatalf("the resume's welcome: %s", w.Payload)
	}
	runs := h.Runs()
	release()
	if !passwordHolds(t, srv, m, "") {
		t.Fatal("B's password holds")
	}
	if n := h.Runs() - runs; n != 0 {
		t.Fatalf("%d hashes run for B's password after B stopped being a moderator", n)
	}
}
