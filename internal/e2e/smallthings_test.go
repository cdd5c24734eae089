package e2e

import (
	"fmt"
	"testing"

	"conclave/internal/browsertest"
)

// keyJS dispatches a key event as the keyboard does, on the focused element (or the page).
func keyJS(typ, key, code, target string) string {
	return fmt.Sprintf(`(() => { const t = %s || document.activeElement || document.body;
		t.dispatchEvent(new KeyboardEvent(%q, { key: %q, code: %q, bubbles: true, cancelable: true })); return true; })()`, target, typ, key, code)
}

// TestChatLinksShortcutsPushToTalk: a chat message from Ann (Chromium) shows its web
// address as a link in Fay's tab (Firefox) that opens in a new tab without opener or
// referrer, while a javascript: text stays plain text; "?" opens the keyboard shortcuts
// dialog; Fay, muted, holds the space bar and Ann hears her (the audio energy of Fay's
// sound rises, her tile shows the microphone on); when Fay lets go she is muted again.
// A space typed into the chat box does not unmute.
func TestChatLinksShortcutsPushToTalk(t *testing.T) {
	t.Parallel()
	srv, m := encryptedMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	ann := joinURL(ctx, t, browsertest.KindChromium, srv.cameraOffURL(m, m.fragment()), "Ann", false)
	// Fay has a Firefox of her own: losing the window's focus lets go of the space bar
	// (push-to-talk.js), and in the shared Firefox every tab is a window that another
	// test's new tab takes the focus from, at any moment (it failed so, twice).
	fay := joinWithOptions(ctx, t, browsertest.KindFirefox, srv.cameraOffURL(m, m.fragment()), "Fay",
		joinOptions{browser: browsertest.Firefox(t)})

	// Chat links.
	const text = "Slides: https://example.org/deck?id=7. Not this: javascript:alert(1) nor <a href=x>y</a>"
	evalOK(ctx, t, ann, fmt.Sprintf(`(() => { const i = document.querySelector("#chat-input"); i.value = %q;
		i.dispatchEvent(new Event("input", { bubbles: true })); document.querySelector("#chat-send").click(); return true; })()`, text), nil)
	var got struct {
		Text  string     `json:"text"`
		Links [][]string `json:"links"`
	}
	// A text that waited for its key a while shows "waiting for the sender's key" first.
	waitOK(ctx, t, fay, `!!document.querySelector(".chat-message .chat-text:not(.chat-pending)")`, "Ann's message did not arrive")
	evalOK(ctx, t, fay, `(() => { const c = document.querySelector(".chat-message .chat-text:not(.chat-pending)");
		return { text: c.textContent, links: [...c.querySelectorAll("a")].map(a => [a.getAttribute("href"), a.textContent, a.rel, a.target, a.referrerPolicy]) }; })()`, &got)
	want := "[[https://example.org/deck?id=7 https://example.org/deck?id=7 noopener noreferrer _blank no-referrer]]"
	if got.Text != text || fmt.Sprint(got.Links) != want {
		t.Fatalf("Fay's chat shows %q with links %v; want the text unchanged and the links %s", got.Text, got.Links, want)
	}

	// "?" opens the shortcuts dialog (not while typing), its button closes it.
	evalOK(ctx, t, fay, `(() => { const i = document.querySelector("#chat-input"); i.focus(); return true; })()`, nil)
	evalOK(ctx, t, fay, keyJS("keydown", "?", "Slash", `document.querySelector("#chat-input")`), nil)
	var open bool
	evalOK(ctx, t, fay, `document.querySelector("#shortcuts-dialog").open`, &open)
	if open {
		t.Fatal(`"?" typed into the chat box opened the shortcuts dialog`)
	}
	evalOK(ctx, t, fay, keyJS("keydown", "?", "Slash", `document.body`), nil)
	waitOK(ctx, t, fay, `(() => { const d = document.querySelector("#shortcuts-dialog"); return d.open && d.querySelectorAll("kbd").length >= 5 && d.textContent.includes("Space"); })()`,
		`"?" did not open the shortcuts dialog`)
	evalOK(ctx, t, fay, `document.querySelector("#shortcuts-close").click()`, nil)
	waitOK(ctx, t, fay, `!document.querySelector("#shortcuts-dialog").open`, "the shortcuts dialog did not close")

	// Push-to-talk: Ann hears Fay; Fay mutes (her microphone then sends nothing); Ann
	// sees it.
	waitOK(ctx, t, ann, audioJS(fay.id)+fmt.Sprintf(`.then(a => a.packets > %d)`, audioPacketsASecond), "no audio from Fay")
	evalOK(ctx, t, fay, `document.querySelector("#btn-mic").click()`, nil)
	fayMuted := fmt.Sprintf(`document.querySelector('.tile[data-participant-id="%s"][data-source="camera"]').classList.contains("mic-muted")`, fay.id)
	waitOK(ctx, t, ann, fayMuted, "Fay's tile does not show her muted")
	// A space in the chat box is text, not push-to-talk.
	evalOK(ctx, t, fay, keyJS("keydown", " ", "Space", `document.querySelector("#chat-input")`), nil)
	var pressed string
	evalOK(ctx, t, fay, `document.querySelector("#btn-mic").getAttribute("aria-pressed")`, &pressed)
	if pressed != "false" {
		t.Fatal("a space typed into the chat box unmuted the microphone")
	}
	evalOK(ctx, t, fay, keyJS("keyup", " ", "Space", `document.querySelector("#chat-input")`), nil)
	evalOK(ctx, t, fay, `(() => { document.activeElement.blur(); return true; })()`, nil)

	before := audioFrom(ctx, t, ann, fay)
	evalOK(ctx, t, fay, keyJS("keydown", " ", "Space", `document.body`), nil)
	if err := fay.tab.WaitFor(ctx, `document.querySelector("#btn-mic").getAttribute("aria-pressed") === "true"`); err != nil {
		t.Fatalf("Fay (firefox): holding space did not turn the microphone on: %v; the page: %s", err, pageState(fay))
	}
	waitOK(ctx, t, ann, "!"+fayMuted, "Ann does not see Fay talking")
	waitOK(ctx, t, ann, fmt.Sprintf(`%s.then(a => a.energy > %g)`, audioJS(fay.id), before.Energy+0.005), "Fay's sound did not get louder at Ann while she held space")
	evalOK(ctx, t, fay, keyJS("keyup", " ", "Space", `document.body`), nil)
	waitOK(ctx, t, fay, `document.querySelector("#btn-mic").getAttribute("aria-pressed") === "false"`, "letting go of space did not mute again")
	waitOK(ctx, t, ann, fayMuted, "Ann does not see Fay muted again")
}
