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
	// Shown and ShownHeight are the size this page reports for the tile in `view`
	// (0: not shown).
	Shown       int `json:"shown"`
	ShownHeight int `json:"shownHeight"`
}

func camViewJS(id string) string {
	return fmt.Sprintf(`window.conclave.stats().then((s) => {
		const v = s.video.find((x) => x.participantId === %[1]q && x.source === "camera");
		const a = s.audio.find((x) => x.participantId === %[1]q);
		const shown = (s.view || []).find((x) => x.participantId === %[1]q && x.source === "camera");
		return { found: !!v, width: v ? v.width : 0, frames: v ? v.framesDecoded : 0, packets: v ? v.packetsReceived : 0,
			audio: a ? a.packetsReceived : 0, shown: shown ? shown.width : 0, shownHeight: shown ? shown.height : 0 };
	})`, id)
}

// layersJS: the publisher's own camera layers as its browser sends them.
const layersJS = `window.conclave.stats().then((s) => (s.publishLayers || {}).camera || {})`

type sentLayer struct {
	PacketsSent int  `json:"packetsSent"`
	Width       int  `json:"width"`
	Active      bool `json:"active"`
}

// waitCam polls recv's view of sender's camera, with the layers sender's browser sends
// at about that moment, until ok accepts them.
func waitCam(ctx context.Context, t *testing.T, recv, sender *participant, what string, ok func(camView, map[string]sentLayer) bool) camView {
	t.Helper()
	// The last readings that worked: a failure names them, not the zero values of
	// the reading that met the deadline.
	var last camView
	var lastLayers map[string]sentLayer
	var lastErr error
	for {
		var v camView
		var layers map[string]sentLayer
		err := recv.tab.Eval(ctx, camViewJS(sender.id), &v)
		if err == nil {
			last = v
			err = sender.tab.Eval(ctx, layersJS, &layers)
		}
		if err == nil {
			lastLayers = layers
			if ok(v, layers) {
				return v
			}
		} else if ctx.Err() == nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s (%s): %s; last read %+v; %s's layers %+v (last error: %v)", recv.name, recv.kind, what, last, sender.name, lastLayers, lastErr)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// topLayer is the largest layer a publisher's browser sends (packets sent, a size
// known): what a subscriber without limits should get. A browser short of CPU or
// uplink stops its upper layers, whatever the server asks.
func topLayer(l map[string]sentLayer) sentLayer {
	var top sentLayer
	for _, x := range l {
		if x.PacketsSent > 0 && x.Width > top.Width {
			top = x
		}
	}
	return top
}

// readCam reads recv's view of sender's camera once.
func readCam(ctx context.Context, t *testing.T, recv, sender *participant) camView {
	t.Helper()
	return waitCam(ctx, t, recv, sender, "cannot read the statistics", func(camView, map[string]sentLayer) bool { return true })
}

// waitLayers polls the publisher's own camera layers until ok accepts them.
func waitLayers(ctx context.Context, t *testing.T, p *participant, what string, ok func(map[string]sentLayer) bool) map[string]sentLayer {
	t.Helper()
	var last map[string]sentLayer
	var lastErr error
	for {
		var layers map[string]sentLayer
		err := p.tab.Eval(ctx, layersJS, &layers)
		if err == nil && ok(layers) {
			return layers
		}
		if err == nil {
			last = layers // the one read as the deadline passes fails: keep the last read
		} else if ctx.Err() == nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s (%s): %s; last layers %+v (nil: none read; last error %v); the page: %s", p.name, p.kind, what, last, lastErr, pageState(p))
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

// TestSimulcastFollowsWhatIsShown: Fia publishes her camera from Firefox (three layers,
// end-to-end encrypted) and Cole watches in Chromium. In Cole's large grid her tile is
// large and he decodes her largest layer; when he narrows his window to a phone's and
// pins his own tile, her camera moves to a thin strip and he decodes a smaller layer,
// and her browser stops sending the full layer nobody needs. When his tab goes to the
// background his page shows nothing, the server forwards no video of hers (his packet
// count for her camera stops) while her voice still comes, and her browser sends no
// camera layer at all; back in the foreground her video comes back.
func TestSimulcastFollowsWhatIsShown(t *testing.T) {
	t.Parallel()
	srv, m := encryptedMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	fia := joinTab(ctx, t, srv, browsertest.KindFirefox, m, "Fia", false)
	cole := joinURL(ctx, t, browsertest.KindChromium, srv.cameraOffURL(m, m.fragment()), "Cole", false)
	if err := browsertest.SetViewport(ctx, cole.tab, 1280, 720); err != nil {
		t.Fatal(err)
	}
	waitOK(ctx, t, cole, `window.innerWidth === 1280`, "the viewport did not apply")

	// Large tile: the largest layer. (Fia's browser sends 640, 320 and 160 pixels wide
	// from its 640×480 camera, or half that while it is short of CPU; the tile is about
	// 620 device pixels wide, more than any layer, so the largest one fits it best.)
	waitLayers(ctx, t, fia, "Firefox does not send three camera layers", func(l map[string]sentLayer) bool {
		return l["q"].PacketsSent > 0 && l["h"].PacketsSent > 0 && l["f"].PacketsSent > 0
	})
	big := waitCam(ctx, t, cole, fia, "does not decode Fia's largest layer in a large tile", func(v camView, l map[string]sentLayer) bool {
		return v.Shown >= 500 && v.Width > 0 && v.Width == l["f"].Width && l["f"].Width > l["h"].Width
	})
	waitSameColour(ctx, t, cole, fia, "camera")

	// Small tile: Cole turns his phone-sized window and pins himself; Fia goes to the
	// thin strip below (about 128×72 pixels), which a smaller layer fills. (Smaller than
	// the layer decoded in the large tile: by now her browser may have stopped sending
	// the full layer, and a stopped layer reports no width.)
	if err := browsertest.SetViewport(ctx, cole.tab, 390, 844); err != nil {
		t.Fatal(err)
	}
	evalOK(ctx, t, cole, `(() => { document.querySelector('.tile[data-self="true"][data-source="camera"] .tile-pin').click(); return true; })()`, nil)
	small := waitCam(ctx, t, cole, fia, "does not decode a smaller layer of Fia in the strip", func(v camView, l map[string]sentLayer) bool {
		return v.Shown > 0 && v.Shown < 200 && v.Width > 0 && v.Width < big.Width && v.Frames > big.Frames
	})
	waitLayers(ctx, t, fia, "Fia's browser still sends the full layer nobody shows", func(l map[string]sentLayer) bool {
		return !l["f"].Active && (l["q"].Active || l["h"].Active)
	})
	waitSameColour(ctx, t, cole, fia, "camera")

	// Background tab: nothing shown, no video forwarded, audio still comes.
	evalOK(ctx, t, cole, hideTabJS, nil)
	waitCam(ctx, t, cole, fia, "still reports Fia's tile as shown in a hidden tab", func(v camView, _ map[string]sentLayer) bool { return v.Shown == 0 })
	stillFor(ctx, t, "Cole's packets of Fia's camera", 3*time.Second, func() int { return readCam(ctx, t, cole, fia).Packets })
	audio := readCam(ctx, t, cole, fia).Audio
	waitCam(ctx, t, cole, fia, "no longer receives Fia's audio", func(v camView, _ map[string]sentLayer) bool { return v.Audio > audio })
	waitLayers(ctx, t, fia, "Fia's browser still sends camera layers nobody shows", func(l map[string]sentLayer) bool {
		return !l["q"].Active && !l["h"].Active && !l["f"].Active
	})

	// Foreground again: her video comes back, in the strip's size.
	evalOK(ctx, t, cole, showTabJS, nil)
	hidden := readCam(ctx, t, cole, fia)
	waitCam(ctx, t, cole, fia, "does not receive Fia's video again after the tab came back", func(v camView, _ map[string]sentLayer) bool {
		return v.Shown == small.Shown && v.Packets > hidden.Packets && v.Frames > hidden.Frames
	})
	waitSameColour(ctx, t, cole, fia, "camera")
}

// pageStateJS is what a failure report says of a page: where its session stands
// (window.conclave.debug()), its camera button, and whether its stats answer within
// three seconds (a stats call that never resolves shows as "no answer").
const pageStateJS = `(async () => {
	const stats = await Promise.race([
		window.conclave.stats().then((s) => ({ publish: s.publish, layers: s.publishLayers || null }), (e) => "failed: " + e),
		new Promise((r) => setTimeout(() => r("no answer"), 3000)),
	]);
	const cam = document.querySelector("#btn-camera");
	return JSON.stringify({ session: window.conclave.debug(), state: window.conclave.state,
		camera: cam ? cam.getAttribute("aria-pressed") : null, mic: document.querySelector("#btn-mic")?.getAttribute("aria-pressed") ?? null,
		pushToTalk: document.body.dataset.pushToTalk || "", hasFocus: document.hasFocus(), stats });
})()`

// pageState reads pageStateJS in p's tab with a context of its own (the test's may be
// spent when it fails), or says why it could not.
func pageState(p *participant) string {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var s string
	if err := p.tab.Eval(ctx, pageStateJS, &s); err != nil {
		return "unreadable: " + err.Error()
	}
	return s
}
