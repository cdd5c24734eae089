package signaling_test

import (
	"context"
	"testing"
	"time"

	"conclave/internal/testclient"
	"conclave/secret"
	"conclave/signaling"
)

// TestPasswordTurnIsNotTakenByAModeratorNoMore: B's password waits for A's, which
// C's lock then makes stale (A's unlocks); meanwhile C makes B a participant. When A's
// is refused, B's is refused too (not_allowed), without a hash: its role was checked
// only before it waited, and a change its sender may no longer make took the turn,
// spent a hash and a place of the meeting's password budget, and was refused only
// where it was to be applied.
func TestPasswordTurnIsNotTakenByAModeratorNoMore(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	release, err := h.Hold(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	srv, m, a, b := twoModerators(t, h)
	c := srv.joinModerator(t, m, "C")
	base := a.SettingsRevision
	idA, err := a.Send("update_settings", map[string]any{"password": "Birke", "locked": false, "revision": base})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "A's password to wait for its hash", func() bool { return h.Waiting() == 1 })
	idB, err := b.Send("update_settings", map[string]any{"password": "Buche", "revision": base})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "B's password to wait for A's", func() bool { return signaling.PasswordTurnWaiters(srv.sig, m.MeetingID) == 1 })
	if lock := changeSettings(t, c, map[string]any{"locked": true, "revision": base}); lock.Type != "settings" {
		t.Fatalf("C's lock: %+v", lock)
	}
	if got := changeRole(t, c, b.ParticipantID, "participant"); got != "done" {
		t.Fatalf("C's set_role: %s", got)
	}
	runs := h.Runs()
	release()
	if got := settingsReply(t, a, idA); got.Code != "settings_changed" {
		t.Fatalf("A's unlock of a lock it had not seen: %+v", got)
	}
	if got := settingsReply(t, b, idB); got.Type != "error" || got.Code != "not_allowed" {
		t.Fatalf("B's password after B stopped being a moderator: %+v, want not_allowed", got)
	}
	if n := h.Runs() - runs; n != 1 {
		t.Fatalf("%d hashes for A's password and B's refused one, want 1 (A's)", n)
	}
}

// changeRole sends set_role from c and returns the answer's type (done or error code).
func changeRole(t *testing.T, c *testclient.Client, id, role string) string {
	t.Helper()
	ref, err := c.Send("set_role", map[string]any{"participantId": id, "role": role})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msg, err := c.Reply(ctx, ref, "done")
	if err != nil {
		t.Fatalf("set_role: %v", err)
	}
	return msg.Type
}
