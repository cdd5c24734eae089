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

	ann := joinWithOptions(ctx, t, browsertest.KindChromium, srv.pageURL(links, links.fragment()), "Ann",
		joinOptions{preload: liveE2EEWorkersJS})
	waitFor(ctx, t, ann, "the session's worker running and its spare loaded",
		`document.querySelector("#e2ee-status").dataset.state === "on" && window.__liveE2EEWorkers() === 2`)
	srv.sig.EndRoom(links.MeetingID) // as when its room is deleted: bye ended
	waitFor(ctx, t, ann, "the ended screen",
		`document.body.dataset.state === "error" && document.querySelector("#meeting-error")?.dataset.code === "ended"`)
	var live int
	if err := ann.tab.Eval(ctx, `window.__liveE2EEWorkers()`, &live); err != nil {
		t.Fatal(err)
	}
	if live != 0 {
		t.Fatalf("%d E2EE workers still run on the ended screen", live)
	}
}
