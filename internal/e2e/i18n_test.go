package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"conclave/internal/browsertest"
	"conclave/web"
)

// Issue 13: every text of the UI comes from the catalogues (web/static/i18n). The
// pseudo-language "qps" shows every catalogue text as ⟦text⟧, so any visible text that
// is not wrapped bypassed the catalogue.

// pseudoLeaksJS lists what a person sees or a screen reader reads on the page that did
// not come from the catalogue: visible text nodes, and aria-label, title and
// placeholder of visible elements, that hold letters and are not ⟦…⟧. Allowed: the
// brand name, the language names of the switch (each in its own language, on
// purpose), times of day (Intl), initials of avatars and the labels of the browser's
// own devices. User content in these tests is written ⟦…⟧ itself.
const pseudoLeaksJS = `(() => {
	const letters = /\p{L}/u;
	const wrapped = /^\s*⟦[\s\S]*⟧\s*$/;
	const time = /^\d{1,2}:\d{2}(\s?[AP]M)?$/;
	const allowed = (s, el) => !letters.test(s) || wrapped.test(s) || s.trim() === "Conclave" || time.test(s.trim()) ||
		!!el.closest(".language-option, .avatar-initials, .avatar") || (el.closest("option") && el.closest("option").value !== "");
	const visible = (el) => el.checkVisibility ? el.checkVisibility({ visibilityProperty: true }) : el.getClientRects().length > 0;
	const out = [];
	const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n = walker.nextNode(); n; n = walker.nextNode()) {
		const el = n.parentElement;
		if (!el || el.closest("script, style, template") || !visible(el)) continue;
		if (!allowed(n.textContent, el)) out.push("text " + JSON.stringify(n.textContent.trim()) + " in <" + el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " class=" + el.className + ">");
	}
	for (const el of document.querySelectorAll("[aria-label], [title], [placeholder]")) {
		if (!visible(el)) continue;
		for (const a of ["aria-label", "title", "placeholder"]) {
			const v = el.getAttribute(a);
			if (v !== null && !allowed(v, el)) out.push(a + " " + JSON.stringify(v) + " of <" + el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + ">");
		}
	}
	if (!wrapped.test(document.title)) out.push("title " + JSON.stringify(document.title));
	return out;
})()`

// checkPseudo fails t when the tab shows text that bypassed the catalogue.
func checkPseudo(ctx context.Context, t *testing.T, tab browsertest.Tab, where string) {
	t.Helper()
	var leaks []string
	if err := tab.Eval(ctx, pseudoLeaksJS, &leaks); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	for _, l := range leaks {
		t.Errorf("%s: %s bypasses the catalogue", where, l)
	}
}

// pseudoTab opens a tab of kind whose UI language is the pseudo-language: the choice is
// stored on the device (localStorage of the server's origin) before the page loads.
func pseudoTab(ctx context.Context, t *testing.T, srv *server, kind browsertest.Kind) browsertest.Tab {
	t.Helper()
	tab, err := browsertest.Shared(t, kind).NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := tab.Navigate(ctx, srv.url+"/privacy"); err != nil {
		t.Fatal(err)
	}
	if err := tab.Eval(ctx, `localStorage.setItem("conclave.lang", "qps")`, nil); err != nil {
		t.Fatal(err)
	}
	return tab
}

// TestNoTextBypassesTheCatalogue walks every screen in the pseudo-language — the
// landing page with a host link (rooms card, a room, a new meeting's links), the
// pre-join screen, the waiting room of a knocker (Firefox) and the moderator's
// waiting panel and knock card (Chromium), and the meeting with chat, people (with a
// moderator's menu) and settings open on both sides — and fails on any text, label,
// title or placeholder that is not from the catalogue.
func TestNoTextBypassesTheCatalogue(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()

	// The landing page with a host link without rk: the rooms card offers a new one.
	land := pseudoTab(ctx, t, srv, browsertest.KindChromium)
	if err := land.Navigate(ctx, srv.url+"/#host=e2ehost."+hostSecret); err != nil {
		t.Fatal(err)
	}
	if err := land.WaitFor(ctx, `!document.querySelector("#rooms-body").hidden && !document.querySelector("#rooms-empty").hidden && document.documentElement.lang === "en"`); err != nil {
		t.Fatalf("the rooms card did not show: %v", err)
	}
	checkPseudo(ctx, t, land, "landing page")
	// A room on a date (its expiry is a formatted date), then a new meeting's links.
	if err := land.Eval(ctx, `(() => {
		document.querySelector("#room-new").open = true;
		document.querySelector("#room-title").value = "⟦Weekly⟧";
		document.querySelector("#room-oneoff").checked = true;
		document.querySelector("#btn-create-room").click();
	})()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := land.WaitFor(ctx, `document.querySelectorAll("#room-list .room-item").length === 1`); err != nil {
		t.Fatalf("no room listed: %v", err)
	}
	if err := land.Eval(ctx, `(() => { document.querySelector("#room-new").open = true; document.querySelector("#room-list .room-edit").click(); })()`, nil); err != nil {
		t.Fatal(err)
	}
	checkPseudo(ctx, t, land, "rooms card with a room")
	if err := land.Eval(ctx, `(() => { const p = document.querySelector("#new-password"); p.value = "pw"; document.querySelector("#btn-new-meeting").click(); })()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := land.WaitFor(ctx, `!document.querySelector("#create-result").hidden && document.querySelector("#invitation").value.startsWith("⟦")`); err != nil {
		t.Fatalf("no new meeting: %v", err)
	}
	checkPseudo(ctx, t, land, "new meeting's links")

	links := srv.createMeetingWith(t, `{}`) // with a waiting room
	mod := pseudoTab(ctx, t, srv, browsertest.KindChromium)
	if err := mod.Navigate(ctx, srv.pageURL(links, links.moderatorFragment())); err != nil {
		t.Fatal(err)
	}
	if err := mod.WaitFor(ctx, `document.body.dataset.state === "prejoin" && !document.querySelector("#prejoin-camera-select").disabled`); err != nil {
		t.Fatal(err)
	}
	checkPseudo(ctx, t, mod, "pre-join (moderator)")
	knock(ctx, t, mod, "⟦Mona⟧")
	if err := mod.WaitFor(ctx, `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`); err != nil {
		t.Fatal(err)
	}

	felix := pseudoTab(ctx, t, srv, browsertest.KindFirefox)
	if err := felix.Navigate(ctx, srv.pageURL(links, links.fragment())); err != nil {
		t.Fatal(err)
	}
	knock(ctx, t, felix, "⟦Felix⟧")
	if err := felix.WaitFor(ctx, `document.body.dataset.state === "lobby" && document.querySelector("#lobby-status").dataset.moderatorPresent === "true"`); err != nil {
		t.Fatalf("Felix is not waiting: %v", err)
	}
	checkPseudo(ctx, t, felix, "waiting room (knocker, Firefox)")

	if err := mod.WaitFor(ctx, `!document.querySelector("#knock-card").hidden`); err != nil {
		t.Fatalf("no knock card: %v", err)
	}
	checkPseudo(ctx, t, mod, "meeting with a knock")
	click(ctx, t, mod, "#btn-waiting")
	if err := mod.WaitFor(ctx, `document.querySelectorAll("#waiting-list .waiting-entry").length === 1`); err != nil {
		t.Fatal(err)
	}
	checkPseudo(ctx, t, mod, "waiting panel (moderator)")
	click(ctx, t, mod, "#waiting-list .btn-admit")
	if err := felix.WaitFor(ctx, `document.body.dataset.state === "joined"`); err != nil {
		t.Fatalf("Felix was not let in: %v", err)
	}

	// Chat both ways, then every panel on both sides.
	click(ctx, t, mod, "#btn-chat")
	if err := mod.Eval(ctx, `(() => { const i = document.querySelector("#chat-input"); i.value = "⟦hello⟧"; document.querySelector("#chat-send").click(); })()`, nil); err != nil {
		t.Fatal(err)
	}
	click(ctx, t, felix, "#btn-chat")
	if err := felix.WaitFor(ctx, `document.querySelectorAll("#chat-messages .chat-message").length === 1`); err != nil {
		t.Fatalf("the chat message did not arrive: %v", err)
	}
	checkPseudo(ctx, t, mod, "meeting with chat (moderator)")
	checkPseudo(ctx, t, felix, "meeting with chat (Firefox)")
	click(ctx, t, mod, "#btn-people")
	click(ctx, t, mod, "#people-list .participant-menu")
	if err := mod.WaitFor(ctx, `document.querySelectorAll("#people-list .person-actions button").length > 3`); err != nil {
		t.Fatal(err)
	}
	checkPseudo(ctx, t, mod, "people panel with a moderator's menu")
	click(ctx, t, felix, "#btn-people")
	checkPseudo(ctx, t, felix, "people panel (Firefox)")
	click(ctx, t, mod, "#btn-settings")
	if err := mod.WaitFor(ctx, `!document.querySelector("#settings-panel").hidden`); err != nil {
		t.Fatal(err)
	}
	checkPseudo(ctx, t, mod, "settings panel")
	// What happens after a leave is catalogue text too.
	click(ctx, t, felix, "#btn-leave")
	if err := felix.WaitFor(ctx, `document.body.dataset.state === "left"`); err != nil {
		t.Fatal(err)
	}
	checkPseudo(ctx, t, felix, "left the meeting (Firefox)")
}

// readCatalogue reads web/static/i18n/<lang>.json, as the server embeds it.
func readCatalogue(t *testing.T, lang string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../../web/static/i18n/" + lang + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var cat map[string]any
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatal(err)
	}
	return cat
}

// textIs is a condition: the element sel shows exactly text.
func textIs(sel, text string) string {
	return fmt.Sprintf(`document.querySelector(%s)?.textContent.trim() === %s`, jsString(sel), jsString(text))
}

// str is the text of key in a catalogue (not a plural).
func str(t *testing.T, cat map[string]any, key string) string {
	t.Helper()
	s, ok := cat[key].(string)
	if !ok {
		t.Fatalf("no text %q in the catalogue", key)
	}
	return s
}

// attrIs is a condition: the element sel has attribute name = value.
func attrIs(sel, name, value string) string {
	return fmt.Sprintf(`document.querySelector(%s)?.getAttribute(%s) === %s`, jsString(sel), jsString(name), jsString(value))
}

// TestGermanBrowserAndTheSwitch: a browser set to German (a Firefox tab whose
// navigator.language(s) and Intl say German: browsertest.NewTabInLocale) gets
// <html lang="de"> and German texts on the landing page, the pre-join screen and in
// the meeting, beside an English Chromium. The tab's Accept-Language stays the
// browser's English one; the tab stands for a German browser because the language is
// decided in the page (i18n.js, from navigator.languages) and no server code reads
// that header. The switch in the meeting's top bar turns the page English in place: no
// reload (a marker on window survives), the meeting goes on and Ann's video keeps
// being decoded. The choice is remembered on the device (a reload stays English), the
// built-in privacy notice is said in German from its facts, and switching needs no
// server: it works on a page whose server has been stopped.
func TestGermanBrowserAndTheSwitch(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	firefox := browsertest.Shared(t, browsertest.KindFirefox)
	de, en := readCatalogue(t, "de"), readCatalogue(t, "en")
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()

	tab, err := browsertest.NewTabInLocale(ctx, firefox, "de-DE")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := tab.Navigate(ctx, srv.url+"/"); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `document.documentElement.lang === "de" && `+textIs("h1", str(t, de, "landing.hero"))+
		` && document.title === `+jsString(str(t, de, "landing.page-title"))); err != nil {
		t.Fatalf("the landing page is not German in a German browser: %v", err)
	}

	links := srv.createMeeting(t)
	ann := joinTab(ctx, t, srv, browsertest.KindChromium, links, "Ann", false)
	// Ann's picture is checked, not Greta's: Greta's camera stays off (cameraOffURL).
	if err := tab.Navigate(ctx, srv.cameraOffURL(links, links.fragment())); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "prejoin" && `+textIs("#prejoin-title", str(t, de, "prejoin.title"))+
		` && `+textIs("#prejoin-join", str(t, de, "prejoin.join"))); err != nil {
		t.Fatalf("the pre-join screen is not German: %v", err)
	}
	knock(ctx, t, tab, "Greta")
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "joined" && !!window.conclave.participantId`); err != nil {
		t.Fatal(err)
	}
	greta := &participant{name: "Greta", kind: browsertest.KindFirefox, tab: tab}
	if err := tab.Eval(ctx, `window.conclave.participantId`, &greta.id); err != nil {
		t.Fatal(err)
	}
	waitSameColour(ctx, t, greta, ann, "camera")
	if err := tab.WaitFor(ctx, textIs("#btn-leave .ctrl-text", str(t, de, "lobby.leave"))+` && `+
		attrIs("#btn-mic", "aria-label", str(t, de, "controls.mic.label"))); err != nil {
		t.Fatalf("the meeting is not German: %v", err)
	}
	// The English Chromium beside it stays English.
	if err := ann.tab.WaitFor(ctx, `document.documentElement.lang === "en" && `+textIs("#btn-leave .ctrl-text", str(t, en, "lobby.leave"))); err != nil {
		t.Fatalf("the English browser is not English: %v", err)
	}

	// Switch in place during the meeting.
	frames := fmt.Sprintf(`window.conclave.stats().then(s => s.video.filter(v => v.participantId === %q).reduce((n, v) => n + v.framesDecoded, 0))`, ann.id)
	var before int
	if err := tab.Eval(ctx, `(window.sameDocument = true, `+frames+`)`, &before); err != nil || before == 0 {
		t.Fatalf("frames of Ann decoded before the switch: %d (%v)", before, err)
	}
	click(ctx, t, tab, `.topbar-language .language-option[data-lang="en"]`)
	if err := tab.WaitFor(ctx, `document.documentElement.lang === "en" && window.sameDocument === true && document.body.dataset.state === "joined" && `+
		textIs("#btn-leave .ctrl-text", str(t, en, "lobby.leave"))+` && `+attrIs("#btn-mic", "aria-label", str(t, en, "controls.mic.label"))+
		` && document.title === `+jsString(str(t, en, "meeting.page-title"))); err != nil {
		t.Fatalf("the switch did not turn the meeting English in place: %v", err)
	}
	if err := tab.WaitFor(ctx, frames+`.then(n => n > `+fmt.Sprint(before+30)+`)`); err != nil {
		t.Fatalf("Ann's video stopped after the switch: %v", err)
	}
	waitSameColour(ctx, t, greta, ann, "camera")
	closeTabs(ann) // the meeting's part is done: the rest is Greta's pages

	// Remembered on this device: after a reload the page is English, though the browser says German.
	if err := tab.Navigate(ctx, srv.url+"/"); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `document.documentElement.lang === "en" && `+textIs("h1", str(t, en, "landing.hero"))); err != nil {
		t.Fatalf("the choice was not remembered: %v", err)
	}

	// No round trip: a server of the pages alone (another origin, so German again), stopped before the switch.
	// Its privacy page says the built-in notice's facts in German, durations included (a
	// number and its unit joined by a no-break space).
	pages := freshServer(t, web.Handler(web.Options{Notice: web.Notice{Processing: []web.NoticeItem{{
		Title: "How long", Text: "English prose", Fact: "how-long",
		Seconds: map[string]int64{"emptyGrace": 60, "knockTimeout": 900, "forgetAfter": 7200},
	}}}}))
	if err := tab.Navigate(ctx, pages.URL+"/privacy"); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `(() => { const s = document.querySelector('.notice-section[data-part="processing"]');
		return document.documentElement.lang === "de" && !!s && s.querySelector("h3").textContent === `+jsString(str(t, de, "notice.fact.how-long.title"))+
		` && s.textContent.includes("1\u00a0Minute") && s.textContent.includes("15\u00a0Minuten") && s.textContent.includes("2\u00a0Stunden") && !s.textContent.includes("English prose"); })()`); err != nil {
		t.Fatalf("the built-in notice is not German: %v", err)
	}
	if err := tab.Navigate(ctx, pages.URL+"/"); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `document.documentElement.lang === "de" && `+textIs("h1", str(t, de, "landing.hero"))); err != nil {
		t.Fatalf("the second origin is not German: %v", err)
	}
	pages.Close()
	click(ctx, t, tab, `.brand-bar .language-option[data-lang="en"]`)
	if err := tab.WaitFor(ctx, `document.documentElement.lang === "en" && `+textIs("h1", str(t, en, "landing.hero"))+` && `+
		attrIs("#join-input", "placeholder", str(t, en, "landing.join.placeholder"))); err != nil {
		t.Fatalf("the switch did not work with the server stopped: %v", err)
	}
}
