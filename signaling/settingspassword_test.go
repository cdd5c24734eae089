package signaling_test

import (
	"slices"
	"testing"

	"conclave/internal/conntest"
	"conclave/signaling"
)

// TestPasswordTurnIsGivenBack: a change of the password that waits for another's under
// way goes on once that one ends, however it ends: here refused while its hash waits,
// for a switch it named that another moderator changed meanwhile (a switch does not
// wait). A turn left behind would keep every later password of the meeting waiting for
// good. A's hash is given up in the hasher's line then, not run to be refused where it
// was to be applied: B's is the only one that waits there.
func TestPasswordTurnIsGivenBack(t *testing.T) {
	h, release := heldHasher(t)
	defer release()
	srv, m, a, b := twoModerators(t, h)
	c := srv.joinModerator(t, m, "C")
	base := a.SettingsRevision
	// A's password with an unlock waits for its hash, B's password for A's turn; C
	// locks, on what it sees.
	idA := sendHashWaiting(t, h, a, map[string]any{"password": "Lärche", "locked": false, "revision": base})
	idB := sendTurnWaiting(t, srv, m, b, map[string]any{"password": "Eibe", "revision": base})
	if lock := changeSettings(t, c, map[string]any{"locked": true, "revision": base}); lock.Type != "settings" {
		t.Fatalf("C's lock while A's password is hashed: %+v", lock)
	}
	if got := settingsReply(t, a, idA); got.Code != "settings_changed" || !slices.Equal(got.Fields, []string{"locked"}) {
		t.Fatalf("A's unlock of a lock it had not seen: %+v", got)
	}
	conntest.Eventually(t, "B's password to wait for its own hash", func() bool {
		return signaling.PasswordTurnWaiters(srv.sig, m.MeetingID) == 0 && h.Waiting() == 1
	})
	runs := h.Runs()
	release()
	set := settingsReply(t, b, idB)
	if set.Type != "settings" || !set.Settings["passwordRequired"] || !set.Settings["locked"] {
		t.Fatalf("B's password after A's was refused: %+v", set)
	}
	if n := h.Runs() - runs; n != 1 {
		t.Fatalf("%d hashes for A's refused password and B's, want 1 (B's)", n)
	}
}

// TestPasswordTurnEndsWithItsConnection: a change of the password waiting for another's
// goes on when the connection of that one goes while its hash waits.
func TestPasswordTurnEndsWithItsConnection(t *testing.T) {
	h, release := heldHasher(t)
	defer release()
	srv, m, a, b := twoModerators(t, h)
	base := a.SettingsRevision
	sendHashWaiting(t, h, a, map[string]any{"password": "Zeder", "revision": base})
	idB := sendTurnWaiting(t, srv, m, b, map[string]any{"password": "Tanne", "revision": base})
	a.Close()
	// A's hash is given up with its connection; B's takes its place in the hasher's line.
	conntest.Eventually(t, "B's password to wait for its hash", func() bool {
		return signaling.PasswordTurnWaiters(srv.sig, m.MeetingID) == 0 && h.Waiting() == 1
	})
	release()
	if got := settingsReply(t, b, idB); got.Type != "settings" || !slices.Equal(got.Changed, []string{"password"}) {
		t.Fatalf("B's password after A's connection went: %+v", got)
	}
	if !passwordHolds(t, srv, m, "Tanne") || passwordHolds(t, srv, m, "Zeder") {
		t.Fatal("the password in force is not B's")
	}
}

// TestRemovingARemovedPasswordHolds: B removes the password on the settings that
// showed it, after A had removed it: the result B asked for holds already, and nothing
// of A's is undone, so B is told it holds (its settings, changing nothing). It was
// refused (settings_changed) as a clash. A removal of a password B had not seen is
// still refused.
func TestRemovingARemovedPasswordHolds(t *testing.T) {
	srv, m, a, b := twoModerators(t, nil)
	set := changeSettings(t, a, map[string]any{"password": "Ahorn", "revision": a.SettingsRevision})
	if set.Type != "settings" {
		t.Fatalf("A's password: %+v", set)
	}
	if got := changeSettings(t, a, map[string]any{"password": "", "revision": set.Revision}); got.Type != "settings" || got.Settings["passwordRequired"] {
		t.Fatalf("A's removal: %+v", got)
	}
	got := changeSettings(t, b, map[string]any{"password": "", "revision": set.Revision})
	if got.Type != "settings" || got.Settings["passwordRequired"] || got.Changed != nil {
		t.Fatalf("B's removal of the password A removed first: %+v, want its settings, nothing changed", got)
	}
	if !passwordHolds(t, srv, m, "") {
		t.Fatal("the meeting asks for a password")
	}
	// A sets one again; B's removal based on the settings before it is refused.
	again := changeSettings(t, a, map[string]any{"password": "Ulme", "revision": got.Revision})
	if again.Type != "settings" {
		t.Fatalf("A's second password: %+v", again)
	}
	if got := changeSettings(t, b, map[string]any{"password": "", "revision": got.Revision}); got.Code != "settings_changed" || !slices.Equal(got.Fields, []string{"password"}) {
		t.Fatalf("B's removal of a password it had not seen: %+v", got)
	}
	if !passwordHolds(t, srv, m, "Ulme") {
		t.Fatal("A's password no longer holds")
	}
}
