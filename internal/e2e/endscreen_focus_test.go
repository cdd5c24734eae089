package e2e

import (
	"testing"

	"conclave/internal/browsertest"
)

// TestEndScreenTakesTheFocusFromADialog: Kai reads the keyboard shortcuts (a modal
// dialog, opened with "?") when Mona removes him. The end screen's title must have the
// focus, the dialog closed: the screen is read from its focused title only (no live
// region says it), and a modal dialog left open over it keeps the rest of the page
// inert, so the title could not take the focus and a screen reader heard nothing of the
// removal. In Chromium and Firefox.
func TestEndScreenTakesTheFocusFromADialog(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	for _, kind := range []browsertest.Kind{browsertest.KindChromium, browsertest.KindFirefox} {
		links := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
		// The focus is checked, no picture: the cameras stay off (cameraOffURL).
		mona := joinWithOptions(ctx, t, kind, srv.cameraOffURL(links, links.moderatorFragment()), "Mona", joinOptions{})
		waitOK(ctx, t, mona, `window.conclave.role === "moderator"`, "Mona is not the moderator")
		kai := joinWithOptions(ctx, t, kind, srv.cameraOffURL(links, links.fragment()), "Kai", joinOptions{})
		evalOK(ctx, t, kai, keyJS("keydown", "?", "Slash", "document.body"), nil)
		waitOK(ctx, t, kai, `document.querySelector("#shortcuts-dialog").open && document.activeElement.id === "shortcuts-close"`, "the shortcuts did not open")

		evalOK(ctx, t, mona, `(() => { document.querySelector("#btn-people").click(); return true; })()`, nil)
		personAction(ctx, t, mona, kai.id, "remove", "Mona could not remove Kai")
		click(ctx, t, mona.tab, "#confirm-ok")

		waitOK(ctx, t, kai, `document.body.dataset.state === "error"`, "Kai's page did not show the end screen")
		var got struct {
			Focus  string
			Dialog bool
		}
		evalOK(ctx, t, kai, `({ focus: document.activeElement.id || document.activeElement.tagName, dialog: document.querySelector("#shortcuts-dialog").open })`, &got)
		if got.Focus != "status-title" || got.Dialog {
			t.Errorf("%s: removed while the shortcuts were open, the focus is on %s (the dialog open: %v), want the end screen's title, the dialog closed", kind, got.Focus, got.Dialog)
		}
		closeTabs(mona, kai) // not left running through the next browser's turn
	}
}
