package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"conclave/internal/browsertest"
	"conclave/sfu"
)

// keepWorkersJS keeps every Worker the page makes in window.__workers.
const keepWorkersJS = `(() => {
const W = window.Worker;
window.__workers = [];
window.Worker = function (url, opts) { const w = new W(url, opts); window.__workers.push(w); return w; };
window.Worker.prototype = W.prototype;
})()`

// brokenWorkerJS makes every Worker load a script that does not exist.
const brokenWorkerJS = `(() => {
const W = window.Worker;
window.Worker = function (url, opts) { return new W("/static/js/e2ee/missing.js", opts); };
window.Worker.prototype = W.prototype;
})()`

// packetCounter counts the media packets (with payload) each publisher's camera sends.
type packetCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *packetCounter) tap(p sfu.TapPacket) {
	if p.Source != sfu.SourceCamera || len(p.Payload) == 0 {
		return
	}
	c.mu.Lock()
	c.n[p.ParticipantID]++
	c.mu.Unlock()
}

func (c *packetCounter) of(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

// joinWith is joinTab with a script run before the page's own in every document.
func joinWith(ctx context.Context, t *testing.T, srv *server, kind browsertest.Kind, m meetingLinks, name, preload string) *participant {
	t.Helper()
	return joinWithOptions(ctx, t, kind, srv.pageURL(m, m.fragment()), name, joinOptions{preload: preload})
}

// TestEncryptionFailureSilencesSenders: when the E2EE worker dies in the middle of a call
// (Chromium's legacy streams and Firefox's script transform alike), the server gets no
// more media from that tab and the tab says that encryption failed; a worker that never
// loads means nothing is ever sent.
func TestEncryptionFailureSilencesSenders(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	count := &packetCounter{n: map[string]int{}}
	srv := startServerWithTap(t, count.tap)
	m := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()

	ann := joinWith(ctx, t, srv, browsertest.KindChromium, m, "Ann", keepWorkersJS)
	fay := joinWith(ctx, t, srv, browsertest.KindFirefox, m, "Fay", keepWorkersJS)
	// Ben is here to receive: his camera stays off (cameraOffURL).
	ben := joinWithOptions(ctx, t, browsertest.KindChromium, srv.cameraOffURL(m, m.fragment()), "Ben", joinOptions{})
	waitSameColour(ctx, t, ben, ann, "camera")
	waitSameColour(ctx, t, ben, fay, "camera")

	for _, p := range []*participant{ann, fay} {
		// The session's worker and the spare loaded for a resume (e2ee-hooks.js): both die.
		if err := p.tab.Eval(ctx, `window.__workers.length >= 1 && window.__workers.length <= 2 && (window.__workers.forEach((w) => w.terminate()), true)`, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Packets already on their way still arrive, however long that takes on this
	// machine; then the flow must stop for good: 3 s without a single camera packet from
	// either (at 30 frames a second), before the test's deadline.
	for quiet, last := 0, [2]int{-1, -1}; quiet < 6; {
		now := [2]int{count.of(ann.id), count.of(fay.id)}
		if now == last {
			quiet++
		} else {
			quiet, last = 0, now
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after their workers died, camera packets from Ann (Chromium, %d) and Fay (Firefox, %d) never stopped", now[0], now[1])
		case <-time.After(500 * time.Millisecond):
		}
	}
	for _, p := range []*participant{ann, fay} {
		if err := p.tab.WaitFor(ctx, `document.querySelector("#e2ee-status").dataset.state === "error" && /not being sent/.test(document.querySelector("#banner").textContent)`); err != nil {
			t.Fatalf("%s does not say that encryption failed: %v", p.name, err)
		}
	}

	// A worker that never loads: the tab joins, says so, and sends nothing.
	cid := joinWith(ctx, t, srv, browsertest.KindChromium, m, "Cid", brokenWorkerJS)
	if err := cid.tab.WaitFor(ctx, `document.querySelector("#e2ee-status").dataset.state === "error"`); err != nil {
		t.Fatalf("a tab without a worker does not say that encryption failed: %v", err)
	}
	time.Sleep(2 * time.Second)
	var publish map[string]int
	if err := cid.tab.Eval(ctx, `window.conclave.stats().then(s => s.publish)`, &publish); err != nil {
		t.Fatal(err)
	}
	if n := count.of(cid.id); n != 0 || len(publish) != 0 {
		t.Fatalf("a tab without a worker sent %d camera packets (publish stats %v)", n, publish)
	}
}
