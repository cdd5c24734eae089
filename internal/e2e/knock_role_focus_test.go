package e2e

import (
	"fmt"
	"testing"

	"conclave/internal/browsertest"
)

// TestKnockCardFocusWhenTheRoleGoes: Nina (moderator, Firefox) has the keyboard focus on
// the knock card's View as Kai knocks, and Mona (moderator, Chromium) takes her moderator
// role: the card and the waiting-room button go with the role, and Nina's focus goes to
// the meeting's main region (#grid, named), not to the top of the page, where the card
// gave it to the waiting-room button, hidden at the same moment. The same with her focus
// on the meeting's settings button, and in its panel (closed back to that button).
func TestKnockCardFocusWhenTheRoleGoes(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	links := srv.createMeetingWith(t, `{}`)
	// The focus is checked, no picture: the cameras stay off (cameraOffURL).
	mona := joinWithOptions(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.moderatorFragment()), "Mona", joinOptions{})
	nina := joinWithOptions(ctx, t, browsertest.KindFirefox, srv.cameraOffURL(links, links.moderatorFragment()), "Nina", joinOptions{})
	waitOK(ctx, t, nina, `window.conclave.role === "moderator"`, "Nina is not a moderator")
	var ninaID string
	evalOK(ctx, t, nina, `window.conclave.participants()[0].id`, &ninaID)

	tab := openMeeting(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()))
	knock(ctx, t, tab, "Kai")
	waitOK(ctx, t, nina, `!document.querySelector("#knock-card").hidden`, "no knock card for Kai")
	evalOK(ctx, t, nina, `(() => { document.querySelector("#knock-view").focus(); return document.activeElement.id; })()`, nil)
	waitOK(ctx, t, nina, `document.activeElement.id === "knock-view"`, "the knock card's View did not take the focus")

	setRole := func(action, role string) {
		t.Helper()
		if err := mona.tab.WaitFor(ctx, fmt.Sprintf(`(() => {
		if (document.querySelector("#people-panel").hidden) document.querySelector("#btn-people").click();
		const b = document.querySelector('[data-action=%q][data-participant-id=%q]');
		if (b) { b.click(); return true; }
		document.querySelector('.participant-menu[data-participant-id=%q]')?.click();
		return false;
	})()`, action, ninaID, ninaID)); err != nil {
			t.Fatalf("Mona could not %s Nina: %v", action, err)
		}
		waitOK(ctx, t, nina, `window.conclave.role === "`+role+`"`, "Nina's role is not "+role)
	}
	focusJS := `(() => { const f = document.activeElement; return f === document.body ? "the body" :
		(f.id || f.tagName) + (f.getClientRects().length ? "" : " (not shown)"); })()`
	setRole("remove_moderator", "participant")
	waitOK(ctx, t, nina, `document.querySelector("#knock-card").hidden && document.querySelector("#btn-waiting").hidden`,
		"Nina's knock card and waiting-room button did not go with her role")
	var focus string
	evalOK(ctx, t, nina, focusJS, &focus)
	if focus != "grid" {
		t.Errorf("Nina's moderator role taken with her focus on the knock card's View: the focus is on %s, want the meeting's main region (grid)", focus)
	}

	// The meeting's settings go with the role too: its button in the top bar, and its
	// panel, which gives the focus back to that button as it closes.
	for _, c := range []struct{ where, js string }{
		{"the settings button", `document.querySelector("#btn-settings").focus()`},
		{"the settings panel", `document.querySelector("#btn-settings").click(), document.querySelector("#setting-lock").focus()`},
	} {
		setRole("make_moderator", "moderator")
		waitOK(ctx, t, nina, `!document.querySelector("#btn-settings").hidden`, "Nina has no settings button")
		evalOK(ctx, t, nina, `(() => { `+c.js+`; return true; })()`, nil)
		waitOK(ctx, t, nina, `!!document.activeElement.closest("#btn-settings, #settings-panel")`, "the focus is not on "+c.where)
		setRole("remove_moderator", "participant")
		waitOK(ctx, t, nina, `document.querySelector("#btn-settings").hidden && document.querySelector("#settings-panel").hidden`,
			"Nina's settings did not go with her role")
		evalOK(ctx, t, nina, focusJS, &focus)
		if focus != "grid" {
			t.Errorf("Nina's moderator role taken with her focus on %s: the focus is on %s, want the meeting's main region (grid)", c.where, focus)
		}
	}
}
