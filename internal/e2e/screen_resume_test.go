package e2e

import (
	"fmt"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// TestReconnectKeepsScreenShare: in an end-to-end encrypted meeting Ann (Chromium)
// shares her screen and Bob decodes it; Ann's connection drops for 3 s (a TCP proxy
// between her tab and the server). While she is away Bob loses her share; once she is
// back, Bob decodes her screen again without Ann having picked it again: the capture
// went on across the drop and the resumed session sent it on its new connection,
// encrypted (Bob's tab decrypts the fake screen's magenta pattern). Before, every drop
// ended the share. Meanwhile Ann's people list is the one from before the drop, readable
// (not aria-busy) and said to be so by #people-held, which goes with the resume.
func TestReconnectKeepsScreenShare(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	srv := startServerWith(t, serverOptions{resumeGrace: 60 * time.Second})
	m := srv.createMeeting(t)
	line := startCutProxy(t, srv.url)
	ctx, cancel := testContext()
	defer cancel()

	ann := joinURL(ctx, t, browsertest.KindChromium, line.url(srv.cameraOffURL(m, m.fragment())), "Ann", true)
	bob := joinURL(ctx, t, browsertest.KindChromium, srv.cameraOffURL(m, m.fragment()), "Bob", false)
	// Count the picks: the browser's picker must not be asked again after the resume.
	if err := ann.tab.Eval(ctx, `(() => { const md = navigator.mediaDevices, pick = md.getDisplayMedia.bind(md);
		window.__picks = 0; md.getDisplayMedia = (...a) => { window.__picks++; return pick(...a); }; return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
	clickIn(ctx, t, ann, "#btn-screen")
	waitMagenta(ctx, t, bob, ann)

	line.cut(3 * time.Second)
	waitFor(ctx, t, ann, "Ann's tab says it is reconnecting, its people list from before the drop said to be so",
		`document.body.dataset.reconnecting === "true" && !document.querySelector("#people-held").hidden &&
			!document.querySelector("#people-list").hasAttribute("aria-busy")`)
	seesReconnecting(ctx, t, bob, ann)
	waitFor(ctx, t, bob, "Ann's share gone while she is away",
		fmt.Sprintf(`!document.querySelector('.tile[data-participant-id=%q][data-source="screen"]') ||
			document.querySelector('.tile[data-participant-id=%q][data-source="screen"]').dataset.video !== "on"`, ann.id, ann.id))
	waitFor(ctx, t, ann, "Ann back in the meeting, her people list of now", `document.body.dataset.state === "joined" && !document.body.dataset.reconnecting &&
		document.querySelector("#people-held").hidden && !document.querySelector("#people-list").dataset.held`)
	waitFor(ctx, t, ann, "Ann still sharing", `document.querySelector("#btn-screen").getAttribute("aria-pressed") === "true"`)
	waitMagenta(ctx, t, bob, ann)
	var picks int
	if err := ann.tab.Eval(ctx, `window.__picks`, &picks); err != nil || picks != 1 {
		t.Fatalf("Ann's screen was picked %d times (%v); the resume must not ask again", picks, err)
	}
	waitFor(ctx, t, bob, "Bob shows Ann sharing", fmt.Sprintf(`window.conclave.participants().find(x => x.id === %q)?.media.screen === true`, ann.id))
}
