package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// languageGroup is what a screen reader is given of one language switch: the group's
// role and name, each option's role, state and tab index, the language shown, and the
// focused element.
type languageGroup struct {
	Role, Name, Lang, Focus string
	Options                 []struct {
		Lang, Role, Checked string
		TabIndex            int
		Shown               bool
		// Label is its aria-label, LangAttr its lang attribute (the language its name is
		// read in), Text what it shows.
		Label, LangAttr, Text string
		// Title is its tooltip, heard as its description where it is not its name.
		Title string
	}
}

func languageGroupJS(slot string) string {
	return fmt.Sprintf(`(() => { const g = document.querySelector(%s);
		const f = document.activeElement;
		return { role: g.getAttribute("role") || "", name: g.getAttribute("aria-label") || "", lang: document.documentElement.lang,
			focus: g.contains(f) ? "option " + f.dataset.lang : f === document.body ? "the body" : f.id || f.tagName,
			options: [...g.querySelectorAll(".language-option")].map((b) => ({ lang: b.dataset.lang, role: b.getAttribute("role") || "",
				checked: b.getAttribute("aria-checked") || "", tabIndex: b.tabIndex, shown: b.getClientRects().length > 0,
				label: b.getAttribute("aria-label") ?? "", langAttr: b.getAttribute("lang") ?? "", text: b.innerText.replace(/\s+/g, " ").trim(), title: b.title })) }; })()`, jsString(slot))
}

// checkLanguageGroup checks that slot is the radio group "Language"/"Sprache" with want
// chosen, one tab stop (stop, the option Tab reaches, shown) and the focus on focus
// ("" where it does not matter).
func checkLanguageGroup(ctx context.Context, t *testing.T, p *participant, slot, want, stop, focus, step string) {
	t.Helper()
	names := map[string]string{"en": "Language", "de": "Sprache"}
	var g languageGroup
	evalOK(ctx, t, p, languageGroupJS(slot), &g)
	if g.Role != "radiogroup" || g.Name != names[want] || g.Lang != want || (focus != "" && g.Focus != focus) {
		t.Errorf("%s, %s: the switch is role %q named %q, the page in %q, the focus on %s; want a radiogroup named %q, the page in %q, the focus on %s",
			p.kind, step, g.Role, g.Name, g.Lang, g.Focus, names[want], want, focus)
	}
	stops := 0
	for _, o := range g.Options {
		if o.Role != "radio" || o.Checked != fmt.Sprint(o.Lang == want) {
			t.Errorf("%s, %s: option %s is role %q aria-checked %q, want a radio checked %v", p.kind, step, o.Lang, o.Role, o.Checked, o.Lang == want)
		}
		if o.TabIndex >= 0 {
			stops++
			if o.Lang != stop || !o.Shown {
				t.Errorf("%s, %s: Tab reaches option %s (shown: %v), want only %s, shown", p.kind, step, o.Lang, o.Shown, stop)
			}
		}
	}
	if stops != 1 {
		t.Errorf("%s, %s: the switch has %d tab stops, want one", p.kind, step, stops)
	}
}

// checkLanguageButton checks what a screen reader is given of slot where the layout
// shows one option only (the phone's top bar: the language not chosen, the page being in
// want): no radio group, and no radio (a group of one unchecked radio never said which
// language was on), but a plain button showing the other language's name, named by what
// it does in the page's language (beginning with the name shown), the only tab stop, and
// the focus on focus ("" where it does not matter).
func checkLanguageButton(ctx context.Context, t *testing.T, p *participant, slot, want, focus, step string) {
	t.Helper()
	other := map[string]string{"en": "de", "de": "en"}[want]
	shows := map[string]string{"en": "English", "de": "Deutsch"}[other]
	name := map[string]string{"en": "Deutsch – switch to German", "de": "English – auf Englisch umstellen"}[want]
	var g languageGroup
	evalOK(ctx, t, p, languageGroupJS(slot), &g)
	if g.Role != "" || g.Name != "" || g.Lang != want || (focus != "" && g.Focus != focus) {
		t.Errorf("%s, %s: the switch is role %q named %q, the page in %q, the focus on %s; want no role and no name (one button), the page in %q, the focus on %s",
			p.kind, step, g.Role, g.Name, g.Lang, g.Focus, want, focus)
	}
	for _, o := range g.Options {
		if o.Lang != want && o.Title != "" && o.Title != name {
			t.Errorf("%s, %s: the option shown has the tooltip %q, heard after its name as its description; want none or its name %q", p.kind, step, o.Title, name)
		}
		if o.Lang == want {
			if o.Shown || o.TabIndex >= 0 {
				t.Errorf("%s, %s: the chosen language's option is shown %v, tab index %d; want it hidden and out of the tab order", p.kind, step, o.Shown, o.TabIndex)
			}
			continue
		}
		if !o.Shown || o.TabIndex != 0 || o.Role != "" || o.Checked != "" || o.Label != name || o.LangAttr != "" || o.Text != shows {
			t.Errorf("%s, %s: the option shown (%s: %v) is role %q aria-checked %q named %q in lang %q, shows %q, tab index %d; want a plain button %q named %q in the page's language, the tab stop",
				p.kind, step, o.Lang, o.Shown, o.Role, o.Checked, o.Label, o.LangAttr, o.Text, o.TabIndex, shows, name)
		}
	}
}

// TestLanguageChoiceIsARadioGroup: the language switch is a choice of one among two, a
// radio group (WAI-ARIA APG): role radiogroup named "Language" ("Sprache"), each option a
// radio with aria-checked, one tab stop, the chosen option; the arrow keys move the focus
// to the next or previous option and choose it, round the ends. It was two toggle
// buttons with aria-pressed and two tab stops. On the pre-join screen, in Firefox and
// Chromium. And in the meeting's top bar of a phone-sized window, which shows only the
// other language: there it is no radio group but one plain button, "Deutsch", named
// "Deutsch – switch to German" ("English – auf Englisch umstellen"), the tab stop, whose
// click switches with the focus staying on the switch (not on the body, as when the
// chosen option went out of sight); a screen reader heard a radio group "Language" of
// one radio, unchecked, and never which language was on. Back on a wide window it is
// the radio group again.
func TestLanguageChoiceIsARadioGroup(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	const slot = "#prejoin [data-language-switch]"
	arrow := func(p *participant, key string) {
		t.Helper()
		evalOK(ctx, t, p, keyJS("keydown", key, key, "null"), nil)
	}
	for _, kind := range []browsertest.Kind{browsertest.KindFirefox, browsertest.KindChromium} {
		links := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
		// The language switch is checked, no picture: her camera stays off (cameraOffURL).
		tab := openMeeting(ctx, t, kind, srv.cameraOffURL(links, links.fragment()))
		p := &participant{name: "Ida", kind: kind, tab: tab}
		waitOK(ctx, t, p, `document.body.dataset.state === "prejoin"`, "no pre-join screen")
		click(ctx, t, tab, slot+` .language-option[data-lang="en"]`)
		waitOK(ctx, t, p, `document.documentElement.lang === "en"`, "the page is not in English")
		checkLanguageGroup(ctx, t, p, slot, "en", "en", "", "in English")
		evalOK(ctx, t, p, `(() => { document.querySelector(`+jsString(slot)+` + " [tabindex='0']").focus(); return true; })()`, nil)
		checkLanguageGroup(ctx, t, p, slot, "en", "en", "option en", "focused by its tab stop")
		for _, s := range []struct{ key, want string }{{"ArrowRight", "de"}, {"ArrowRight", "en"}, {"ArrowLeft", "de"}, {"ArrowUp", "en"}, {"ArrowDown", "de"}} {
			arrow(p, s.key)
			checkLanguageGroup(ctx, t, p, slot, s.want, s.want, "option "+s.want, s.key+" to "+s.want)
		}

		// The meeting's top bar on a phone: only the other language is shown.
		knock(ctx, t, tab, "Ida")
		waitOK(ctx, t, p, `document.body.dataset.state === "joined"`, "Ida did not join")
		const bar = ".topbar-language"
		checkLanguageGroup(ctx, t, p, bar, "de", "de", "", "wide, in German")
		if err := browsertest.SetViewport(ctx, tab, 390, 844); err != nil {
			t.Fatal(err)
		}
		waitOK(ctx, t, p, `document.querySelector(".topbar-language .language-option[data-lang='de']").getClientRects().length === 0`, "the phone's top bar shows the chosen language")
		// The roles and the tab stop follow when the page is told of the new layout (the
		// switch's box, a moment after): waited for within a minute rather than the
		// test's six, since without it nothing ever comes; what is there then is checked
		// either way.
		moved, stop := context.WithTimeout(ctx, time.Minute)
		_ = tab.WaitFor(moved, `(() => { const s = document.querySelector(".topbar-language [tabindex='0']");
			return !!s && s.getClientRects().length > 0 && !document.querySelector(".topbar-language").hasAttribute("role"); })()`)
		stop()
		checkLanguageButton(ctx, t, p, bar, "de", "", "on a phone, in German")
		evalOK(ctx, t, p, `(() => { document.querySelector(".topbar-language [tabindex='0']").focus(); return true; })()`, nil)
		arrow(p, "ArrowRight") // a plain button: an arrow chooses nothing
		checkLanguageButton(ctx, t, p, bar, "de", "option en", "on a phone, ArrowRight on the button")
		click(ctx, t, tab, bar+` .language-option[data-lang="en"]`)
		checkLanguageButton(ctx, t, p, bar, "en", "option de", "on a phone, English clicked")
		click(ctx, t, tab, bar+` .language-option[data-lang="de"]`)
		checkLanguageButton(ctx, t, p, bar, "de", "option en", "on a phone, Deutsch clicked")

		// Back on a wide window: the radio group, as before.
		if err := browsertest.SetViewport(ctx, tab, 1280, 800); err != nil {
			t.Fatal(err)
		}
		waitOK(ctx, t, p, `document.querySelector(".topbar-language").getAttribute("role") === "radiogroup"`, "the wide top bar's switch is no radio group again")
		checkLanguageGroup(ctx, t, p, bar, "de", "de", "", "wide again, in German")
	}
}

// TestLanguageTabStopFollowsTheLayout: which option of a switch is shown is app.css's
// alone to say (the phone's top bar hides the chosen language below a width written
// there); the tab stop and the roles follow what is shown, read from the layout, not
// from a second copy of that width in i18n.js. A rule that hides the chosen option of
// the top bar at any width (as a breakpoint changed in app.css alone would) must make
// the option shown the tab stop and a plain button named by what it does (no radio
// group of one), and its click must choose it with the focus staying on the switch.
// In Firefox and Chromium, on a wide screen.
func TestLanguageTabStopFollowsTheLayout(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	const bar = ".topbar-language"
	for _, kind := range []browsertest.Kind{browsertest.KindFirefox, browsertest.KindChromium} {
		p := idaInGerman(ctx, t, srv, kind, bar)
		checkLanguageGroup(ctx, t, p, bar, "de", "de", "", "wide, in German")
		// The rule goes into app.css's own sheet (the page's CSP takes no inline style).
		evalOK(ctx, t, p, `(() => { const s = [...document.styleSheets].find((s) => /app\.css/.test(s.href || ""));
			s.insertRule('.topbar-language .language-option[data-chosen] { display: none; }', s.cssRules.length); return true; })()`, nil)
		waitOK(ctx, t, p, `document.querySelector(".topbar-language .language-option[data-lang='de']").getClientRects().length === 0`, "the rule did not hide the chosen option")
		// The tab stop and the roles move once the layout changed (the switch's box, a
		// moment after): waited for within 20 s rather than the test's six, since without
		// it nothing ever comes; what is there then is checked either way.
		moved, stop := context.WithTimeout(ctx, 20*time.Second)
		_ = p.tab.WaitFor(moved, `(() => { const s = document.querySelector(".topbar-language [tabindex='0']");
			return !!s && s.getClientRects().length > 0 && !document.querySelector(".topbar-language").hasAttribute("role"); })()`)
		stop()
		checkLanguageButton(ctx, t, p, bar, "de", "", "the chosen option hidden by app.css")
		evalOK(ctx, t, p, `(() => { document.querySelector(".topbar-language [tabindex='0']").focus(); return true; })()`, nil)
		click(ctx, t, p.tab, bar+` .language-option[data-lang="en"]`)
		checkLanguageButton(ctx, t, p, bar, "en", "option de", "the chosen option hidden by app.css, English clicked")
	}
}

// idaInGerman has Ida join a meeting without a lobby in a new tab of kind and choose
// German on the top bar's switch (bar): the opening of the language switch's tests,
// which look at no picture, so her camera stays off (cameraOffURL).
func idaInGerman(ctx context.Context, t *testing.T, srv *server, kind browsertest.Kind, bar string) *participant {
	t.Helper()
	links := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	p := joinWithOptions(ctx, t, kind, srv.cameraOffURL(links, links.fragment()), "Ida", joinOptions{})
	click(ctx, t, p.tab, bar+` .language-option[data-lang="de"]`)
	waitOK(ctx, t, p, `document.documentElement.lang === "de"`, "the page is not in German")
	return p
}
