package e2e

import (
	"testing"

	"conclave/internal/browsertest"
)

// liveE2EEWorkersJS counts the page's E2EE workers that were started and not ended
// (window.__liveE2EEWorkers()); the blur ticker and any other worker are left out.
const liveE2EEWorkersJS = `(() => {
	const PageWorker = window.Worker;
	const live = new Set();
	window.__liveE2EEWorkers = () => live.size;
	window.Worker = class extends PageWorker {
		constructor(url, options) {
			super(url, options);
			if (new URL(String(url), location.href).pathname === "/static/js/e2ee/worker.js") live.add(this);
		}
		terminate() {
			live.delete(this);
			return super.terminate();
		}
	};
	// What the page's websockets said, for a failure to show: each opening, each
	// message's type (a bye's reason, an error's code) and each close's code, with the
	// page's time in ms.
	const PageWebSocket = window.WebSocket;
	const log = [];
	window.__websocketLog = () => log.join(", ");
	const note = (s) => { log.push(Math.round(performance.now()) + " " + s); if (log.length > 100) log.shift(); };
	window.WebSocket = class extends PageWebSocket {
		constructor(...args) {
			super(...args);
			this.addEventListener("open", () => note("open"));
			this.addEventListener("message", (e) => {
				try {
					const m = JSON.parse(e.data);
					note(m.type + (m.payload?.reason ? " " + m.payload.reason : "") + (m.payload?.code ? " " + m.payload.code : ""));
				} catch { note("?"); }
			});
			this.addEventListener("close", (e) => note("close " + e.code));
		}
	};
})()`

// TestEndedMeetingEndsTheSpareWorker: a page whose encrypted meeting ends (the error
// screen "The meeting has ended") keeps no E2EE worker running. The spare loaded for a
// resume (e2ee-hooks.js prewarmMediaWorker) was ended only by Leave; on an error or
// ended screen it ran on for as long as the page stayed open.
func TestEndedMeetingEndsTheSpareWorker(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	srv := startServer(t)
	links := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()

	// The workers are counted, not frames: her camera stays off (cameraOffURL).
	ann := joinWithOptions(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()), "Ann",
		joinOptions{preload: liveE2EEWorkersJS})
	waitFor(ctx, t, ann, "the session's worker running and its spare loaded",
		`document.querySelector("#e2ee-status").dataset.state === "on" && window.__liveE2EEWorkers() === 2`)
	var before string
	if err := ann.tab.Eval(ctx, `window.__websocketLog()`, &before); err != nil {
		t.Fatal(err)
	}
	srv.sig.EndRoom(links.MeetingID) // as when its room is deleted: bye ended
	// Any error screen, then which: a page that took the end for a drop shows another
	// one, and waiting on for "ended" would only wait out the test (two CI runs).
	waitFor(ctx, t, ann, "an error screen", `document.body.dataset.state === "error" && !!document.querySelector("#meeting-error")?.dataset.code`)
	var shown struct{ Code, Log string }
	if err := ann.tab.Eval(ctx, `({code: document.querySelector("#meeting-error").dataset.code, log: window.__websocketLog()})`, &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Code != "ended" {
		t.Fatalf("the ended meeting's page shows the error screen %q, not \"ended\"; its websockets before the end: %s; at the end: %s", shown.Code, before, shown.Log)
	}
	var live int
	if err := ann.tab.Eval(ctx, `window.__liveE2EEWorkers()`, &live); err != nil {
		t.Fatal(err)
	}
	if live != 0 {
		t.Fatalf("%d E2EE workers still run on the ended screen", live)
	}
}
