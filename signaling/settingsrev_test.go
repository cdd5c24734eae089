package signaling_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/secret"
	"conclave/signaling"
)

// settingsAnswer is what answers an update_settings: its `settings` or its `error`.
type settingsAnswer struct {
	Type     string          // "settings" or "error"
	Code     string          // the error's
	Settings map[string]bool `json:"settings"`
	Revision uint64          `json:"revision"`
	Changed  []string        `json:"changed"`
	Fields   []string        `json:"fields"` // settings_changed: the fields that clashed
}

// settingsReply waits for the message answering c's message id (its ref), skipping others.
func settingsReply(t *testing.T, c *testclient.Client, id string) settingsAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		msg, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for the answer to %s: %v", id, err)
		}
		if msg.Ref != id {
			continue
		}
		a := settingsAnswer{Type: msg.Type}
		var code struct {
			Code string `json:"code"`
		}
		if err := json.Unmarshal(msg.Payload, &a); err != nil || json.Unmarshal(msg.Payload, &code) != nil {
			t.Fatalf("answer %s: %v", msg.Payload, err)
		}
		a.Code = code.Code
		return a
	}
}

// changeSettings sends update_settings from c and returns its answer.
func changeSettings(t *testing.T, c *testclient.Client, p map[string]any) settingsAnswer {
	t.Helper()
	id, err := c.Send("update_settings", p)
	if err != nil {
		t.Fatal(err)
	}
	return settingsReply(t, c, id)
}

// passwordHolds reports whether a newcomer gets into meeting m (no lobby) with pw.
func passwordHolds(t *testing.T, srv *testServer, m createdMeeting, pw string) bool {
	t.Helper()
	c := srv.dial(t)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	err := c.JoinWith(ctx, map[string]any{"meetingId": m.MeetingID, "name": "Gast", "password": pw})
	if ctx.Err() != nil {
		// No answer at all is no verdict on the password.
		t.Fatalf("no answer to a join with the password %q: %v", pw, err)
	}
	return err == nil
}

// twoModerators starts a server on a fake clock (with the hasher h, or the default for
// nil) and a meeting without waiting room, and joins moderators A and B to it.
func twoModerators(t *testing.T, h *secret.Hasher) (*testServer, createdMeeting, *testclient.Client, *testclient.Client) {
	t.Helper()
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), Hasher: h})
	m := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	return srv, m, srv.joinModerator(t, m, "A"), srv.joinModerator(t, m, "B")
}

// TestTwoModeratorsSetPasswordsAtOnce: A and B, both looking at the same settings, set
// a new password at once. One is in force and its moderator is told so; the other is
// refused (settings_changed, with the settings in force) and nothing of it holds. Both
// were told "saved" while only the later one held: A told people X, B's Y was the
// password. B's waits for A's, under way, and is refused before it is hashed: both were
// hashed, and B's refused only where it was to be applied, its hash spent for nothing.
func TestTwoModeratorsSetPasswordsAtOnce(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	srv, m, a, b := twoModerators(t, h)
	base := a.SettingsRevision
	if base == 0 || b.SettingsRevision != base {
		t.Fatalf("welcomes' settingsRevision: %d and %d", base, b.SettingsRevision)
	}
	release, err := h.Hold(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	runs := h.Runs()
	idA := sendHashWaiting(t, h, a, map[string]any{"password": "Kiefer eins", "revision": base})
	idB := sendTurnWaiting(t, srv, m, b, map[string]any{"password": "Kiefer zwei", "revision": base})
	release()
	if w := settingsReply(t, a, idA); w.Type != "settings" || !w.Settings["passwordRequired"] || w.Revision != base+1 {
		t.Fatalf("A's password, the first, is answered with %+v", w)
	}
	l := settingsReply(t, b, idB)
	if l.Type != "error" || l.Code != "settings_changed" || !slices.Equal(l.Fields, []string{"password"}) {
		t.Fatalf("B's password, based on the same settings, is answered with %+v; want settings_changed naming the password", l)
	}
	if !l.Settings["passwordRequired"] || l.Revision != base+1 {
		t.Fatalf("the refusal carries the settings %v at revision %d, want the password set at %d", l.Settings, l.Revision, base+1)
	}
	if n := h.Runs() - runs; n != 1 {
		t.Fatalf("%d hashes for one password in force and one refused, want 1", n)
	}
	if !passwordHolds(t, srv, m, "Kiefer eins") || passwordHolds(t, srv, m, "Kiefer zwei") {
		t.Fatal("the password in force is not the one whose moderator was told it is")
	}
}

// TestStaleSettingsClashOnlyWhereTheyWouldUndo: an update_settings based on an older
// revision is refused where a field it names was changed by another moderator since
// (nothing of it applied), and applied where it changes what nobody else touched, sets
// what is in force already, or follows its sender's own change. A stale new password
// is refused before it is hashed.
func TestStaleSettingsClashOnlyWhereTheyWouldUndo(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	srv, m, a, b := twoModerators(t, h)
	base := a.SettingsRevision

	if got := changeSettings(t, a, map[string]any{"locked": true, "revision": base}); got.Type != "settings" || !slices.Equal(got.Changed, []string{"locked"}) {
		t.Fatalf("A's lock: %+v", got)
	}
	// B's page still showed the meeting open: its unlock (with its chat off) would undo
	// A's lock unseen.
	got := changeSettings(t, b, map[string]any{"locked": false, "chat": false, "revision": base})
	if got.Type != "error" || got.Code != "settings_changed" || !slices.Equal(got.Fields, []string{"locked"}) || !got.Settings["locked"] || !got.Settings["chat"] {
		t.Fatalf("B's stale unlock: %+v, want settings_changed naming locked, with the meeting locked and chat on", got)
	}
	// A field nobody changed since, and the value in force: applied.
	if got := changeSettings(t, b, map[string]any{"chat": false, "locked": true, "revision": base}); got.Type != "settings" || got.Settings["chat"] || !got.Settings["locked"] || !slices.Equal(got.Changed, []string{"chat"}) {
		t.Fatalf("B's chat off on the same revision: %+v", got)
	}
	// A flips the lock back before its page saw the answers: its own change is no clash.
	if got := changeSettings(t, a, map[string]any{"locked": false, "revision": base}); got.Type != "settings" || got.Settings["locked"] {
		t.Fatalf("A's second flip on its first revision: %+v", got)
	}
	// A sets a password; B's, based on the revision before it, is refused unhashed.
	now := changeSettings(t, a, map[string]any{"password": "Fichte", "revision": base})
	if now.Type != "settings" || !now.Settings["passwordRequired"] {
		t.Fatalf("A's password: %+v", now)
	}
	runs := h.Runs()
	if got := changeSettings(t, b, map[string]any{"password": "", "revision": now.Revision - 1}); got.Code != "settings_changed" || !slices.Equal(got.Fields, []string{"password"}) {
		t.Fatalf("B's clear of a password it had not seen: %+v", got)
	}
	if got := changeSettings(t, b, map[string]any{"password": "Tanne", "revision": now.Revision - 1}); got.Code != "settings_changed" {
		t.Fatalf("B's stale password: %+v", got)
	}
	// A password too long is bad input, whatever revision it names: told so, not that
	// the settings changed (a page that then set it again would be refused again).
	if got := changeSettings(t, b, map[string]any{"password": strings.Repeat("x", 129), "revision": now.Revision - 1}); got.Code != "invalid_field" {
		t.Fatalf("B's stale password that is too long: %+v, want invalid_field", got)
	}
	if h.Runs() != runs {
		t.Fatalf("%d hashes spent on a refused password", h.Runs()-runs)
	}
	if !passwordHolds(t, srv, m, "Fichte") {
		t.Fatal("A's password no longer holds")
	}
	// On the revision that showed A's password, B's replaces it.
	if got := changeSettings(t, b, map[string]any{"password": "Tanne", "revision": now.Revision}); got.Type != "settings" || !slices.Equal(got.Changed, []string{"password"}) {
		t.Fatalf("B's password on the current revision: %+v", got)
	}
	if !passwordHolds(t, srv, m, "Tanne") {
		t.Fatal("B's password does not hold")
	}
}

// TestSettingsRevisionAbsentOrUnknown: an update_settings without a revision (a client
// older than revisions) is applied over whatever changed meanwhile, as before; one
// naming a revision the meeting has not had yet is invalid_field and changes nothing.
// Every member's copy of a change names its revision (a participant's not the fields it
// changed, TestOnlyModeratorsAreToldWhatChanged).
func TestSettingsRevisionAbsentOrUnknown(t *testing.T) {
	srv, m, a, b := twoModerators(t, nil)
	p := srv.join(t, m.MeetingID, "P")
	base := a.SettingsRevision
	if got := changeSettings(t, a, map[string]any{"locked": true, "revision": base}); got.Type != "settings" {
		t.Fatalf("A's lock: %+v", got)
	}
	if got := changeSettings(t, b, map[string]any{"locked": false}); got.Type != "settings" || got.Settings["locked"] {
		t.Fatalf("B's unlock without a revision: %+v", got)
	}
	if got := changeSettings(t, b, map[string]any{"chat": false, "revision": base + 100}); got.Code != "invalid_field" {
		t.Fatalf("a revision from the future: %+v", got)
	}
	var copies []settingsAnswer
	conntest.Eventually(t, "the participant's copies of both changes", func() bool {
		copies = copies[:0]
		for _, msg := range p.All() {
			var s settingsAnswer
			if msg.Type == "settings" && json.Unmarshal(msg.Payload, &s) == nil {
				copies = append(copies, s)
			}
		}
		return len(copies) >= 2
	})
	if len(copies) != 2 || copies[0].Revision != base+1 || copies[1].Revision != base+2 ||
		copies[1].Changed != nil || !copies[1].Settings["chat"] {
		t.Fatalf("a participant's settings: %+v", copies)
	}
}

// TestOnlyModeratorsAreToldWhatChanged: a moderator's copy of a change names the fields
// it changed (a replaced password, which the settings do not show, included); a
// participant's copy carries the settings and their revision only, as before revisions:
// that the password was replaced is the moderators' to know.
func TestOnlyModeratorsAreToldWhatChanged(t *testing.T) {
	srv, m, a, b := twoModerators(t, nil)
	p := srv.join(t, m.MeetingID, "P")
	for _, pw := range []string{"Birke", "Buche"} {
		if got := changeSettings(t, a, map[string]any{"password": pw, "revision": a.SettingsRevision}); got.Type != "settings" {
			t.Fatalf("A's password %q: %+v", pw, got)
		}
	}
	copies := func(c *testclient.Client) []map[string]json.RawMessage {
		var out []map[string]json.RawMessage
		for _, msg := range c.All() {
			var s map[string]json.RawMessage
			if msg.Type == "settings" && json.Unmarshal(msg.Payload, &s) == nil {
				out = append(out, s)
			}
		}
		return out
	}
	conntest.Eventually(t, "both copies of both changes", func() bool { return len(copies(p)) >= 2 && len(copies(b)) >= 2 })
	for _, s := range copies(b) {
		if string(s["changed"]) != `["password"]` {
			t.Fatalf("a moderator's copy of a password change: %v", s)
		}
	}
	for _, s := range copies(p) {
		if _, ok := s["changed"]; ok || s["revision"] == nil {
			t.Fatalf("a participant's copy of a password change names %s", s["changed"])
		}
	}
}

// welcomedPasswordRevision is the passwordRevision of c's last welcome (0: absent).
func welcomedPasswordRevision(t *testing.T, c *testclient.Client) uint64 {
	t.Helper()
	var w struct {
		PasswordRevision *uint64 `json:"passwordRevision"`
	}
	for _, m := range c.All() {
		if m.Type == "welcome" {
			w.PasswordRevision = nil
			if err := json.Unmarshal(m.Payload, &w); err != nil {
				t.Fatal(err)
			}
		}
	}
	if w.PasswordRevision == nil {
		return 0
	}
	return *w.PasswordRevision
}

// TestResumedModeratorIsToldOfAnotherModeratorsPassword: a moderator whose connection
// dropped while another moderator replaced the password missed that `settings`, and
// its resumed welcome shows a password set, as before: its page went on handing out the
// one that no longer opens the meeting. The welcome of a moderator's resume names the
// revision of another moderator's last password change (passwordRevision); a
// participant's does not, nor that of the moderator who made the change.
func TestResumedModeratorIsToldOfAnotherModeratorsPassword(t *testing.T) {
	f := newResumeFixture(t)
	b := f.srv.joinModerator(t, f.meeting, "B")
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	set := changeSettings(t, f.mod, map[string]any{"password": "Erle", "revision": f.mod.SettingsRevision})
	if set.Type != "settings" {
		t.Fatalf("the moderator's password: %+v", set)
	}
	modID, modSecret := f.mod.ParticipantID, f.mod.ResumeSecret
	aliceID, aliceSecret := alice.ParticipantID, alice.ResumeSecret
	dropAndSeeReconnecting(t, f.mod, b)
	dropAndSeeReconnecting(t, alice, b)
	replaced := changeSettings(t, b, map[string]any{"password": "Esche", "revision": set.Revision})
	if replaced.Type != "settings" {
		t.Fatalf("B's password: %+v", replaced)
	}
	mod := f.resume(t, modID, modSecret)
	if got := welcomedPasswordRevision(t, mod); got != replaced.Revision {
		t.Fatalf("the resumed moderator's welcome names passwordRevision %d, want %d (B's new password)", got, replaced.Revision)
	}
	if got := welcomedPasswordRevision(t, f.resume(t, aliceID, aliceSecret)); got != 0 {
		t.Fatalf("a participant's resumed welcome names passwordRevision %d", got)
	}
	bID, bSecret := b.ParticipantID, b.ResumeSecret
	dropAndSeeReconnecting(t, b, mod)
	if got := welcomedPasswordRevision(t, f.resume(t, bID, bSecret)); got != 0 {
		t.Fatalf("B's own password is named to B as another's: passwordRevision %d", got)
	}
}
