package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// TestWaitingPersonKnocksAgainAfterADrop: Wes (Firefox) waits in the waiting room of
// Mona's encrypted meeting (Chromium, moderator) when his connection is cut for 5 s (a
// TCP proxy between his tab and the server drops it and refuses new ones). A knock
// lives as long as its websocket, so Mona sees it go; Wes's page was left at
// "Disconnected" with a Rejoin button. Now it says it is knocking again, tries with
// backoff (its probes refused while the cut lasts), and his knock is back in Mona's
// waiting list by itself, his page in the waiting room again and saying so, never at
// an error screen. Mona admits him and both decode each other's encrypted video.
func TestWaitingPersonKnocksAgainAfterADrop(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{}`)
	ctx, cancel := testContext()
	defer cancel()

	mona := joinModeratorTab(ctx, t, srv, browsertest.KindChromium, links, "Mona")
	line := startCutProxy(t, srv.url)
	wes := &participant{name: "Wes", kind: browsertest.KindFirefox}
	wes.tab = openMeeting(ctx, t, wes.kind, line.url(srv.pageURL(links, links.fragment())))
	knock(ctx, t, wes.tab, wes.name)
	waitFor(ctx, t, wes, "in the waiting room", `document.body.dataset.state === "lobby"`)
	waitFor(ctx, t, mona, "Wes's knock shown", `window.conclave.waiting().length === 1`)
	if err := wes.tab.Eval(ctx, `(() => {
		window.statesSeen = [];
		new MutationObserver(() => window.statesSeen.push(document.body.dataset.state))
			.observe(document.body, { attributes: true, attributeFilter: ["data-state"] });
		return true;
	})()`, nil); err != nil {
		t.Fatal(err)
	}

	line.cut(5 * time.Second)
	waitFor(ctx, t, wes, "says it knocks again", `document.body.dataset.reknocking === "true" && document.querySelector("#lobby-note").dataset.i18n === "lobby.reknocking" && !document.querySelector("#lobby-note").hidden`)
	waitFor(ctx, t, mona, "Wes's knock gone with his connection", `window.conclave.waiting().length === 0`)
	waitFor(ctx, t, mona, "Wes's knock back by itself", `window.conclave.waiting().length === 1`)
	waitFor(ctx, t, wes, "in the waiting room again, told so", `document.body.dataset.state === "lobby" && !document.body.dataset.reknocking && document.querySelector("#lobby-note").dataset.i18n === "lobby.reknocked"`)

	wes.id = admitInBrowser(ctx, t, mona.tab, wes.name)
	waitFor(ctx, t, wes, "let in", `document.body.dataset.state === "joined"`)
	waitSameColour(ctx, t, mona, wes, "camera")
	waitSameColour(ctx, t, wes, mona, "camera")

	var states []string
	if err := wes.tab.Eval(ctx, `window.statesSeen`, &states); err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s != "lobby" && s != "joined" {
			t.Fatalf("Wes's page went through %q on its way back (states %v)", s, states)
		}
	}
}

// TestDeadPathNoticedByTheHeartbeat: the paths of Fay (Firefox, in Mona's meeting) and
// Wes (Chromium, waiting) die without a close (a NAT that forgot the mapping, a proxy
// that stopped forwarding): their websockets stay open and silent, and nothing closes
// them, the server's own timeout included (the proxy does not pass it on). Only the
// pages' heartbeat (heartbeat.js: a ping unanswered, nothing heard for 35 s) can
// notice: Fay resumes on a new connection, back under her id with encrypted video both
// ways; Wes knocks again and is in Mona's waiting list again, and she admits him.
func TestDeadPathNoticedByTheHeartbeat(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServerWith(t, serverOptions{resumeGrace: 90 * time.Second})
	links := srv.createMeetingWith(t, `{}`)
	ctx, cancel := testContext()
	defer cancel()

	mona := joinModeratorTab(ctx, t, srv, browsertest.KindChromium, links, "Mona")
	fayLine, wesLine := startCutProxy(t, srv.url), startCutProxy(t, srv.url)
	fay := &participant{name: "Fay", kind: browsertest.KindFirefox}
	fay.tab = openMeeting(ctx, t, fay.kind, fayLine.url(srv.pageURL(links, links.fragment())))
	knock(ctx, t, fay.tab, fay.name)
	fay.id = admitInBrowser(ctx, t, mona.tab, fay.name)
	waitFor(ctx, t, fay, "let in", `document.body.dataset.state === "joined"`)
	waitSameColour(ctx, t, mona, fay, "camera")
	wes := &participant{name: "Wes", kind: browsertest.KindChromium}
	wes.tab = openMeeting(ctx, t, wes.kind, wesLine.url(srv.pageURL(links, links.fragment())))
	knock(ctx, t, wes.tab, wes.name)
	waitFor(ctx, t, mona, "Wes's knock shown", `window.conclave.waiting().length === 1`)
	var oldKnock string
	if err := mona.tab.Eval(ctx, `window.conclave.waiting()[0].participantId`, &oldKnock); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	fayLine.freeze()
	wesLine.freeze()
	if err := fay.tab.WaitFor(ctx, `document.body.dataset.reconnecting === "true"`); err != nil {
		t.Fatalf("Fay's page never noticed its dead path: %v", err)
	}
	t.Logf("Fay's page gave the dead path up after %s", time.Since(start).Round(100*time.Millisecond))
	backInMeeting(ctx, t, fay, mona, "participant")
	waitSameColour(ctx, t, fay, mona, "camera")
	waitFor(ctx, t, wes, "knocks again", `document.body.dataset.state === "lobby" && document.querySelector("#lobby-note").dataset.i18n.startsWith("lobby.reknocked")`)
	var note string
	if err := wes.tab.Eval(ctx, `document.querySelector("#lobby-note").dataset.i18n`, &note); err != nil {
		t.Fatal(err)
	}
	t.Logf("Wes knocked again after %s (%s)", time.Since(start).Round(100*time.Millisecond), note)
	// His new knock replaces the old one, which the server still holds until its own
	// timeout notices the dead connection (40–60 s against the page's 35): Mona never
	// sees the two side by side, where she could admit the old one, which nobody is
	// behind, while his real knock waited (a clean-clone run's test did before the
	// mend). Were the server's timeout first, the old knock would be gone anyway.
	if err := mona.tab.WaitFor(ctx, fmt.Sprintf(`window.conclave.waiting().some((w) => w.participantId !== %q)`, oldKnock)); err != nil {
		t.Fatalf("Wes's new knock never showed: %v", err)
	}
	var ids []string
	if err := mona.tab.Eval(ctx, `window.conclave.waiting().map((w) => w.participantId)`, &ids); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] == oldKnock {
		t.Fatalf("Mona's waiting list %v beside Wes's old knock %s: a ghost knock stands", ids, oldKnock)
	}
	admitInBrowser(ctx, t, mona.tab, wes.name)
	waitFor(ctx, t, wes, "let in", `document.body.dataset.state === "joined"`)
	if err := wes.tab.Eval(ctx, `window.conclave.participantId`, &wes.id); err != nil {
		t.Fatal(err)
	}
	waitSameColour(ctx, t, mona, wes, "camera")
}

// trackRecorderJS runs before the page: every track getUserMedia gives the page is kept
// in window.capturedTracks, so that a test can see whether the page stopped them.
const trackRecorderJS = `(() => {
	const devices = navigator.mediaDevices;
	const getUserMedia = devices.getUserMedia.bind(devices);
	window.capturedTracks = [];
	devices.getUserMedia = async (c) => {
		const stream = await getUserMedia(c);
		window.capturedTracks.push(...stream.getTracks());
		return stream;
	};
})()`

// TestLeaveWhileKnockingAgainStopsTheCamera: Wes (Chromium) waits in the waiting room
// when his connection is cut for longer than a blip. His page says it knocks again;
// between two attempts he presses Leave. The page says he left, knocks no more, and
// his camera and microphone are off: the session that dropped had kept them on for
// the waiting screen's preview, and Leave, finding no session to say goodbye on,
// showed "You left" with the camera's light still on.
func TestLeaveWhileKnockingAgainStopsTheCamera(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{}`)
	ctx, cancel := testContext()
	defer cancel()

	line := startCutProxy(t, srv.url)
	wes := &participant{name: "Wes", kind: browsertest.KindChromium}
	tab, err := browsertest.Shared(t, wes.kind).NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := browsertest.OnNewDocument(ctx, tab, trackRecorderJS); err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(ctx, line.url(srv.pageURL(links, links.fragment()))); err != nil {
		t.Fatal(err)
	}
	wes.tab = tab
	knock(ctx, t, wes.tab, wes.name)
	waitFor(ctx, t, wes, "in the waiting room, the camera and microphone on", `document.body.dataset.state === "lobby" && window.capturedTracks.some(t => t.kind === "video" && t.readyState === "live") && window.capturedTracks.some(t => t.kind === "audio" && t.readyState === "live")`)

	line.cut(time.Minute)
	waitFor(ctx, t, wes, "says it knocks again", `document.body.dataset.reknocking === "true"`)
	if err := wes.tab.Eval(ctx, `(() => { document.querySelector("#lobby-leave").click(); return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, wes, "left", `document.body.dataset.state === "left" && !document.body.dataset.reknocking`)
	off, cancelOff := context.WithTimeout(ctx, 10*time.Second)
	defer cancelOff()
	waitFor(off, t, wes, "camera and microphone off after Leave", `window.capturedTracks.every(t => t.readyState === "ended")`)
}
