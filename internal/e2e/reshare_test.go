package e2e

import (
	"context"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// waitMagenta waits until recv decodes send's screen share (the FakeDisplayMediaJS pattern).
func waitMagenta(ctx context.Context, t *testing.T, recv, send *participant) {
	t.Helper()
	for {
		c, err := browsertest.SampleVideo(ctx, recv.tab, tileSel(send.id, "screen"))
		if err == nil && browsertest.MagentaTestPattern(c) {
			return
		}
		select {
		case <-ctx.Done():
			for _, p := range []*participant{recv, send} {
				var state any
				_ = p.tab.Eval(context.Background(), `window.conclave.stats().then(s => ({publish: s.publish, video: s.video,
					sharing: document.querySelector("#btn-screen").getAttribute("aria-pressed"), e2ee: window.conclave.e2ee.stats()}))`, &state)
				t.Logf("%s: %v", p.name, state)
			}
			t.Fatalf("%s never decoded %s's screen: %v", recv.name, send.name, c)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestEncryptedScreenShareRestarts: in an end-to-end encrypted meeting a Chromium tab
// (legacy encoded streams) and a Firefox tab (script transform) share their screens,
// stop and share again on the same, reused transceiver; each decodes the other's screen
// both times, and their cameras again after being turned off and on.
func TestEncryptedScreenShareRestarts(t *testing.T) {
	t.Parallel()
	srv, m := encryptedMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	ann := joinTab(ctx, t, srv, browsertest.KindChromium, m, "Ann", true)
	fay := joinTab(ctx, t, srv, browsertest.KindFirefox, m, "Fay", true)
	for round := 0; round < 2; round++ {
		for _, p := range []*participant{ann, fay} {
			if err := p.tab.Eval(ctx, `document.querySelector("#btn-screen").click()`, nil); err != nil {
				t.Fatal(err)
			}
		}
		waitMagenta(ctx, t, fay, ann)
		waitMagenta(ctx, t, ann, fay)
		for _, p := range []*participant{ann, fay} {
			if err := p.tab.Eval(ctx, `document.querySelector("#btn-screen").click()`, nil); err != nil {
				t.Fatal(err)
			}
			if err := p.tab.WaitFor(ctx, `document.querySelector("#btn-screen").getAttribute("aria-pressed") === "false"`); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second)
	}
	// Cameras off and on again (replaceTrack under the same transform).
	for _, on := range []string{"false", "true"} {
		for _, p := range []*participant{ann, fay} {
			if err := p.tab.Eval(ctx, `document.querySelector("#btn-camera").click()`, nil); err != nil {
				t.Fatal(err)
			}
			if err := p.tab.WaitFor(ctx, `document.querySelector("#btn-camera").getAttribute("aria-pressed") === "`+on+`"`); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitSameColour(ctx, t, ann, fay, "camera")
	waitSameColour(ctx, t, fay, ann, "camera")
}
