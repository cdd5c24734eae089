package signaling_test

import (
	"testing"

	"conclave/internal/conntest"
	"conclave/signaling"
)

// TestPlaceGivenBackBeforeTheTurn: the meeting's password budget is spent but for the
// place A's last password holds while its hash waits in the hasher's line, and B's new
// password waits for A's turn. A's connection goes: its hash ran nothing, its place is
// given back, and B's password, which takes the turn next, is hashed and set with it.
// The turn was given back at once and the place by the hash's goroutine, once out of
// the line: B's password raced the place's return and was refused (rate_limited, "too
// many password changes") when it lost, about one time in three. The race is run
// placeRounds times, each in a meeting of its own.
func TestPlaceGivenBackBeforeTheTurn(t *testing.T) {
	const placeRounds = 12
	for range placeRounds {
		placeGivenBackRound(t)
	}
}

func placeGivenBackRound(t *testing.T) {
	t.Helper()
	h, release := heldHasher(t)
	defer release()
	srv, m, a, b := twoModerators(t, h)
	release()
	for _, pw := range []string{"Linde eins", "Linde zwei"} {
		if got := changeSettings(t, a, map[string]any{"password": pw}); got.Type != "settings" {
			t.Fatalf("A's password %q: %+v", pw, got)
		}
	}
	release = passwordWaiting(t, h, a) // the budget's third place
	defer release()
	idB := sendTurnWaiting(t, srv, m, b, map[string]any{"password": "Linde B"})
	seen := len(b.All())
	a.Close()
	// B holds the turn once A's, which B waited for, was given back, its hash in line;
	// or B was answered.
	conntest.Eventually(t, "B's password to wait for its hash, or an answer to it", func() bool {
		return len(b.All()) > seen || signaling.PasswordTurnHeld(srv.sig, m.MeetingID) &&
			signaling.PasswordTurnWaiters(srv.sig, m.MeetingID) == 0 && h.Waiting() == 1
	})
	for _, msg := range b.All()[seen:] {
		if msg.Ref == idB {
			t.Fatalf("B's password, A's connection gone with its hash in line: %s; want it hashed", msg.Raw)
		}
	}
	release()
	if got := settingsReply(t, b, idB); got.Type != "settings" || !got.Settings["passwordRequired"] {
		t.Fatalf("B's password: %+v", got)
	}
}
