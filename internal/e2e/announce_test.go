package e2e

import (
	"fmt"
	"strings"
	"testing"

	"conclave/internal/browsertest"
)

// liveRecorderJS, run before the page's own scripts, records in window.__said every text
// that a live region a screen reader follows receives ("<region id>: <text>"): aria-live
// other than "off", role status or alert, none of them hidden.
const liveRecorderJS = `window.__said = [];
new MutationObserver((list) => {
	for (const m of list) {
		const node = m.target.nodeType === 1 ? m.target : m.target.parentElement;
		const region = node && node.closest('[aria-live], [role="status"], [role="alert"]');
		if (!region || region.getAttribute("aria-live") === "off" || region.closest("[hidden]")) continue;
		const texts = m.type === "characterData" ? [m.target.data] : [...m.addedNodes].map((n) => n.textContent);
		for (const text of texts) if (text && text.trim()) window.__said.push((region.id || region.className) + ": " + text.trim());
	}
}).observe(document, { childList: true, characterData: true, subtree: true });`

// TestNewsSaidOnce: a person let in from the waiting room hears it once, "You were let
// in. You joined the meeting" ("Sie wurden eingelassen und sind dem Meeting
// beigetreten"), where the toast that shows "You were let in" sat in a live region of its
// own and said it a second time; muted by a moderator, they hear "A moderator muted your
// microphone" ("Die Moderation hat Ihr Mikrofon stummgeschaltet") once, where the toast
// said it and the microphone's own news said "Microphone off" besides. The toasts are
// still seen. Knockers in Chromium and Firefox, in English and German, each let in by
// Mona (Chromium) from her waiting room's Admit button with the keyboard's focus on it
// (the focus stays on the page, not the body, when the knock's entry goes, and the one
// let in has it on the tiles' region), then muted from her people list. Then the
// English ones leave and the German ones are removed by Mona: the end screen's title has
// the focus and is read with the reason as its description, and nothing of it is said by
// a live region besides, where the screen was one (assertive) around an alert: "You were
// removed", "You were removed from the meeting.", "Rejoin", after the title's focus.
func TestNewsSaidOnce(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{}`)
	ctx, cancel := testContext()
	defer cancel()
	// What is said and focused is checked, no picture: every camera stays off (cameraOffURL).
	modTab := openMeeting(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.moderatorFragment()))
	knock(ctx, t, modTab, "Mona")
	mona := &participant{name: "Mona", kind: browsertest.KindChromium, tab: modTab}
	waitOK(ctx, t, mona, `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`, "Mona did not join as the moderator")
	letIn := map[string]string{"en": "You were let in", "de": "Sie wurden eingelassen"}
	muted := map[string][]string{
		"en": {"A moderator muted your microphone", "Microphone off"},
		"de": {"Die Moderation hat Ihr Mikrofon stummgeschaltet", "Mikrofon aus"},
	}
	type endScreen struct{ state, title, reason string }
	ends := map[string]endScreen{
		"en": {"left", "You left the meeting", "This page keeps nothing of the meeting."},
		"de": {"error", "Sie wurden entfernt", "Sie wurden aus dem Meeting entfernt."},
	}
	evalOK(ctx, t, mona, `(() => { const b = document.querySelector("#btn-people"); b.focus(); b.click(); return true; })()`, nil)
	waitOK(ctx, t, mona, `!document.querySelector("#people-panel").hidden`, "Mona's people list did not open")
	for _, kind := range []browsertest.Kind{browsertest.KindChromium, browsertest.KindFirefox} {
		for _, lang := range []string{"en", "de"} {
			name := fmt.Sprintf("Kai %s %s", kind, lang)
			tab, err := browsertest.Shared(t, kind).NewTab(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tab.Close() })
			if err := browsertest.OnNewDocument(ctx, tab, liveRecorderJS); err != nil {
				t.Fatal(err)
			}
			if err := tab.Navigate(ctx, srv.cameraOffURL(links, links.fragment())); err != nil {
				t.Fatal(err)
			}
			kai := &participant{name: name, kind: kind, tab: tab}
			waitOK(ctx, t, kai, `document.body.dataset.state === "prejoin"`, "no pre-join screen")
			click(ctx, t, tab, `#prejoin [data-language-switch] .language-option[data-lang="`+lang+`"]`)
			waitOK(ctx, t, kai, `document.documentElement.lang === "`+lang+`"`, "the pre-join screen did not switch to "+lang)
			knock(ctx, t, tab, name)
			waitOK(ctx, t, kai, `document.body.dataset.state === "lobby"`, "not waiting")

			entry := `[...document.querySelectorAll("#waiting-list .waiting-entry")].find((e) => e.textContent.includes(` + jsString(name) + `))`
			waitOK(ctx, t, mona, `(() => { const e = `+entry+`; if (!e) return false; const b = e.querySelector(".btn-admit"); b.focus(); b.click(); return true; })()`,
				"Mona could not admit "+name)
			waitOK(ctx, t, kai, `document.body.dataset.state === "joined"`, "not let in")
			waitOK(ctx, t, mona, `!(`+entry+`)`, "the knock's entry did not go")
			var monaFocus string
			evalOK(ctx, t, mona, `document.activeElement === document.body ? "the body" : document.activeElement.id || document.activeElement.className`, &monaFocus)
			if monaFocus == "the body" {
				t.Errorf("%s (%s): Mona's focus fell to the body when the entry she admitted went", kind, lang)
			}
			// The announcement is written after the join (announcer.js); the toast, in
			// the same call, before it.
			said := letIn[lang]
			waitOK(ctx, t, kai, `window.__said.some((s) => s.startsWith("live: ") && s.includes(`+jsString(said)+`))`, "the admission was not announced")
			var all []string
			evalOK(ctx, t, kai, `window.__said`, &all)
			var heard []string
			for _, s := range all {
				if strings.Contains(s, said) {
					heard = append(heard, s)
				}
			}
			if len(heard) != 1 {
				t.Errorf("%s (%s): the admission was said %d times, want once: %q", kind, lang, len(heard), heard)
			}
			var seen, focus string
			evalOK(ctx, t, kai, `[...document.querySelectorAll("#toasts .toast")].map((e) => e.textContent).join(" | ")`, &seen)
			if !strings.Contains(seen, said) {
				t.Errorf("%s (%s): no toast shows %q (toasts: %q)", kind, lang, said, seen)
			}
			evalOK(ctx, t, kai, `document.activeElement.id || document.activeElement.tagName`, &focus)
			if focus != "grid" {
				t.Errorf("%s (%s): let in, the focus is on %s, want the tiles' region #grid", kind, lang, focus)
			}

			// Mona mutes Kai from her people list.
			evalOK(ctx, t, kai, `window.conclave.participantId`, &kai.id)
			waitOK(ctx, t, kai, pressedJS("#btn-mic")+` === "true"`, "Kai's microphone is not on")
			evalOK(ctx, t, kai, `(() => { window.__said.length = 0; return true; })()`, nil)
			personAction(ctx, t, mona, kai.id, "mute_microphone", "Mona could not mute "+name)
			waitOK(ctx, t, kai, pressedJS("#btn-mic")+` === "false"`, "Kai was not muted")
			// The microphone's news is written after the toast is placed (the mute runs in
			// the microphone's queue, the toast after it is queued).
			mentions := `window.__said.filter((s) => ` + jsStrings(muted[lang]) + `.some((w) => s.includes(w)))`
			waitOK(ctx, t, kai, mentions+`.some((s) => s.startsWith("live: "))`, "the mute was not announced")
			evalOK(ctx, t, kai, mentions, &heard)
			if len(heard) != 1 || !strings.Contains(heard[0], muted[lang][0]) {
				t.Errorf("%s (%s): the moderator's mute was said %d times, want once as %q: %q", kind, lang, len(heard), muted[lang][0], heard)
			}
			evalOK(ctx, t, kai, `[...document.querySelectorAll("#toasts .toast")].map((e) => e.textContent).join(" | ")`, &seen)
			if !strings.Contains(seen, muted[lang][0]) {
				t.Errorf("%s (%s): no toast shows %q (toasts: %q)", kind, lang, muted[lang][0], seen)
			}

			// Kai leaves (English) or Mona removes him (German): the end screen's title
			// takes the focus and is read with its description, the reason; no live
			// region says the title, the reason or the button again.
			evalOK(ctx, t, kai, `(() => { window.__said.length = 0; return true; })()`, nil)
			end := ends[lang]
			if lang == "en" {
				click(ctx, t, kai.tab, "#btn-leave")
			} else {
				personAction(ctx, t, mona, kai.id, "remove", "Mona could not remove "+name)
				click(ctx, t, mona.tab, "#confirm-ok")
			}
			waitOK(ctx, t, kai, `document.body.dataset.state === "`+end.state+`" && document.activeElement === document.querySelector("#status-title")`,
				"the end screen's title does not have the focus")
			var read struct{ Title, Description string }
			evalOK(ctx, t, kai, `(() => { const h = document.querySelector("#status-title");
				return { title: h.textContent.trim(), description: (h.getAttribute("aria-describedby") || "").split(" ").filter(Boolean).map((id) => document.getElementById(id).textContent.trim()).filter(Boolean).join(" ") }; })()`, &read)
			if read.Title != end.title || !strings.Contains(read.Description, end.reason) {
				t.Errorf("%s (%s): the end screen's focused title reads %q described %q, want %q described with %q", kind, lang, read.Title, read.Description, end.title, end.reason)
			}
			evalOK(ctx, t, kai, `window.__said`, &all)
			if len(all) != 0 {
				t.Errorf("%s (%s): the end screen, read from its focused title, was also said by live regions: %q", kind, lang, all)
			}
		}
	}
}
