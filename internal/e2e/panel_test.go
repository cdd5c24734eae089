package e2e

import (
	"testing"

	"conclave/internal/browsertest"
)

// TestPanelCoversNarrowScreen: on a narrow screen (390×844; a 1280-pixel window at
// 400 % zoom is 320 wide) the chat panel fills the screen and is modal: while it is open
// the meeting behind it is inert (Tab reaches neither the control bar nor the tiles),
// Escape closes it, the focus is back on the chat button and nothing is inert any more.
// A panel open while the window widens sits beside the meeting, which is no longer
// inert; narrowed again, the panel covers it again.
func TestPanelCoversNarrowScreen(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	srv := startServer(t)
	m := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	// The panel and the focus are checked, no picture: her camera stays off (cameraOffURL).
	pia := joinURL(ctx, t, browsertest.KindChromium, srv.cameraOffURL(m, m.fragment()), "Pia", false)
	viewport := func(w, h int) {
		t.Helper()
		if err := browsertest.SetViewport(ctx, pia.tab, w, h); err != nil {
			t.Fatal(err)
		}
	}
	viewport(390, 844)
	waitOK(ctx, t, pia, `window.innerWidth === 390`, "the phone viewport did not apply")
	const covered = `(() => { const q = (s) => document.querySelector(s);
		return !q("#chat-panel").hidden && !q("#chat-panel").inert && q(".stage-wrap").inert === false &&
			q(".controls").inert && q("#grid").inert && q(".topbar").inert && !q("#live").inert; })()`
	const uncovered = `!document.querySelector("[inert]")`
	evalOK(ctx, t, pia, `(() => { const b = document.querySelector("#btn-chat"); b.focus(); b.click(); return true; })()`, nil)
	waitOK(ctx, t, pia, covered, "the chat panel covers the phone's screen but the meeting behind it is not inert")
	evalOK(ctx, t, pia, keyJS("keydown", "Escape", "Escape", `document.activeElement`), nil)
	waitOK(ctx, t, pia, `document.querySelector("#chat-panel").hidden && document.activeElement === document.querySelector("#btn-chat") && `+uncovered,
		"Escape did not close the panel, give the focus back to the chat button and the meeting back to the keyboard")

	evalOK(ctx, t, pia, `(() => { const b = document.querySelector("#btn-chat"); b.focus(); b.click(); return true; })()`, nil)
	waitOK(ctx, t, pia, covered, "the chat panel opened again does not make the meeting inert")
	viewport(1280, 800)
	waitOK(ctx, t, pia, `window.innerWidth === 1280 && !document.querySelector("#chat-panel").hidden && `+uncovered,
		"the panel beside the meeting of a wide window left the meeting inert")
	viewport(390, 844)
	waitOK(ctx, t, pia, covered+` && document.querySelector("#chat-panel").contains(document.activeElement)`,
		"narrowed again, the panel does not cover the meeting as a modal layer")
}

// TestChatButtonKeepsItsNameWhilePressed: the chat button is a toggle (aria-pressed), so
// its name stays "Chat" open or closed and only its state changes, as the people list's
// button keeps its name (WAI-ARIA APG, toggle button), in English and German, in Chromium
// and Firefox. It was named "Open chat" and, open, "Close chat", which a screen reader
// read as "Close chat, pressed": a pressed button that says it closes. A message that
// came while the chat was closed is counted in the name ("Chat, 1 unread message", in
// the language switched to after it came as well), and opening the chat clears it.
func TestChatButtonKeepsItsNameWhilePressed(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	m := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	pages := []*participant{
		joinURL(ctx, t, browsertest.KindChromium, srv.cameraOffURL(m, m.fragment()), "Pia", false),
		joinURL(ctx, t, browsertest.KindFirefox, srv.cameraOffURL(m, m.fragment()), "Ole", false),
	}
	named := func(p *participant, want, pressed, when string) {
		t.Helper()
		var got []string
		evalOK(ctx, t, p, `(() => { const b = document.querySelector("#btn-chat");
			return [b.getAttribute("aria-label"), b.getAttribute("aria-labelledby"), b.getAttribute("aria-pressed")]; })()`, &got)
		if len(got) != 3 || got[0] != want || got[1] != "" || got[2] != pressed {
			t.Errorf("%s: the chat button %s is named %q (aria-labelledby %q, aria-pressed %q), want %q with aria-pressed %s",
				p.kind, when, got[0], got[1], got[2], want, pressed)
		}
	}
	switchTo := func(p *participant, lang string) {
		t.Helper()
		click(ctx, t, p.tab, `.language-option[data-lang="`+lang+`"]`)
		waitOK(ctx, t, p, `document.documentElement.lang === "`+lang+`"`, "the page did not switch to "+lang)
	}
	for _, p := range pages {
		for _, lang := range []string{"de", "en"} {
			switchTo(p, lang)
			for _, pressed := range []string{"true", "false"} {
				click(ctx, t, p.tab, "#btn-chat")
				waitOK(ctx, t, p, `document.querySelector("#btn-chat").getAttribute("aria-pressed") === "`+pressed+`" && document.querySelector("#chat-panel").hidden === `+map[string]string{"true": "false", "false": "true"}[pressed],
					"the chat did not "+map[string]string{"true": "open", "false": "close"}[pressed])
				named(p, "Chat", pressed, "with aria-pressed "+pressed+" ("+lang+")")
			}
		}
	}
	// Each page's chat is closed; the other sends a message, which the closed chat counts.
	unread := map[string]string{"en": "Chat, 1 unread message", "de": "Chat, 1 ungelesene Nachricht"}
	for i, p := range pages {
		other := pages[1-i]
		first, then := "en", "de"
		if i == 1 {
			first, then = "de", "en"
		}
		switchTo(p, first)
		evalOK(ctx, t, other, sendChatJS("from "+other.name), nil)
		waitOK(ctx, t, p, `!document.querySelector("#chat-badge").hidden`, "the message from "+other.name+" was not counted")
		named(p, unread[first], "false", "with a message unread ("+first+")")
		switchTo(p, then)
		named(p, unread[then], "false", "with a message unread, switched to "+then)
		click(ctx, t, p.tab, "#btn-chat")
		waitOK(ctx, t, p, `document.querySelector("#chat-badge").hidden`, "opening the chat did not clear the count")
		named(p, "Chat", "true", "opened with a message unread ("+then+")")
		click(ctx, t, p.tab, "#btn-chat")
		waitOK(ctx, t, p, `document.querySelector("#chat-panel").hidden`, "the chat did not close")
	}
}
