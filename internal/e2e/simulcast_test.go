package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// camView is what a subscriber's page knows about one remote camera: the decoded frame
// width of its video, its inbound packets, and the size the page reports as shown.
type camView struct {
	Found   bool `json:"found"`
	Width   int  `json:"width"`
	Frames  int  `json:"frames"`
	Packets int  `json:"packets"`
	Audio   int  `json:"audio"`
	// Shown is the width this page reports for the tile in `view` (0: not shown).
	Shown int `json:"shown"`
}

func camViewJS(id string) string {
	return fmt.Sprintf(`window.conclave.stats().then((s) => {
		const v = s.video.find((x) => x.participantId === %[1]q && x.source === "camera");
		const a = s.audio.find((x) => x.participantId === %[1]q);
		const shown = (s.view || []).find((x) => x.participantId === %[1]q && x.source === "camera");
		return { found: !!v, width: v ? v.width : 0, frames: v ? v.framesDecoded : 0, packets: v ? v.packetsReceived : 0,
			audio: a ? a.packetsReceived : 0, shown: shown ? shown.width : 0 };
	})`, id)
}

// layersJS: the publisher's own camera layers as its browser sends them.
const layersJS = `window.conclave.stats().then((s) => (s.publishLayers || {}).camera || {})`

type sentLayer struct {
	PacketsSent int  `json:"packetsSent"`
	Width       int  `json:"width"`
	Active      bool `json:"active"`
}

// waitCam polls recv's view of sender's camera until ok accepts it.
func waitCam(ctx context.Context, t *testing.T, recv, sender *participant, what string, ok func(camView) bool) camView {
	t.Helper()
	var last camView
	for {
		var v camView
		err := recv.tab.Eval(ctx, camViewJS(sender.id), &v)
		if err == nil && ok(v) {
			return v
		}
		last = v
		select {
		case <-ctx.Done():
			var layers map[string]sentLayer
			_ = sender.tab.Eval(context.Background(), layersJS, &layers)
			t.Fatalf("%s (%s): %s; last %+v (%v); %s's layers %+v", recv.name, recv.kind, what, last, err, sender.name, layers)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitLayers polls the publisher's own camera layers until ok accepts them.
func waitLayers(ctx context.Context, t *testing.T, p *participant, what string, ok func(map[string]sentLayer) bool) map[string]sentLayer {
	t.Helper()
	var last map[string]sentLayer
	for {
		var layers map[string]sentLayer
		if err := p.tab.Eval(ctx, layersJS, &layers); err == nil && ok(layers) {
			return layers
		}
		last = layers
		select {
		case <-ctx.Done():
			t.Fatalf("%s (%s): %s; last layers %+v", p.name, p.kind, what, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// stillFor reads a counter, waits gap, reads it again, and repeats until two readings
// are equal: the counter stopped. Nothing is judged by how long that took.
func stillFor(ctx context.Context, t *testing.T, what string, gap time.Duration, read func() int) {
	t.Helper()
	prev := read()
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: still growing (last %d)", what, prev)
		case <-time.After(gap):
		}
		now := read()
		if now == prev {
			return
		}
		prev = now
	}
}

// hideTabJS makes the page's document report itself hidden, as when the person switched
// to another tab (headless Chromium keeps every tab in the foreground, and a test tab has
// no other way to go to the background); showTabJS undoes it. The page hears the same
// visibilitychange event it would hear from the browser.
const hideTabJS = `(() => {
	Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
	Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
	document.dispatchEvent(new Event("visibilitychange"));
	return document.visibilityState;
})()`

const showTabJS = `(() => {
	delete document.visibilityState;
	delete document.hidden;
	document.dispatchEvent(new Event("visibilitychange"));
	return document.visibilityState;
})()`

// TestSimulcastFollowsWhatIsShown: Fia publishes her camera from Firefox (three layers
// at 640×480, end-to-end encrypted) and Cole watches in Chromium. In Cole's grid her
// tile is large and he decodes her full 640-pixel layer; when he pins his own tile her
// camera moves to the filmstrip and he decodes a smaller layer, and her browser stops
// sending the full layer nobody needs. When his tab goes to the background his page
// shows nothing, the server forwards no video of hers (his packet count for her camera
// stops) while her voice still comes, and her browser sends no camera layer at all;
// back in the foreground her video comes back.
func TestSimulcastFollowsWhatIsShown(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	m := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	fia := joinTab(ctx, t, srv, browsertest.KindFirefox, m, "Fia", false)
	cole := joinTab(ctx, t, srv, browsertest.KindChromium, m, "Cole", false)
	if err := browsertest.SetViewport(ctx, cole.tab, 1280, 720); err != nil {
		t.Fatal(err)
	}
	waitOK(ctx, t, cole, `window.innerWidth === 1280`, "the viewport did not apply")

	// Large tile: the full layer.
	waitLayers(ctx, t, fia, "Firefox does not send three camera layers", func(l map[string]sentLayer) bool {
		return l["q"].PacketsSent > 0 && l["h"].PacketsSent > 0 && l["f"].PacketsSent > 0
	})
	big := waitCam(ctx, t, cole, fia, "does not decode Fia's full layer in a large tile", func(v camView) bool {
		return v.Shown >= 500 && v.Width == 640
	})
	waitSameColour(ctx, t, cole, fia, "camera")

	// Small tile: Cole pins himself, Fia goes to the filmstrip.
	evalOK(ctx, t, cole, `(() => { document.querySelector('.tile[data-self="true"][data-source="camera"] .tile-pin').click(); return true; })()`, nil)
	small := waitCam(ctx, t, cole, fia, "does not decode a smaller layer of Fia in the filmstrip", func(v camView) bool {
		return v.Shown > 0 && v.Shown < big.Shown/2 && v.Width > 0 && v.Width < 640 && v.Frames > big.Frames
	})
	waitLayers(ctx, t, fia, "Fia's browser still sends the full layer nobody shows", func(l map[string]sentLayer) bool {
		return !l["f"].Active && l["h"].Active
	})
	waitSameColour(ctx, t, cole, fia, "camera")

	// Background tab: nothing shown, no video forwarded, audio still comes.
	evalOK(ctx, t, cole, hideTabJS, nil)
	waitCam(ctx, t, cole, fia, "still reports Fia's tile as shown in a hidden tab", func(v camView) bool { return v.Shown == 0 })
	stillFor(ctx, t, "Cole's packets of Fia's camera", 3*time.Second, func() int {
		return waitCam(ctx, t, cole, fia, "", func(camView) bool { return true }).Packets
	})
	audio := waitCam(ctx, t, cole, fia, "", func(camView) bool { return true }).Audio
	waitCam(ctx, t, cole, fia, "no longer receives Fia's audio", func(v camView) bool { return v.Audio > audio })
	waitLayers(ctx, t, fia, "Fia's browser still sends camera layers nobody shows", func(l map[string]sentLayer) bool {
		return !l["q"].Active && !l["h"].Active && !l["f"].Active
	})

	// Foreground again: her video comes back, in the filmstrip's size.
	evalOK(ctx, t, cole, showTabJS, nil)
	hidden := waitCam(ctx, t, cole, fia, "", func(camView) bool { return true })
	waitCam(ctx, t, cole, fia, "does not receive Fia's video again after the tab came back", func(v camView) bool {
		return v.Shown == small.Shown && v.Packets > hidden.Packets && v.Frames > hidden.Frames
	})
	waitSameColour(ctx, t, cole, fia, "camera")
}
