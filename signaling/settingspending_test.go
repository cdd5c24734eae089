package signaling_test

import (
	"strings"
	"testing"
)

// An update_settings refused for what the message is (a password too long) or for
// what its connection has under way (an earlier password not answered yet) takes no
// token of the connection's limit of messages (20 at once): a slower pace would not
// have spared the sender the refusal, and nothing went to anyone (PROTOCOL.md,
// "Limits"). The clock stands still, so no token comes back meanwhile.

// TestRefusedPasswordsSpendNoMessageToken: B's new password waits for its hash; B's
// 19 more passwords meanwhile are each refused change_pending, and B's change of a
// switch after them, its 21st update_settings, is carried out. A moderator's 20
// passwords too long, with a switch among them, are each refused invalid_field, and
// the switch after them is carried out. Both refusals took a token: the connection's
// twenty were spent, and the switch was refused rate_limited.
func TestRefusedPasswordsSpendNoMessageToken(t *testing.T) {
	t.Run("change_pending", func(t *testing.T) {
		h, release := heldHasher(t)
		defer release()
		srv, m, _, b := twoModerators(t, h)
		first := sendHashWaiting(t, h, b, map[string]any{"password": "Ulme", "revision": b.SettingsRevision})
		// 19, not 20: twenty refused messages in a row close the connection.
		for i := range 19 {
			if got := changeSettings(t, b, map[string]any{"password": "Ulme zwei"}); got.Type != "error" || got.Code != "change_pending" {
				t.Fatalf("B's password %d while its first hashes: %s %s, want error change_pending", i+2, got.Type, got.Code)
			}
		}
		if got := changeSettings(t, b, map[string]any{"chat": false}); got.Type != "settings" {
			t.Fatalf("B's switch after one password and 19 refused change_pending: %s %s, want settings", got.Type, got.Code)
		}
		release()
		if got := settingsReply(t, b, first); got.Type != "settings" || !got.Settings["passwordRequired"] {
			t.Fatalf("B's first password: %+v", got)
		}
		if !passwordHolds(t, srv, m, "Ulme") {
			t.Fatal("B's first password does not hold")
		}
	})
	t.Run("password too long", func(t *testing.T) {
		_, _, a, _ := twoModerators(t, nil)
		tooLong := strings.Repeat("Eibe", 33) // 132 characters, 128 allowed
		refuse := func(n int) {
			t.Helper()
			for range n {
				if got := changeSettings(t, a, map[string]any{"password": tooLong}); got.Type != "error" || got.Code != "invalid_field" {
					t.Fatalf("A's password too long: %s %s, want error invalid_field", got.Type, got.Code)
				}
			}
		}
		refuse(19)
		if got := changeSettings(t, a, map[string]any{"chat": false}); got.Type != "settings" {
			t.Fatalf("A's switch after 19 passwords too long: %s %s, want settings", got.Type, got.Code)
		}
		refuse(1)
		if got := changeSettings(t, a, map[string]any{"chat": true}); got.Type != "settings" {
			t.Fatalf("A's switch after 20 passwords too long: %s %s, want settings", got.Type, got.Code)
		}
	})
}
