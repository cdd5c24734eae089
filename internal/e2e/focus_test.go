package e2e

import (
	"testing"

	"conclave/internal/browsertest"
)

// TestTileFocusStaysInTheTiles: the keyboard's place is kept in the tiles. Pia's own pin,
// focused and pressed (as Enter or Space presses it), moves her tile to the stage and
// back, and keeps the focus both times; Ben's pin has Pia's focus when Ben leaves, and
// the tiles' region (#grid, named) takes it. A browser drops the focus of a button whose
// tile is taken out of the page, moved or gone, to the page's start: a keyboard user
// began again at the first control of the page. In Chromium and Firefox.
func TestTileFocusStaysInTheTiles(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	const own = `document.querySelector('.tile[data-self="true"][data-source="camera"] .tile-pin')`
	for _, kind := range []browsertest.Kind{browsertest.KindChromium, browsertest.KindFirefox} {
		m := srv.createMeeting(t)
		pia := joinWithOptions(ctx, t, kind, srv.pageURL(m, m.fragment()), "Pia", joinOptions{})
		for _, pinned := range []string{"true", "false"} {
			evalOK(ctx, t, pia, `(() => { const b = `+own+`; b.focus(); b.click(); return true; })()`, nil)
			waitOK(ctx, t, pia, own+`.getAttribute("aria-pressed") === "`+pinned+`"`, "the pin did not turn to "+pinned)
			var active string
			evalOK(ctx, t, pia, `document.activeElement === `+own+` ? "the pin" : (document.activeElement?.id || document.activeElement?.tagName || "nothing")`, &active)
			if active != "the pin" {
				t.Errorf("%s: the own pin pressed to %s moved its tile and the focus went to %s, want the pin", kind, pinned, active)
			}
		}
		ben := joinWithOptions(ctx, t, kind, srv.pageURL(m, m.fragment()), "Ben", joinOptions{})
		evalOK(ctx, t, ben, `window.conclave.participantId`, &ben.id)
		bens := `document.querySelector('.tile[data-participant-id="` + ben.id + `"][data-source="camera"] .tile-pin')`
		waitOK(ctx, t, pia, `(() => { const b = `+bens+`; if (!b) return false; b.focus(); return document.activeElement === b; })()`, "Ben's pin did not take the focus")
		click(ctx, t, ben.tab, "#btn-leave")
		waitOK(ctx, t, pia, `!document.querySelector('.tile[data-participant-id="`+ben.id+`"]')`, "Ben's tile did not go")
		var active string
		evalOK(ctx, t, pia, `document.activeElement?.id || document.activeElement?.tagName || "nothing"`, &active)
		if active != "grid" {
			t.Errorf("%s: Ben left while his pin had the focus, and the focus went to %s, want the tiles' region #grid", kind, active)
		}
	}
}
