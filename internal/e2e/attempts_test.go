package e2e

import (
	"context"
	"strings"
	"testing"

	"conclave/internal/browsertest"
)

// TestModeratorSeesWrongPasswords: someone (Chromium) types a wrong meeting password
// twice; the moderator (Firefox) sees the count in the settings panel, with no address.
// Then the moderator locks the meeting and a further guess gets only "locked": a locked
// meeting answers no guesses.
func TestModeratorSeesWrongPasswords(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{"password":"correct horse"}`)
	ctx, cancel := testContext()
	defer cancel()

	modTab := openMeeting(ctx, t, browsertest.KindFirefox, srv.cameraOffURL(links, links.moderatorFragment()))
	knock(ctx, t, modTab, "Mona")
	if err := modTab.WaitFor(ctx, `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`); err != nil {
		t.Fatalf("moderator did not join: %v", err)
	}

	guess := openMeeting(ctx, t, browsertest.KindChromium, srv.pageURL(links, links.fragment()))
	knock(ctx, t, guess, "Guess")
	if err := guess.WaitFor(ctx, `!document.querySelector("#prejoin-password-field").hidden`); err != nil {
		t.Fatalf("no password field: %v", err)
	}
	for i, pw := range []string{"wrong one", "wrong two"} {
		typePassword(ctx, t, guess, pw)
		if err := guess.WaitFor(ctx, `!document.querySelector("#prejoin-password-error").hidden && /wrong/i.test(document.querySelector("#prejoin-password-error").textContent)`); err != nil {
			t.Fatalf("guess %d: no wrong-password message: %v", i+1, err)
		}
		if err := guess.Eval(ctx, `document.querySelector("#prejoin-password-error").hidden = true`, nil); err != nil {
			t.Fatal(err)
		}
	}

	// The count reaches the moderator with the janitor's next tick (a few seconds).
	if err := modTab.WaitFor(ctx, `(() => {
		const line = document.querySelector("#setting-attempts");
		return !line.hidden && line.textContent.trim() === "2 wrong password attempts";
	})()`); err != nil {
		t.Fatalf("the moderator does not see the wrong-password count: %v", err)
	}
	var text string
	if err := modTab.Eval(ctx, `document.querySelector("#setting-attempts").textContent`, &text); err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"127.0.0.1", "::1", "Guess"} {
		if strings.Contains(text, leak) {
			t.Fatalf("the count says %q, which names %q", text, leak)
		}
	}

	// Locked: the right password is not even looked at.
	if err := modTab.Eval(ctx, `(() => { const lock = document.querySelector("#setting-lock"); if (!lock.checked) lock.click(); })()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := modTab.WaitFor(ctx, `window.conclave.settings().locked === true`); err != nil {
		t.Fatalf("the meeting did not lock: %v", err)
	}
	typePassword(ctx, t, guess, "wrong three")
	if err := guess.WaitFor(ctx, `document.body.dataset.state === "error" && document.querySelector("#meeting-error")?.dataset.code === "locked"`); err != nil {
		t.Fatalf("a locked meeting answered a guess with something other than locked: %v", err)
	}
}

// typePassword types into the pre-join password field and presses Join.
func typePassword(ctx context.Context, t *testing.T, tab browsertest.Tab, pw string) {
	t.Helper()
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "prejoin" && !document.querySelector("#prejoin-password-field").hidden`); err != nil {
		t.Fatalf("no password field: %v", err)
	}
	typeAndJoin(ctx, t, tab, "#prejoin-password", pw)
}
