package signaling_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
)

// welcomedEpoch is the settingsEpoch of c's welcome.
func welcomedEpoch(t *testing.T, c *testclient.Client) string {
	t.Helper()
	for _, m := range c.All() {
		if m.Type == "welcome" {
			var w struct {
				SettingsEpoch string `json:"settingsEpoch"`
			}
			if err := json.Unmarshal(m.Payload, &w); err != nil {
				t.Fatal(err)
			}
			return w.SettingsEpoch
		}
	}
	t.Fatal("no welcome")
	return ""
}

// TestNewSessionKnowsItsMeeting: B sets a password, leaves and joins again with a new
// session while A keeps the meeting going. A password B's page typed before, based on
// revision 1 as the page had to base it (its new session could be in a new meeting of
// the room, whose revisions count afresh), is refused as another moderator's change
// (settings_changed), though the only change since was B's own, under its old id. The
// welcome's settingsEpoch tells the page it is the same meeting: based on the revision
// it saw, the password is set. A new meeting of the room has another epoch. Welcomes
// named none, and the page could not tell.
func TestNewSessionKnowsItsMeeting(t *testing.T) {
	srv, m, a, b := twoModerators(t, nil)
	set := changeSettings(t, b, map[string]any{"password": "Buche", "revision": b.SettingsRevision})
	if set.Type != "settings" {
		t.Fatalf("B's password: %+v", set)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	b2 := srv.joinModerator(t, m, "B")
	epoch := welcomedEpoch(t, a)
	if epoch == "" || welcomedEpoch(t, b2) != epoch {
		t.Fatalf("settingsEpoch %q of A's welcome, %q of B's new session's: want the same", epoch, welcomedEpoch(t, b2))
	}
	// Based on the meeting's first revision, B's own earlier password clashes.
	if got := changeSettings(t, b2, map[string]any{"password": "Birke", "revision": 1}); got.Code != "settings_changed" || !slices.Equal(got.Fields, []string{"password"}) {
		t.Fatalf("B's password based on revision 1: %+v", got)
	}
	if got := changeSettings(t, b2, map[string]any{"password": "Birke", "revision": set.Revision}); got.Type != "settings" || !got.Settings["passwordRequired"] {
		t.Fatalf("B's password based on the revision its last session saw: %+v", got)
	}
	for _, c := range []*testclient.Client{a, b2} {
		if err := c.Leave(ctx); err != nil {
			t.Fatal(err)
		}
	}
	conntest.Eventually(t, "the empty meeting to end", func() bool { return srv.sig.Registry().Len() == 0 })
	c := srv.joinModerator(t, m, "C")
	if next := welcomedEpoch(t, c); next == "" || next == epoch {
		t.Fatalf("settingsEpoch %q of the room's next meeting, %q of the last", next, epoch)
	}
}
