package e2e

import (
	"context"
	"fmt"
	"testing"

	"conclave/internal/browsertest"
)

// accNameJS is the accessible name of the element passed to it, by the steps of the
// accname rules that can name these buttons (aria-labelledby, then aria-label, then the
// content, then the title), and the title, which is the description when something else
// names the button. The harness reads no browser's accessibility tree, so the rules
// stand in for it; the buttons below are named by aria-label alone (no
// aria-labelledby), which both engines take as it is.
const accNameJS = `((b) => {
	const ids = (b.getAttribute("aria-labelledby") || "").trim();
	if (ids) return { name: ids.split(/\s+/).map((id) => document.getElementById(id)?.textContent.trim() || "").join(" "), by: "aria-labelledby" };
	const label = (b.getAttribute("aria-label") || "").trim();
	if (label) return { name: label, by: "aria-label", description: b.getAttribute("title") || "" };
	const text = b.textContent.trim();
	if (text) return { name: text, by: "content", description: b.getAttribute("title") || "" };
	return { name: b.getAttribute("title") || "", by: "title" };
})`

// toggleWant is what one toggle of the meeting page says in one language: its name in
// either state, and the tooltip (the description) with aria-pressed "true" and "false".
type toggleWant struct {
	sel, name         string
	titleOn, titleOff string // "" when the button has no tooltip
	what              string // what the button toggles, for messages
}

// TestToggleButtonsKeepTheirNames: the meeting's toggle buttons (microphone, camera,
// screen share, raised hand, the people list) keep one name that says what they toggle,
// open or closed, on or off, and say which by aria-pressed alone, "true" meaning on (the
// microphone sends, the screen is shared, the hand is up, the list is open); each tooltip
// says what a click does ("Turn off microphone (Ctrl+D)"), which a screen reader reads as
// the description, so a muted microphone is "Microphone, toggle button, not pressed, Turn
// on microphone (Ctrl+D)". In Chromium and Firefox, English and German, each button
// clicked to one state and back; the pre-join screen's microphone and camera the same
// (in English). The names changed with the state ("Turn off microphone, pressed",
// "Lower hand, pressed"), and the people list's button was "Show participants".
// The blur toggle is checked off only: blur on needs WebGL, which headless Firefox lacks.
// Pia is the moderator, so the panel buttons of the waiting room, the settings and the
// devices are checked the same way (name and tooltip one noun, open or closed), and the
// microphone held on by push-to-talk keeps its name; Wim's waiting screen (a meeting
// with a waiting room) has the microphone and camera of the pre-join screen.
func TestToggleButtonsKeepTheirNames(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	wants := map[string][]toggleWant{
		"en": {
			{"#btn-mic", "Microphone", "Turn off microphone (Ctrl+D)", "Turn on microphone (Ctrl+D)", "the microphone"},
			{"#btn-camera", "Camera", "Turn off camera (Ctrl+E)", "Turn on camera (Ctrl+E)", "the camera"},
			{"#btn-screen", "Share screen", "Stop sharing your screen", "Share your screen", "the screen share"},
			{"#btn-hand", "Raise hand", "Lower hand", "Raise hand", "the hand"},
			{"#btn-people", "1 participant", "", "", "the people list"},
			{"#btn-waiting", "Waiting room", "Waiting room", "Waiting room", "the waiting room"},
			{"#btn-settings", "Meeting settings", "Meeting settings", "Meeting settings", "the settings"},
			{"#btn-devices", "Devices, view and shortcuts", "Devices, view and shortcuts", "Devices, view and shortcuts", "the devices panel"},
		},
		"de": {
			{"#btn-mic", "Mikrofon", "Mikrofon ausschalten (Strg+D)", "Mikrofon einschalten (Strg+D)", "the microphone"},
			{"#btn-camera", "Kamera", "Kamera ausschalten (Strg+E)", "Kamera einschalten (Strg+E)", "the camera"},
			{"#btn-screen", "Bildschirm freigeben", "Bildschirmfreigabe beenden", "Bildschirm freigeben", "the screen share"},
			{"#btn-hand", "Hand heben", "Hand senken", "Hand heben", "the hand"},
			{"#btn-people", "1 teilnehmende Person", "", "", "the people list"},
			{"#btn-waiting", "Warteraum", "Warteraum", "Warteraum", "the waiting room"},
			{"#btn-settings", "Einstellungen des Meetings", "Einstellungen des Meetings", "Einstellungen des Meetings", "the settings"},
			{"#btn-devices", "Geräte, Ansicht und Tastenkürzel", "Geräte, Ansicht und Tastenkürzel", "Geräte, Ansicht und Tastenkürzel", "the devices panel"},
		},
	}
	blur := map[string]string{"en": "Blur background", "de": "Hintergrund weichzeichnen"}
	waiting := map[string][]toggleWant{
		"en": {
			{"#lobby-mic", "Microphone", "Turn off microphone", "Turn on microphone", "the waiting screen's microphone"},
			{"#lobby-camera", "Camera", "Turn off camera", "Turn on camera", "the waiting screen's camera"},
		},
		"de": {
			{"#lobby-mic", "Mikrofon", "Mikrofon ausschalten", "Mikrofon einschalten", "the waiting screen's microphone"},
			{"#lobby-camera", "Kamera", "Kamera ausschalten", "Kamera einschalten", "the waiting screen's camera"},
		},
	}
	panels := map[string]string{"#btn-people": "#people-panel", "#btn-waiting": "#waiting-panel", "#btn-settings": "#settings-panel", "#btn-devices": "#devices-panel"}
	for _, kind := range []browsertest.Kind{browsertest.KindChromium, browsertest.KindFirefox} {
		// A meeting of each browser's own: Pia is alone in it ("1 participant"). On the
		// pre-join screen (English) the microphone and the camera keep their names too.
		m := srv.createMeeting(t)
		prejoin := func(ctx context.Context, t *testing.T, tab browsertest.Tab) {
			t.Helper()
			pre := &participant{name: "Pia", kind: kind, tab: tab}
			waitOK(ctx, t, pre, `document.body.dataset.state === "prejoin" && document.documentElement.lang === "en"`, "no English pre-join screen")
			checkToggle(ctx, t, pre, "en (pre-join)", toggleWant{"#prejoin-mic", "Microphone", "Turn off microphone", "Turn on microphone", "the microphone"})
			checkToggle(ctx, t, pre, "en (pre-join)", toggleWant{"#prejoin-camera", "Camera", "Turn off camera", "Turn on camera", "the camera"})
		}
		p := joinWithOptions(ctx, t, kind, srv.pageURL(m, m.moderatorFragment()), "Pia", joinOptions{fakeScreen: true, prejoin: prejoin})
		waitOK(ctx, t, p, `window.conclave.role === "moderator"`, "Pia is no moderator")
		for _, lang := range []string{"de", "en"} {
			click(ctx, t, p.tab, `.language-option[data-lang="`+lang+`"]`)
			waitOK(ctx, t, p, `document.documentElement.lang === "`+lang+`"`, "the page did not switch to "+lang)
			for _, w := range wants[lang] {
				checkToggle(ctx, t, p, lang, w)
				if panel := panels[w.sel]; panel != "" {
					waitOK(ctx, t, p, `document.querySelector("`+panel+`").hidden`, w.what+" did not close")
				}
			}
			checkPushToTalk(ctx, t, p, lang, wants[lang][0])
			var got struct{ Name, By, Description string }
			evalOK(ctx, t, p, accNameJS+`(document.querySelector("#btn-blur"))`, &got)
			var pressed string
			evalOK(ctx, t, p, pressedJS("#btn-blur"), &pressed)
			if pressed != "false" || got.Name != blur[lang] || got.By != "aria-label" {
				t.Errorf("%s (%s): the blur button with aria-pressed %s is named %q (by %s), want %q not pressed",
					kind, lang, pressed, got.Name, got.By, blur[lang])
			}
		}
		// The waiting screen's microphone and camera: Wim knocks at a meeting with a
		// waiting room and waits there (no moderator in it).
		lobby := srv.createMeetingWith(t, `{}`)
		wim := &participant{name: "Wim", kind: kind, tab: openMeeting(ctx, t, kind, srv.pageURL(lobby, lobby.fragment()))}
		knock(ctx, t, wim.tab, "Wim")
		waitOK(ctx, t, wim, `document.body.dataset.state === "lobby"`, "Wim is not waiting")
		for _, lang := range []string{"de", "en"} {
			click(ctx, t, wim.tab, `#lobby .language-option[data-lang="`+lang+`"]`)
			waitOK(ctx, t, wim, `document.documentElement.lang === "`+lang+`"`, "the waiting screen did not switch to "+lang)
			for _, w := range waiting[lang] {
				checkToggle(ctx, t, wim, lang+" (waiting)", w)
			}
		}
		closeTabs(p, wim) // not left running through the next browser's turn
	}
}

// checkPushToTalk holds the space bar with the microphone muted and nothing focused: the
// microphone is on while it is held, and keeps its name mic.name, pressed (the tooltip of
// on), then off again once let go. The microphone is left as it was found (on).
func checkPushToTalk(ctx context.Context, t *testing.T, p *participant, lang string, mic toggleWant) {
	t.Helper()
	click(ctx, t, p.tab, "#btn-mic")
	waitOK(ctx, t, p, pressedJS("#btn-mic")+` === "false"`, "the microphone did not mute")
	evalOK(ctx, t, p, `(() => { document.activeElement.blur(); return true; })()`, nil)
	for _, held := range []bool{true, false} {
		typ, pressed, title := "keydown", "true", mic.titleOn
		if !held {
			typ, pressed, title = "keyup", "false", mic.titleOff
		}
		evalOK(ctx, t, p, keyJS(typ, " ", "Space", `document.body`), nil)
		waitOK(ctx, t, p, pressedJS("#btn-mic")+` === "`+pressed+`"`, fmt.Sprintf("push-to-talk (%s) did not turn the microphone's aria-pressed to %s", typ, pressed))
		var got struct{ Name, By, Description string }
		evalOK(ctx, t, p, accNameJS+`(document.querySelector("#btn-mic"))`, &got)
		if got.Name != mic.name || got.By != "aria-label" || got.Description != title {
			t.Errorf("%s (%s): the microphone with the space bar held %v is named %q (by %s, described %q), want %q described %q",
				p.kind, lang, held, got.Name, got.By, got.Description, mic.name, title)
		}
	}
	click(ctx, t, p.tab, "#btn-mic")
	waitOK(ctx, t, p, pressedJS("#btn-mic")+` === "true"`, "the microphone did not come back on")
}

// checkToggle clicks the toggle w.sel to its other state and back, and after each click
// wants its aria-pressed changed, its name w.name and its description the tooltip of
// that state.
func checkToggle(ctx context.Context, t *testing.T, p *participant, lang string, w toggleWant) {
	t.Helper()
	var first string
	evalOK(ctx, t, p, fmt.Sprintf(`document.querySelector(%s).getAttribute("aria-pressed")`, jsString(w.sel)), &first)
	other := map[string]string{"true": "false", "false": "true"}[first]
	if other == "" {
		t.Fatalf("%s (%s): %s has aria-pressed %q, want true or false", p.kind, lang, w.sel, first)
	}
	for _, pressed := range []string{other, first} {
		click(ctx, t, p.tab, w.sel)
		waitOK(ctx, t, p, fmt.Sprintf(`document.querySelector(%s).getAttribute("aria-pressed") === %q`, jsString(w.sel), pressed),
			fmt.Sprintf("a click did not turn %s's aria-pressed to %s", w.what, pressed))
		var got struct{ Name, By, Description string }
		evalOK(ctx, t, p, accNameJS+fmt.Sprintf(`(document.querySelector(%s))`, jsString(w.sel)), &got)
		wantTitle := map[string]string{"true": w.titleOn, "false": w.titleOff}[pressed]
		if got.Name != w.name || got.By != "aria-label" || got.Description != wantTitle {
			t.Errorf("%s (%s): the button of %s with aria-pressed %s is named %q (by %s, described %q), want %q described %q",
				p.kind, lang, w.what, pressed, got.Name, got.By, got.Description, w.name, wantTitle)
		}
	}
}

// TestTilePinKeepsItsName: a tile's pin button is a toggle like the control bar's: it
// keeps one name, pinned or not, says which by aria-pressed alone ("true": the tile is
// pinned) and its tooltip says what a click does ("Pin: keep large", "Unpin"). The name
// says whose tile it is, as the tile shows it ("Pin Pia (you)", "Pia (Sie) anheften"): a
// screen reader's list of buttons drops the tile's group, and every pin was "Pin". In
// Chromium and Firefox, English and German, the pin of Pia's own camera tile clicked to
// pinned and back. It was named by its action, "Unpin, pressed" once pinned; the marks
// and renames are name-marks.test.mjs's.
func TestTilePinKeepsItsName(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	const pin = `.tile[data-self="true"][data-source="camera"] .tile-pin`
	wants := map[string]toggleWant{
		"en": {pin, "Pin Pia (you)", "Unpin", "Pin: keep large", "the tile's pin"},
		"de": {pin, "Pia (Sie) anheften", "Nicht mehr anheften", "Anheften: groß anzeigen", "the tile's pin"},
	}
	for _, kind := range []browsertest.Kind{browsertest.KindChromium, browsertest.KindFirefox} {
		m := srv.createMeeting(t)
		// The pin's name is checked, no picture (her camera tile has it with the camera
		// off): her camera stays off (cameraOffURL).
		p := joinWithOptions(ctx, t, kind, srv.cameraOffURL(m, m.fragment()), "Pia", joinOptions{})
		for _, lang := range []string{"de", "en"} {
			click(ctx, t, p.tab, `.language-option[data-lang="`+lang+`"]`)
			waitOK(ctx, t, p, `document.documentElement.lang === "`+lang+`"`, "the page did not switch to "+lang)
			checkToggle(ctx, t, p, lang, wants[lang])
		}
	}
}
