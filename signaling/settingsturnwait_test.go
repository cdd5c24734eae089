package signaling_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/secret"
)

// waitingForTurn has A's password wait for its hash (h held by the caller) and B's for
// A's turn, with moderator C standing by, and returns C and B's message id.
func waitingForTurn(t *testing.T, h *secret.Hasher) (srv *testServer, m createdMeeting, a, b, c *testclient.Client, idB string) {
	t.Helper()
	srv, m, a, b = twoModerators(t, h)
	c = srv.joinModerator(t, m, "C")
	base := a.SettingsRevision
	sendHashWaiting(t, h, a, map[string]any{"password": "Birke", "revision": base})
	idB = sendTurnWaiting(t, srv, m, b, map[string]any{"password": "Buche", "revision": base})
	return srv, m, a, b, c, idB
}

// TestPasswordTurnIsNotTakenByAModeratorNoMore: B's password waits for A's, which
// C's lock then makes stale (A's unlocks); meanwhile C makes B a participant. When A's
// is refused, B's is refused too (not_allowed), without a hash: its role was checked
// only before it waited, and a change its sender may no longer make took the turn,
// spent a hash and a place of the meeting's password budget, and was refused only
// where it was to be applied. A's hash is given up in line at C's lock, which makes it
// stale: no hash runs at all.
func TestPasswordTurnIsNotTakenByAModeratorNoMore(t *testing.T) {
	h, release := heldHasher(t)
	defer release()
	srv, m, a, b := twoModerators(t, h)
	c := srv.joinModerator(t, m, "C")
	base := a.SettingsRevision
	idA := sendHashWaiting(t, h, a, map[string]any{"password": "Birke", "locked": false, "revision": base})
	idB := sendTurnWaiting(t, srv, m, b, map[string]any{"password": "Buche", "revision": base})
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
	if n := h.Runs() - runs; n != 0 {
		t.Fatalf("%d hashes for A's stale password and B's refused one, want none", n)
	}
}

// TestRemovalEndsAWaitForThePasswordTurn: B's password waits for A's, whose hash
// waits; C removes B. B is told at once (bye, removed), not when A's hash is done: the
// session's goroutine, waiting for the turn, took no event, so a removal (and a mute)
// of its member was carried out only after the wait, the media going on meanwhile.
func TestRemovalEndsAWaitForThePasswordTurn(t *testing.T) {
	h, release := heldHasher(t)
	defer release()
	_, _, _, b, c, _ := waitingForTurn(t, h)
	if _, err := c.Send("remove", map[string]any{"participantId": b.ParticipantID}); err != nil {
		t.Fatal(err)
	}
	// The hasher is still held: A's hash, and so B's wait, has not ended.
	bye := expectType(t, b, "bye")
	var p struct {
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(bye.Payload, &p); err != nil || p.Reason != "removed" {
		t.Fatalf("B's bye: %s", bye.Payload)
	}
	if h.Waiting() != 1 {
		t.Fatalf("%d hashes waiting, want A's", h.Waiting())
	}
}

// TestRemovalEndsAWaitForTheHash: B's own password waits for its hash; C removes B. B
// is told at once, and its hash is given up (the hasher's line holds none of it).
func TestRemovalEndsAWaitForTheHash(t *testing.T) {
	h, release := heldHasher(t)
	defer release()
	srv, m, _, b := twoModerators(t, h)
	c := srv.joinModerator(t, m, "C")
	sendHashWaiting(t, h, b, map[string]any{"password": "Linde", "revision": b.SettingsRevision})
	if _, err := c.Send("remove", map[string]any{"participantId": b.ParticipantID}); err != nil {
		t.Fatal(err)
	}
	bye := expectType(t, b, "bye")
	if !json.Valid(bye.Payload) {
		t.Fatalf("B's bye: %s", bye.Payload)
	}
	conntest.Eventually(t, "B's hash to leave the line", func() bool { return h.Waiting() == 0 })
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
