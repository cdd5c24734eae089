package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// phoneMisfitsJS lists what does not fit on a phone's screen of width×height CSS px: a
// page wider than the screen (a phone then zooms the whole page out or scrolls it
// sideways), and each shown element sel matches that lies off the screen, is smaller
// than target×target (44 for a finger on a touch screen, WCAG 2.5.5; 0 where the screen
// is not a touch screen) or overlaps another of them. Empty: it fits.
func phoneMisfitsJS(width, height int, sel string, target float64) string {
	q, _ := json.Marshal(sel)
	return fmt.Sprintf(`(() => {
	const out = [], w = %d, h = %d, target = %g;
	if (innerWidth !== w || innerHeight !== h) out.push("the viewport is " + innerWidth + "×" + innerHeight + ", not " + w + "×" + h);
	const sw = document.scrollingElement.scrollWidth;
	if (sw > w) out.push("the page is " + sw + " px wide");
	const name = (n) => n.id ? "#" + n.id : n.tagName.toLowerCase() + "." + [...n.classList].join(".");
	const shown = [...document.querySelectorAll(%s)].filter((n) => n.getClientRects().length > 0 && getComputedStyle(n).visibility !== "hidden");
	const boxes = shown.map((n) => [n, n.getBoundingClientRect()]);
	for (const [n, r] of boxes) {
		const at = name(n) + " (" + Math.round(r.left) + "," + Math.round(r.top) + " " + Math.round(r.width) + "×" + Math.round(r.height) + ")";
		if (r.left < 0 || r.top < 0 || r.right > w + 0.5 || r.bottom > h + 0.5) out.push(at + " is off the screen");
		if (r.width < target - 0.5 || r.height < target - 0.5) out.push(at + " is smaller than " + target + "×" + target);
	}
	for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
		const [a, ra] = boxes[i], [b, rb] = boxes[j];
		if (a.contains(b) || b.contains(a)) continue;
		if (ra.left < rb.right - 0.5 && rb.left < ra.right - 0.5 && ra.top < rb.bottom - 0.5 && rb.top < ra.bottom - 0.5) out.push(name(a) + " overlaps " + name(b));
	}
	if (shown.length === 0) out.push("nothing matches " + %s);
	return out;
})()`, width, height, target, q, q)
}

// settledJS is true once nothing is left that moves p's page by itself: its fonts are
// loaded and no animation or transition that ends is running (an endless one, such as
// the lobby's pulse, moves nothing that phoneMisfitsJS measures).
const settledJS = `document.fonts.status === "loaded" && document.getAnimations().every((a) =>
	a.playState !== "running" || a.effect === null || a.effect.getComputedTiming().endTime === Infinity)`

// settledPolls is how many polls in a row of a settled page must find the same misfits
// before waitFitsTargets fails: the callers wait for what the page shows before they
// ask, so a settled page that does not fit stays so; a page that is still being laid out
// shows other misfits from poll to poll or is not settled, and starts the count again.
const settledPolls = 10

// waitFits polls p's page until phoneMisfitsJS finds nothing wrong with sel on a touch
// screen (every target 44×44), and fails the test with what it found last.
func waitFits(ctx context.Context, t *testing.T, p *participant, what string, width, height int, sel string) {
	t.Helper()
	waitFitsTargets(ctx, t, p, what, width, height, sel, 44)
}

// waitFitsTargets is waitFits with targets of at least target×target. It fails as soon
// as settledPolls polls in a row of a settled page found the same misfits (about two
// seconds), not at the test's deadline minutes later.
func waitFitsTargets(ctx context.Context, t *testing.T, p *participant, what string, width, height int, sel string, target float64) {
	t.Helper()
	fail := func(last []string) {
		t.Helper()
		t.Fatalf("%s (%s, %d×%d): %s:\n\t%s", p.name, p.kind, width, height, what, strings.Join(last, "\n\t"))
	}
	js := fmt.Sprintf(`({misfits: %s, settled: %s})`, phoneMisfitsJS(width, height, sel, target), settledJS)
	var last []string
	same := 0
	for {
		var r struct {
			Misfits []string `json:"misfits"`
			Settled bool     `json:"settled"`
		}
		err := p.tab.Eval(ctx, js, &r)
		if err == nil && len(r.Misfits) == 0 {
			return
		}
		misfits := r.Misfits
		if err != nil {
			misfits = append(misfits, err.Error())
		}
		if err == nil && r.Settled && slices.Equal(misfits, last) {
			same++
		} else {
			same = 0
		}
		last = misfits
		if same >= settledPolls {
			fail(last)
		}
		select {
		case <-ctx.Done():
			fail(last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// phoneShot writes a picture of tab's screen as it is to dir/phone-<name>.png, for a
// person to look at; an empty dir writes nothing.
func phoneShot(ctx context.Context, t *testing.T, tab browsertest.Tab, dir, name string) {
	t.Helper()
	if dir == "" {
		return
	}
	png, err := browsertest.ScreenshotAsIs(ctx, tab)
	if err != nil {
		t.Fatalf("phone-%s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "phone-"+name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPhoneMeetingFits: Mona moderates from a phone (Chromium as a 360×740 touch screen,
// in English and in German). Her page is never wider than the screen, and every control
// of the control bar (ten for a moderator with a waiting room), of the top bar and of the
// knock card is on the screen, at least 44×44 and clear of the others. Each panel (chat,
// people, waiting room, settings, devices) covers the screen with its close button on
// it, 44×44, and closes with it. With the on-screen keyboard up (the screen 400 high) the
// chat's input and Send are on the screen. With $CONCLAVE_SCREENSHOTS set it writes each
// screen there as phone-<screen>-<lang>.png.
func TestPhoneMeetingFits(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	dir := os.Getenv(screenshotsEnv)
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{}`) // with a waiting room
	ctx, cancel := testContext()
	defer cancel()
	const w, h = 360, 740
	phone := func(tab browsertest.Tab, width, height int) {
		t.Helper()
		if err := browsertest.SetPhone(ctx, tab, width, height); err != nil {
			t.Fatal(err)
		}
	}
	monaTab := openMeeting(ctx, t, browsertest.KindChromium, srv.pageURL(links, links.moderatorFragment()))
	phone(monaTab, w, h)
	knock(ctx, t, monaTab, "Mona Weber-Schmidt")
	mona := &participant{name: "Mona", kind: browsertest.KindChromium, tab: monaTab}
	waitOK(ctx, t, mona, `document.body.dataset.state === "joined" && window.conclave.role === "moderator" && matchMedia("(any-pointer: coarse)").matches`,
		"Mona did not join as a moderator on a touch screen")
	language := func(lang string) {
		t.Helper()
		click(ctx, t, monaTab, `.language-option[data-lang="`+lang+`"]`)
		waitOK(ctx, t, mona, `document.documentElement.lang === "`+lang+`"`, "the page did not switch to "+lang)
	}
	const bars = ".controls button, .topbar button"

	// Eva knocks from a desktop: Mona's knock card.
	eva := openMeeting(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()))
	knock(ctx, t, eva, "Eva Schulz")
	waitOK(ctx, t, mona, `!document.querySelector("#knock-card").hidden && !document.querySelector("#knock-card [data-name-pending]") && !document.querySelector("#btn-waiting").hidden`,
		"Mona's knock card did not show Eva")
	for _, lang := range []string{"en", "de"} {
		language(lang)
		waitFits(ctx, t, mona, "the meeting with a knock card ("+lang+") does not fit", w, h, bars+", #knock-card, #knock-card button")
		phoneShot(ctx, t, monaTab, dir, "knock-"+lang)
	}
	click(ctx, t, monaTab, "#knock-admit")
	if err := eva.WaitFor(ctx, `document.body.dataset.state === "joined"`); err != nil {
		t.Fatalf("Eva was not let in: %v", err)
	}
	waitOK(ctx, t, mona, `document.querySelectorAll('.tile[data-source="camera"]').length === 2 && document.querySelector("#knock-card").hidden`,
		"Mona's page does not show Eva")

	panels := []struct{ open, panel, close string }{
		{"#btn-chat", "#chat-panel", "#chat-close"},
		{"#btn-people", "#people-panel", "#people-close"},
		{"#btn-waiting", "#waiting-panel", "#waiting-close"},
		{"#btn-settings", "#settings-panel", "#settings-close"},
		{"#btn-devices", "#devices-panel", "#devices-close"},
	}
	for _, lang := range []string{"de", "en"} {
		language(lang)
		waitFits(ctx, t, mona, "the meeting of two ("+lang+") does not fit", w, h, bars)
		phoneShot(ctx, t, monaTab, dir, "meeting-"+lang)
		for _, p := range panels {
			click(ctx, t, monaTab, p.open)
			waitOK(ctx, t, mona, fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect();
				return r.left === 0 && r.top === 0 && r.right === innerWidth && r.bottom === innerHeight; })()`, p.panel),
				p.panel+" ("+lang+") does not cover the screen")
			waitFits(ctx, t, mona, p.panel+" ("+lang+") does not fit", w, h, p.close)
			phoneShot(ctx, t, monaTab, dir, strings.TrimPrefix(p.panel, "#")+"-"+lang)
			click(ctx, t, monaTab, p.close)
			waitOK(ctx, t, mona, fmt.Sprintf(`document.querySelector(%q).hidden`, p.panel), p.close+" did not close "+p.panel)
		}
	}

	// The on-screen keyboard takes the lower half of the screen (the page resizes to
	// what is left: meeting.html's interactive-widget=resizes-content).
	click(ctx, t, monaTab, "#btn-chat")
	phone(monaTab, w, 400)
	evalOK(ctx, t, mona, `(() => { document.querySelector("#chat-input").focus(); return true; })()`, nil)
	waitFits(ctx, t, mona, "the chat with the keyboard up does not fit", w, 400, "#chat-close, #chat-send")
	waitFits(ctx, t, mona, "the chat's input is not on the screen with the keyboard up", w, 400, "#chat-input")
	phoneShot(ctx, t, monaTab, dir, "chat-keyboard-en")
	click(ctx, t, monaTab, "#chat-close")
	waitOK(ctx, t, mona, `document.querySelector("#chat-panel").hidden`, "#chat-close did not close the chat")
}

// TestPhoneMeetingFitsFirefox: Fay moderates from Firefox in a window the size of a
// phone's screen (360×740 at two device pixels per CSS pixel; Firefox over BiDi has no
// touch emulation, so its pointer stays fine and the targets their desktop size), in
// English and German, while Eva knocks. The meeting is not end-to-end encrypted, so the
// top bar's warning keeps its words and the bar takes two rows. Her page is never wider
// than the window, and the control bar's ten buttons, the top bar's and the knock card
// with its buttons are on the screen and clear of each other; so are the encryption
// panel, which floats below the top bar as the knock card does, and the reactions, which
// open above the control bar's two rows.
func TestPhoneMeetingFitsFirefox(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{"e2ee":false}`) // with a waiting room
	ctx, cancel := testContext()
	defer cancel()
	const w, h = 360, 740
	fayTab := openMeeting(ctx, t, browsertest.KindFirefox, srv.pageURL(links, links.moderatorFragment()))
	if err := browsertest.SetPhone(ctx, fayTab, w, h); err != nil {
		t.Fatal(err)
	}
	knock(ctx, t, fayTab, "Fay Lindqvist-Okonkwo")
	fay := &participant{name: "Fay", kind: browsertest.KindFirefox, tab: fayTab}
	waitOK(ctx, t, fay, `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`,
		"Fay did not join as a moderator")
	waitOK(ctx, t, fay, `document.querySelector("#e2ee-status").dataset.state === "off"`, "Fay's top bar does not warn that the meeting is not encrypted")

	eva := openMeeting(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()))
	knock(ctx, t, eva, "Eva Schulz")
	waitOK(ctx, t, fay, `!document.querySelector("#knock-card").hidden && !document.querySelector("#knock-card [data-name-pending]") && !document.querySelector("#btn-waiting").hidden`,
		"Fay's knock card did not show Eva")
	for _, lang := range []string{"en", "de"} {
		click(ctx, t, fayTab, `.language-option[data-lang="`+lang+`"]`)
		waitOK(ctx, t, fay, `document.documentElement.lang === "`+lang+`"`, "the page did not switch to "+lang)
		waitOK(ctx, t, fay, `[...document.querySelectorAll(".controls button")].filter((n) => n.getClientRects().length > 0).length === 10`,
			"Fay's control bar does not show ten buttons")
		waitFitsTargets(ctx, t, fay, "the meeting with a knock card ("+lang+") does not fit", w, h, ".controls button, .topbar button, #knock-card, #knock-card button", 0)
		click(ctx, t, fayTab, "#e2ee-status")
		waitFitsTargets(ctx, t, fay, "the encryption panel ("+lang+") does not fit", w, h, ".topbar button, #e2ee-panel", 0)
		click(ctx, t, fayTab, "#e2ee-panel-close")
		waitOK(ctx, t, fay, `document.querySelector("#e2ee-panel").hidden`, "#e2ee-panel-close did not close the encryption panel")
		// The reactions open above the control bar, not over its first row.
		click(ctx, t, fayTab, "#btn-reactions")
		waitFitsTargets(ctx, t, fay, "the reactions ("+lang+") do not fit", w, h, ".controls .ctrl, #reaction-bar", 0)
		click(ctx, t, fayTab, "#btn-reactions")
		waitOK(ctx, t, fay, `document.querySelector("#reaction-bar").hidden`, "#btn-reactions did not close the reactions")
	}
}

// TestNarrowDesktopTopBarKeepsItsWords: Nora moderates an encrypted meeting in a window
// 1024 px wide (Chromium, then Firefox), in English and German. The top bar keeps every
// chip's words on one line, its items clear of each other and the page no wider than
// the window: the language switch says "EN" and "DE" there, and is named by what it
// says followed by the language in words for a screen reader, "EN (English)" (no
// aria-label: the name comes from the text shown, WCAG 2.5.3), with "English" and
// "Deutsch" as tooltips. With the full names the German words of
// the encryption chip and of Copy link took two lines each.
func TestNarrowDesktopTopBarKeepsItsWords(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	const w, h = 1024, 768
	for _, kind := range []browsertest.Kind{browsertest.KindChromium, browsertest.KindFirefox} {
		links := srv.createMeetingWith(t, `{}`) // encrypted, with a waiting room
		// The top bar is checked, no picture: her camera stays off (cameraOffURL).
		tab := openMeeting(ctx, t, kind, srv.cameraOffURL(links, links.moderatorFragment()))
		if err := browsertest.SetViewport(ctx, tab, w, h); err != nil {
			t.Fatal(err)
		}
		knock(ctx, t, tab, "Nora Lindqvist-Okonkwo")
		nora := &participant{name: "Nora", kind: kind, tab: tab}
		waitOK(ctx, t, nora, `document.body.dataset.state === "joined" && window.conclave.role === "moderator" && document.querySelector("#e2ee-status").dataset.state === "on" && !document.querySelector("#btn-settings").hidden`,
			"Nora did not join an encrypted meeting as a moderator")
		for _, lang := range []string{"de", "en"} {
			click(ctx, t, tab, `.language-option[data-lang="`+lang+`"]`)
			waitOK(ctx, t, nora, `document.documentElement.lang === "`+lang+`"`, "the page did not switch to "+lang)
			waitFitsTargets(ctx, t, nora, "the top bar ("+lang+") does not fit", w, h, ".topbar button", 0)
			var twoLines []string
			evalOK(ctx, t, nora, `[...document.querySelectorAll(".topbar .chip-text")].filter((n) => {
				const r = document.createRange();
				r.selectNodeContents(n);
				return new Set([...r.getClientRects()].map((b) => Math.round(b.top))).size > 1;
			}).map((n) => n.parentElement.id)`, &twoLines)
			if len(twoLines) > 0 {
				t.Errorf("%s (%s, %d×%d): the words of %v take more than one line", kind, lang, w, h, twoLines)
			}
			var options string
			evalOK(ctx, t, nora, `[...document.querySelectorAll(".topbar .language-option")].map((b) =>
				[b.getAttribute("aria-label") ?? "", b.innerText.replace(/\s+/g, " ").trim(), b.title].join("/")).join(" ")`, &options)
			if options != "/EN (English)/English /DE (Deutsch)/Deutsch" {
				t.Errorf("%s (%s, %d×%d): the language switch is %q (aria-label/text/tooltip), not EN and DE named by their text and the language's name, with English and Deutsch as tooltips", kind, lang, w, h, options)
			}
		}
	}
}
