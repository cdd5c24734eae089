package e2e

import (
	"context"
	"strings"
	"testing"

	"conclave/internal/browsertest"
)

// knockHeard opens url in a new tab of kind with liveRecorderJS, switches the pre-join
// screen to lang, empties what was said so far (the pre-join screen's own news) and
// knocks as name, waiting until the waiting screen shows the server's answer.
func knockHeard(ctx context.Context, t *testing.T, kind browsertest.Kind, url, name, lang string) *participant {
	t.Helper()
	tab, err := browsertest.Shared(t, kind).NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := browsertest.OnNewDocument(ctx, tab, liveRecorderJS); err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	p := &participant{name: name, kind: kind, tab: tab}
	waitOK(ctx, t, p, `document.body.dataset.state === "prejoin"`, "no pre-join screen")
	click(ctx, t, tab, `#prejoin [data-language-switch] .language-option[data-lang="`+lang+`"]`)
	waitOK(ctx, t, p, `document.documentElement.lang === "`+lang+`"`, "the pre-join screen did not switch to "+lang)
	evalOK(ctx, t, p, `(() => { window.__said.length = 0; return true; })()`, nil)
	knock(ctx, t, tab, name)
	waitOK(ctx, t, p, `document.body.dataset.state === "lobby" && !!document.querySelector("#lobby-status").dataset.moderatorPresent`, name+" is not waiting")
	return p
}

// focusRead is what a screen reader is given of the focused element: its id, its name
// (the heading's text) and its description (aria-describedby's elements' texts).
type focusRead struct{ ID, Name, Description string }

const focusReadJS = `(() => { const e = document.activeElement;
	return { id: e.id || e.tagName, name: e.textContent.trim(), description: (e.getAttribute("aria-describedby") || "").split(" ").filter(Boolean)
		.map((id) => document.getElementById(id)?.textContent.trim()).filter(Boolean).join(" ") }; })()`

// TestWaitingRoomEntranceSaidOnce: a person who comes into the waiting room is told so
// once, truly: the focus on the screen's heading, read "You're in the waiting room" with
// the status as its description ("No moderator is here yet. …" where none is in the
// meeting, "Waiting for a moderator to let you in" where one is), and no live region
// says anything of the arrival, where the page announced "You are in the waiting room. A
// moderator will let you in." (with nobody there to let anyone in) and the status region
// said the status as well as the heading was read. A moderator's coming and going is
// said once each. Kai knocks with nobody there, then Mona (moderator, Chromium) joins;
// Lea knocks with Mona there, then Mona leaves. In English (Kai in Chromium, Lea in
// Firefox) and German (Kai in Firefox, Lea in Chromium).
func TestWaitingRoomEntranceSaidOnce(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	engines := map[string][2]browsertest.Kind{
		"en": {browsertest.KindChromium, browsertest.KindFirefox},
		"de": {browsertest.KindFirefox, browsertest.KindChromium},
	}
	for _, lang := range []string{"en", "de"} {
		cat := readCatalogue(t, lang)
		title, alone, waiting := str(t, cat, "lobby.title"), str(t, cat, "lobby.no-moderator"), str(t, cat, "lobby.waiting")
		links := srv.createMeetingWith(t, `{}`)

		// entered checks what p's screen reader was given on arrival, status being the
		// status's text the heading must be described with.
		entered := func(p *participant, status string) {
			t.Helper()
			var got focusRead
			evalOK(ctx, t, p, focusReadJS, &got)
			if got.ID != "lobby-title" || got.Name != title || !strings.Contains(got.Description, status) {
				t.Errorf("%s (%s, %s): waiting, the focus is on %s read %q described %q, want the waiting room's heading %q described with %q",
					p.name, p.kind, lang, got.ID, got.Name, got.Description, title, status)
			}
		}
		// heard waits until p heard text, then checks that p heard exactly want since knocking.
		heard := func(p *participant, text string, want ...string) {
			t.Helper()
			waitOK(ctx, t, p, `window.__said.some((s) => s.includes(`+jsString(text)+`))`, p.name+" was not told "+text)
			var said []string
			evalOK(ctx, t, p, `window.__said.map((s) => s.replace(/^[^:]*: /, ""))`, &said)
			if strings.Join(said, " | ") != strings.Join(want, " | ") {
				t.Errorf("%s (%s, %s): live regions said %q since the knock, want %q", p.name, p.kind, lang, said, want)
			}
		}

		// What is said and focused is checked, no picture (no live region of the
		// waiting screen speaks of the camera): the cameras stay off (cameraOffURL).
		kai := knockHeard(ctx, t, engines[lang][0], srv.cameraOffURL(links, links.fragment()), "Kai", lang)
		waitOK(ctx, t, kai, `document.querySelector("#lobby-status").dataset.moderatorPresent === "false"`, "Kai was told a moderator is there")
		entered(kai, alone)

		mona := joinWithOptions(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.moderatorFragment()), "Mona", joinOptions{})
		waitOK(ctx, t, mona, `window.conclave.role === "moderator"`, "Mona is not the moderator")
		heard(kai, waiting, waiting)

		lea := knockHeard(ctx, t, engines[lang][1], srv.cameraOffURL(links, links.fragment()), "Lea", lang)
		waitOK(ctx, t, lea, `document.querySelector("#lobby-status").dataset.moderatorPresent === "true"`, "Lea was told no moderator is there")
		entered(lea, waiting)

		click(ctx, t, mona.tab, "#btn-leave")
		heard(lea, alone, alone)
		heard(kai, alone, waiting, alone)
		closeTabs(kai, lea, mona) // not left knocking through the next language's turn
	}
}
