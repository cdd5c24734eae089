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
		// The tiles' pins and the focus are checked, no picture (a camera tile and its
		// pin are there with the camera off): the cameras stay off (cameraOffURL).
		pia := joinWithOptions(ctx, t, kind, srv.cameraOffURL(m, m.fragment()), "Pia", joinOptions{})
		for _, pinned := range []string{"true", "false"} {
			evalOK(ctx, t, pia, `(() => { const b = `+own+`; b.focus(); b.click(); return true; })()`, nil)
			waitOK(ctx, t, pia, own+`.getAttribute("aria-pressed") === "`+pinned+`"`, "the pin did not turn to "+pinned)
			var active string
			evalOK(ctx, t, pia, `document.activeElement === `+own+` ? "the pin" : (document.activeElement?.id || document.activeElement?.tagName || "nothing")`, &active)
			if active != "the pin" {
				t.Errorf("%s: the own pin pressed to %s moved its tile and the focus went to %s, want the pin", kind, pinned, active)
			}
		}
		ben := joinWithOptions(ctx, t, kind, srv.cameraOffURL(m, m.fragment()), "Ben", joinOptions{})
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
		closeTabs(pia, ben) // not left running through the next browser's turn
	}
}

// TestWaitingRoomKeepsTheFocus: a moderator who answers knocks from the waiting room
// with the keyboard keeps her place. With the focus on Ann's Admit, Bo's knock redraws
// the list and the focus is on Ann's Admit still; Ann denied from her focused Deny, the
// focus is on Bo's Deny, the next knock's; Bo denied, the last, it is on the panel's
// close button; Escape closes the panel and gives it to the waiting-room button. The
// list is drawn anew at every knock and answer, and the browser dropped the focus of
// the button it took away to the body: the keyboard began again at the page's start.
// Mona in Chromium and in Firefox, each with knockers of her own browser.
func TestWaitingRoomKeepsTheFocus(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	const focusJS = `(() => { const a = document.activeElement; if (a === document.body) return "the body";
		const e = a.closest(".waiting-entry"); return e ? e.querySelector(".waiting-name").textContent.trim() + " " + a.className.split(" ").pop() : a.id || a.className; })()`
	for _, kind := range []browsertest.Kind{browsertest.KindChromium, browsertest.KindFirefox} {
		links := srv.createMeetingWith(t, `{}`)
		// The focus is checked, no picture: the cameras stay off (cameraOffURL).
		modTab := openMeeting(ctx, t, kind, srv.cameraOffURL(links, links.moderatorFragment()))
		knock(ctx, t, modTab, "Mona")
		mona := &participant{name: "Mona", kind: kind, tab: modTab}
		waitOK(ctx, t, mona, `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`, "Mona did not join as the moderator")
		knocker := func(name string) {
			tab := openMeeting(ctx, t, kind, srv.cameraOffURL(links, links.fragment()))
			knock(ctx, t, tab, name)
			waitOK(ctx, t, mona, `[...document.querySelectorAll("#waiting-list .waiting-entry")].some((e) => e.textContent.includes(`+jsString(name)+`))`, name+"'s knock did not come")
		}
		button := func(name, class string) string {
			return `[...document.querySelectorAll("#waiting-list .waiting-entry")].find((e) => e.textContent.includes(` + jsString(name) + `))?.querySelector(".` + class + `")`
		}
		focusIs := func(want, after string) {
			t.Helper()
			var got string
			evalOK(ctx, t, mona, focusJS, &got)
			if got != want {
				t.Errorf("%s: %s, the focus is on %s, want %s", kind, after, got, want)
			}
		}
		knocker("Ann")
		evalOK(ctx, t, mona, `(() => { const b = document.querySelector("#btn-waiting"); b.focus(); b.click(); return true; })()`, nil)
		waitOK(ctx, t, mona, `!document.querySelector("#waiting-panel").hidden`, "the waiting room did not open")
		waitOK(ctx, t, mona, `(() => { const b = `+button("Ann", "btn-admit")+`; b.focus(); return document.activeElement === b; })()`, "Ann's Admit did not take the focus")
		knocker("Bo")
		focusIs("Ann btn-admit", "Bo's knock came")
		evalOK(ctx, t, mona, `(() => { const b = `+button("Ann", "btn-deny")+`; b.focus(); b.click(); return true; })()`, nil)
		waitOK(ctx, t, mona, `!(`+button("Ann", "btn-deny")+`)`, "Ann's knock did not go")
		focusIs("Bo btn-deny", "Ann denied")
		evalOK(ctx, t, mona, `(() => { const b = `+button("Bo", "btn-deny")+`; b.click(); return true; })()`, nil)
		waitOK(ctx, t, mona, `!document.querySelector("#waiting-list .waiting-entry")`, "Bo's knock did not go")
		focusIs("waiting-close", "Bo denied, the last")
		evalOK(ctx, t, mona, keyJS("keydown", "Escape", "Escape", `document.activeElement`), nil)
		waitOK(ctx, t, mona, `document.querySelector("#waiting-panel").hidden`, "Escape did not close the waiting room")
		focusIs("btn-waiting", "Escape")
		closeTabs(mona) // not left running through the next browser's turn
	}
}
