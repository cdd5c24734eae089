package e2e

import (
	"testing"

	"conclave/internal/browsertest"
)

// TestKnockCardKeepsTheFocusOnThePage: Mona (moderator, Firefox) reaches the knock card's
// View, then its close button, by the keyboard while Kai (Chromium) knocks; Kai leaves
// the waiting room, the card goes, and Mona's focus goes to the waiting-room button, not
// to the top of the page. Then she opens the waiting room from View and Lea leaves
// while it is open: Escape closes it and the focus goes to the waiting-room button, the
// card that opened it being gone.
func TestKnockCardKeepsTheFocusOnThePage(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	links := srv.createMeetingWith(t, `{}`)
	// The focus is checked, no picture: the cameras stay off (cameraOffURL).
	mona := joinWithOptions(ctx, t, browsertest.KindFirefox, srv.cameraOffURL(links, links.moderatorFragment()), "Mona", joinOptions{})
	waitOK(ctx, t, mona, `window.conclave.role === "moderator"`, "Mona is not the moderator")
	focusJS := `(() => { const f = document.activeElement; return f === document.body ? "the body" : f.id || f.className || f.tagName; })()`
	visit := func(name, button, after string) {
		t.Helper()
		tab := openMeeting(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()))
		knock(ctx, t, tab, name)
		waitOK(ctx, t, mona, `!document.querySelector("#knock-card").hidden`, "no knock card for "+name)
		evalOK(ctx, t, mona, `(() => { document.querySelector("#`+button+`").focus(); return true; })()`, nil)
		if after != "" {
			click(ctx, t, mona.tab, "#"+button)
			waitOK(ctx, t, mona, `!document.querySelector("#waiting-panel").hidden && document.activeElement.id === "waiting-close"`, "View did not open the waiting room")
		}
		click(ctx, t, tab, "#lobby-leave")
		waitOK(ctx, t, mona, `document.querySelector("#waiting-list").children.length === 0 && document.querySelector("#knock-card").hidden`, name+"'s knock did not go")
		if after != "" {
			evalOK(ctx, t, mona, keyJS("keydown", after, after, "null"), nil)
			waitOK(ctx, t, mona, `document.querySelector("#waiting-panel").hidden`, "Escape did not close the waiting room")
		}
		var focus string
		evalOK(ctx, t, mona, focusJS, &focus)
		if focus != "btn-waiting" {
			t.Errorf("%s's knock gone (Mona on #%s, then %q): Mona's focus is on %s, want the waiting-room button", name, button, after, focus)
		}
	}
	visit("Kai", "knock-view", "")
	visit("Kim", "knock-close", "")
	visit("Lea", "knock-view", "Escape")
}
