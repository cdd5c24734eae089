package e2e

import (
	"fmt"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// TestResumeWhoseWebsocketStallsComesBack: a member's link drops, and the websocket of
// the page's resume stalls (the server answered the page's probe; the handshake is never
// answered). The path is good again a moment later for new connections. The page gives
// the stalled attempt up and resumes on a new websocket: back in the meeting under its
// own id, its camera sent again. It waited on the stalled one until Chromium's own limit
// for a handshake (240 s), the server's grace (60 s) long over, and then said
// "Disconnected".
func TestResumeWhoseWebsocketStallsComesBack(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	srv := startServerWith(t, serverOptions{resumeGrace: 60 * time.Second})
	links := srv.createMeeting(t)
	line := startCutProxy(t, srv.url)
	ctx, cancel := testContext()
	defer cancel()

	tab := openMeeting(ctx, t, browsertest.KindChromium, line.url(srv.pageURL(links, links.moderatorFragment())))
	knock(ctx, t, tab, "Mona")
	mona := &participant{name: "Mona", kind: browsertest.KindChromium, tab: tab}
	waitFor(ctx, t, mona, "joined as moderator", `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`)
	if err := tab.Eval(ctx, `window.conclave.participantId`, &mona.id); err != nil {
		t.Fatal(err)
	}

	line.stall(true)
	line.closeAll()
	waitFor(ctx, t, mona, "says it is reconnecting", `document.body.dataset.reconnecting === "true" && !document.querySelector("#reconnect-overlay").hidden`)
	select {
	case <-line.stalled:
	case <-ctx.Done():
		t.Fatal("the page's resume never opened a websocket")
	}
	start := time.Now()
	line.stall(false)

	// Reconnecting ends, one way or the other; then it must have come back.
	waitFor(ctx, t, mona, "stops reconnecting", `!document.body.dataset.reconnecting`)
	var state string
	if err := tab.Eval(ctx, fmt.Sprintf(`JSON.stringify({state: document.body.dataset.state, sameId: window.conclave.participantId === %q,
		role: window.conclave.role, overlay: document.querySelector("#reconnect-overlay").hidden})`, mona.id), &state); err != nil {
		t.Fatal(err)
	}
	if want := `{"state":"joined","sameId":true,"role":"moderator","overlay":true}`; state != want {
		t.Fatalf("after a resume whose websocket stalled the page shows %s (%v after the stall), want %s", state, time.Since(start).Round(time.Second), want)
	}
	t.Logf("back %v after the stalled handshake", time.Since(start).Round(100*time.Millisecond))
	waitFor(ctx, t, mona, "sends its camera again", `window.conclave.stats().then(s => (s.publish?.camera || 0) > 0)`)
}
