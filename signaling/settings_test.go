package signaling_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/secret"
	"conclave/signaling"
)

// settingsOf waits for c's next settings message and returns its settings.
func settingsOf(t *testing.T, c *testclient.Client) map[string]bool {
	t.Helper()
	var p struct {
		Settings map[string]bool `json:"settings"`
	}
	if err := json.Unmarshal(expectType(t, c, "settings").Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p.Settings
}

// heldHasher is a hasher of one slot that the test holds until release: a password
// sent meanwhile waits in its line, and a test sees it there (Waiting).
func heldHasher(t *testing.T) (h *secret.Hasher, release func()) {
	t.Helper()
	h = secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	release, err := h.Hold(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h, release
}

// sendHashWaiting has moderator c send update_settings p, which names a new password,
// and returns its id once its hash waits in h's line (held: heldHasher), the only one.
func sendHashWaiting(t *testing.T, h *secret.Hasher, c *testclient.Client, p map[string]any) string {
	t.Helper()
	id, err := c.Send("update_settings", p)
	if err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the password to wait for its hash", func() bool { return h.Waiting() == 1 })
	return id
}

// sendTurnWaiting has moderator c send update_settings p, which names a password, and
// returns its id once it waits for another moderator's change of the password in m.
func sendTurnWaiting(t *testing.T, srv *testServer, m createdMeeting, c *testclient.Client, p map[string]any) string {
	t.Helper()
	id, err := c.Send("update_settings", p)
	if err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the password to wait for another's", func() bool { return signaling.PasswordTurnWaiters(srv.sig, m.MeetingID) == 1 })
	return id
}

// passwordWaiting holds h's one slot and has moderator c set a new password, whose hash
// then waits; release lets it run.
func passwordWaiting(t *testing.T, h *secret.Hasher, c *testclient.Client) (release func()) {
	t.Helper()
	release, err := h.Hold(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send("update_settings", map[string]any{"password": "new password"}); err != nil {
		release()
		t.Fatal(err)
	}
	conntest.Eventually(t, "the new password to wait for its hash", func() bool { return h.Waiting() == 1 })
	return release
}

// TestPasswordChangeKeepsOtherSettings: a moderator's new password waits for its turn
// on the hasher every meeting shares; a lock another moderator sets meanwhile stays
// (the password change wrote back the settings as they were before its hash, unlocking
// the meeting: from a helper's audit).
func TestPasswordChangeKeepsOtherSettings(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), Hasher: h})
	m := srv.createMeetingWith(t, `{}`)
	a := srv.joinModerator(t, m, "A")
	b := srv.joinModerator(t, m, "B")
	release := passwordWaiting(t, h, b)
	defer release()
	if _, err := a.Send("update_settings", map[string]any{"locked": true}); err != nil {
		t.Fatal(err)
	}
	if got := settingsOf(t, a); !got["locked"] || got["passwordRequired"] {
		t.Fatalf("after A's lock: %v", got)
	}
	release()
	if got := settingsOf(t, a); !got["locked"] || !got["passwordRequired"] {
		t.Fatalf("after B's password: %v, want the meeting locked and a password required", got)
	}
}

// TestPasswordChangesAreBounded: every new password is an argon2id run on the hasher
// every meeting shares; a meeting's moderators set at most three at once and then one
// every 10 s, whichever connections they use (a moderator link sent 100 in a row and
// the server ran 100, ahead of everyone's password checks: from a helper's audit).
func TestPasswordChangesAreBounded(t *testing.T) {
	clock := newFakeClock()
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Hasher: h})
	m := srv.createMeetingWith(t, `{}`)
	mod := srv.joinModerator(t, m, "M")
	other := srv.joinModerator(t, m, "M on another connection")
	before := h.Runs()
	for range 3 {
		if _, err := mod.Send("update_settings", map[string]any{"password": "pw"}); err != nil {
			t.Fatal(err)
		}
		if got := settingsOf(t, mod); !got["passwordRequired"] {
			t.Fatalf("settings after a new password: %v", got)
		}
	}
	for _, c := range []*testclient.Client{mod, other} {
		if _, err := c.Send("update_settings", map[string]any{"password": "pw"}); err != nil {
			t.Fatal(err)
		}
		if code, _ := expectError(t, c); code != "rate_limited" {
			t.Fatalf("a fourth password at once: %s, want rate_limited", code)
		}
	}
	if n := h.Runs() - before; n != 3 {
		t.Fatalf("%d hashes for three passwords allowed", n)
	}
	// A clear costs no hash and is not counted; ten seconds on, one more password.
	if _, err := other.Send("update_settings", map[string]any{"password": ""}); err != nil {
		t.Fatal(err)
	}
	if got := settingsOf(t, other); got["passwordRequired"] {
		t.Fatalf("settings after clearing the password: %v", got)
	}
	clock.Advance(10 * time.Second)
	if _, err := other.Send("update_settings", map[string]any{"password": "pw2"}); err != nil {
		t.Fatal(err)
	}
	if got := settingsOf(t, other); !got["passwordRequired"] {
		t.Fatalf("settings after a password 10 s later: %v", got)
	}
	if n := h.Runs() - before; n != 4 {
		t.Fatalf("%d hashes for four passwords allowed", n)
	}
}

// TestSettingsBurstKeepsABusyMember: every change of settings asks every member's
// session to re-check what it may do; those asks are one however many come while the
// session is busy (here B's, waiting for its password's hash), so moderators' changes
// in a burst do not fill its queue and cut it off as a slow consumer (they did, one
// event each: from a helper's audit). Each of four moderators changes the chat setting
// twenty times, its limit at once (on a clock that does not move): the twenty-first is
// refused.
func TestSettingsBurstKeepsABusyMember(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), Hasher: h})
	m := srv.createMeetingWith(t, `{}`)
	b := srv.joinModerator(t, m, "B")
	var mods []*testclient.Client
	for _, name := range []string{"A1", "A2", "A3", "A4"} {
		mods = append(mods, srv.joinModerator(t, m, name))
	}
	release := passwordWaiting(t, h, b)
	defer release()
	for _, a := range mods {
		for i := range 20 {
			if _, err := a.Send("update_settings", map[string]any{"chat": i%2 == 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A twenty-first change at once is refused (the limit of chat and media_state), and
	// the refusal comes once the twenty before it were made.
	for _, a := range mods {
		if _, err := a.Send("update_settings", map[string]any{"chat": true}); err != nil {
			t.Fatal(err)
		}
		if code, _ := expectError(t, a); code != "rate_limited" {
			t.Fatalf("a twenty-first change of settings at once: %s, want rate_limited", code)
		}
	}
	release()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		msg, err := b.Next(ctx)
		if err != nil {
			t.Fatalf("B's connection: %v", err)
		}
		if msg.Type != "settings" {
			continue
		}
		var p struct {
			Settings map[string]bool `json:"settings"`
		}
		if err := json.Unmarshal(msg.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.Settings["passwordRequired"] {
			break // B's own change went through; B is still there
		}
	}
}

// TestPasswordLimitIsInCharacters: a meeting password may have 128 characters, as the
// pages' fields take, whatever their bytes: 128 bytes refused a German passphrase of 65
// letters with umlauts that the field had taken. A password set so is right at the door;
// one of 129 characters is refused by every way a password is set.
func TestPasswordLimitIsInCharacters(t *testing.T) {
	srv := newTestServer(t)
	pw := strings.Repeat("ä", maxPasswordCharsForTest) // 256 bytes
	m := srv.createMeetingWith(t, `{"password":"`+pw+`","settings":{"lobby":false}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := srv.dial(t)
	if err := c.JoinWith(ctx, map[string]any{"meetingId": m.MeetingID, "name": "Jörg", "password": pw}); err != nil {
		t.Fatalf("a join with the 128-character password: %v", err)
	}
	long := pw + "ö"
	if resp, err := srv.post(`{"password":"`+long+`"}`, "Bearer "+testHostKey); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a meeting with a 129-character password: %s", resp.Status)
	}
	srv.apiJSON(t, http.MethodPost, "/api/rooms", `{"password":"`+long+`"}`, http.StatusBadRequest, nil)
	srv.apiJSON(t, http.MethodPost, "/api/rooms", `{"password":"`+pw+`"}`, http.StatusCreated, nil)
	mod := srv.joinModerator(t, m, "Mod")
	if _, err := mod.Send("update_settings", map[string]any{"password": long}); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, mod); code != "invalid_field" {
		t.Errorf("update_settings with a 129-character password: %q", code)
	}
}

// maxPasswordCharsForTest is PROTOCOL.md's "at most 128 characters".
const maxPasswordCharsForTest = 128

// TestSettingsConfirmTheirChange: the `settings` a moderator gets for its own
// update_settings names it (ref), the server's confirmation that a new password is
// saved; another moderator's change meanwhile, and everyone else's copy, name nothing
// (the page said "Password saved" as it sent it, before the hash, which can be refused).
func TestSettingsConfirmTheirChange(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), Hasher: h})
	m := srv.createMeetingWith(t, `{}`)
	a := srv.joinModerator(t, m, "A")
	b := srv.joinModerator(t, m, "B")
	release, err := h.Hold(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	id, err := b.Send("update_settings", map[string]any{"password": "new password"})
	if err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the new password to wait for its hash", func() bool { return h.Waiting() == 1 })
	if _, err := a.Send("update_settings", map[string]any{"locked": true}); err != nil {
		t.Fatal(err)
	}
	if msg := expectType(t, b, "settings"); msg.Ref != "" {
		t.Fatalf("B's settings after A's lock name %q: taken for B's password", msg.Ref)
	}
	if msg := expectType(t, a, "settings"); msg.Ref == "" {
		t.Fatal("A's own lock is not confirmed (no ref)")
	}
	release()
	msg := expectType(t, b, "settings")
	if msg.Ref != id {
		t.Fatalf("B's settings after its password: ref %q, want %q", msg.Ref, id)
	}
	var p struct {
		Settings map[string]bool `json:"settings"`
	}
	if err := json.Unmarshal(msg.Payload, &p); err != nil || !p.Settings["passwordRequired"] {
		t.Fatalf("B's confirmation: %s", msg.Payload)
	}
	if msg := expectType(t, a, "settings"); msg.Ref != "" {
		t.Fatalf("A's copy of B's change names %q", msg.Ref)
	}
}
