package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// shownRecorderJS, run before the page's own scripts, records in window.__said what
// liveRecorderJS records, but leaves out a text written into a live region that is
// shown (its hidden attribute taken away, its own or an ancestor's) in the same task:
// a region that appears with its text already in it is not read out by every screen
// reader, so that text is not said.
const shownRecorderJS = `window.__said = [];
new MutationObserver((list) => {
	const shown = list.filter((m) => m.type === "attributes" && m.oldValue !== null && !m.target.hidden).map((m) => m.target);
	for (const m of list) {
		if (m.type === "attributes") continue;
		const node = m.target.nodeType === 1 ? m.target : m.target.parentElement;
		const region = node && node.closest('[aria-live], [role="status"], [role="alert"]');
		if (!region || region.getAttribute("aria-live") === "off" || region.closest("[hidden]")) continue;
		if (shown.some((s) => s.contains(region))) continue;
		const texts = m.type === "characterData" ? [m.target.data] : [...m.addedNodes].map((n) => n.textContent);
		for (const text of texts) if (text && text.trim()) window.__said.push((region.id || region.className) + ": " + text.trim());
	}
}).observe(document, { childList: true, characterData: true, subtree: true, attributes: true, attributeFilter: ["hidden"], attributeOldValue: true });`

// TestEncryptionFailureIsSaid: a tab whose E2EE worker never loads shows "not being
// sent" on the meeting's banner, and a screen reader must hear it: the banner was a
// status region shown with its text in the same moment, which a screen reader need not
// read out, so the failure that stops every camera and microphone could go unsaid. In
// Chromium and Firefox.
func TestEncryptionFailureIsSaid(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	for _, kind := range []browsertest.Kind{browsertest.KindChromium, browsertest.KindFirefox} {
		m := srv.createMeeting(t)
		// The banner is checked, no picture: his camera stays off (cameraOffURL).
		cid := joinWithOptions(ctx, t, kind, srv.cameraOffURL(m, m.fragment()), "Cid", joinOptions{preload: shownRecorderJS + "\n" + brokenWorkerJS})
		waitOK(ctx, t, cid, `document.querySelector("#e2ee-status").dataset.state === "error" && !document.querySelector("#banner").hidden`, "the tab does not show that encryption failed")
		var banner string
		evalOK(ctx, t, cid, `document.querySelector("#banner").textContent.trim()`, &banner)
		if !strings.Contains(banner, "not being sent") {
			t.Fatalf("%s: the banner shows %q", kind, banner)
		}
		// Written a moment after the banner (dom.js announceAlert): waited for as every
		// wait here, only within a minute rather than the test's six, since without it
		// nothing ever comes.
		said, stop := context.WithTimeout(ctx, time.Minute)
		err := cid.tab.WaitFor(said, `window.__said.some((s) => s.includes(`+jsString(banner)+`))`)
		stop()
		if err != nil {
			var said []string
			evalOK(ctx, t, cid, `window.__said`, &said)
			t.Errorf("%s: the banner %q was shown, never said (said: %q)", kind, banner, said)
		}
	}
}
