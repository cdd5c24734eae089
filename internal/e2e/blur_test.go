package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// figureCameraJS replaces the camera (getUserMedia's video) with a canvas that shows
// a person-like figure — hair, face with eyes and mouth, neck, a striped shirt — in
// front of a fine checkerboard, 640×360 at 15 frames a second. Chromium's fake camera
// shows no person, so the segmentation model would see only background. The
// microphone stays the browser's own fake. window.__figureScene(ctx) draws the same
// picture, for the test's reference statistics.
const figureCameraJS = `(() => {
  const md = navigator.mediaDevices;
  if (!md) return;
  const W = 640, H = 360;
  function scene(ctx) {
    for (let y = 0; y < H; y += 8) for (let x = 0; x < W; x += 8) {
      ctx.fillStyle = ((x + y) / 8) % 2 ? '#d8d0b0' : '#405060';
      ctx.fillRect(x, y, 8, 8);
    }
    const s = H / 480, cx = W / 2;
    const ellipse = (x, y, rx, ry, from, to) => { ctx.beginPath(); ctx.ellipse(x, y, rx, ry, 0, from, to); ctx.fill(); };
    // shirt with vertical stripes (texture the blur must keep)
    ctx.save();
    ctx.beginPath(); ctx.ellipse(cx, H * 1.02, 205 * s, 0.36 * H, 0, Math.PI, 2 * Math.PI); ctx.clip();
    for (let x = 0; x < W; x += 12) { ctx.fillStyle = (x / 12) % 2 ? '#1f3a8a' : '#5b7fd6'; ctx.fillRect(x, 0, 12, H); }
    ctx.restore();
    ctx.fillStyle = '#d9a07a'; ctx.fillRect(cx - 32 * s, H * 0.52, 64 * s, H * 0.16);
    ctx.fillStyle = '#3b2414'; ellipse(cx, H * 0.36, 80 * s, H * 0.2, 0, 2 * Math.PI);
    ctx.fillStyle = '#e0ac88'; ellipse(cx, H * 0.4, 70 * s, H * 0.18, 0, 2 * Math.PI);
    ctx.fillStyle = '#222';
    ellipse(cx - 26 * s, H * 0.37, 8 * s, H * 0.014, 0, 2 * Math.PI);
    ellipse(cx + 26 * s, H * 0.37, 8 * s, H * 0.014, 0, 2 * Math.PI);
    ctx.fillStyle = '#a04040'; ctx.fillRect(cx - 20 * s, H * 0.47, 40 * s, H * 0.012);
  }
  window.__figureScene = scene;
  const real = md.getUserMedia.bind(md);
  md.getUserMedia = async (c) => {
    const tracks = [];
    if (c && c.audio) tracks.push(...(await real({ audio: c.audio })).getAudioTracks());
    if (c && c.video) {
      const canvas = document.createElement('canvas');
      canvas.width = W; canvas.height = H;
      const ctx = canvas.getContext('2d');
      scene(ctx);
      const track = canvas.captureStream(15).getVideoTracks()[0];
      const timer = setInterval(() => scene(ctx), 66);
      const stop = track.stop.bind(track);
      track.stop = () => { clearInterval(timer); stop(); };
      tracks.push(track);
    }
    return new MediaStream(tracks);
  };
})()`

// pictureStatsJS returns a JS function (source) → stats of a picture (a <video> or
// the reference scene) scaled to 320×180: the high-frequency energy (mean absolute
// luma step to the right and down neighbour) of the background (two strips beside the
// figure) and of the foreground (the middle of the striped shirt), and the mean colour
// of the foreground.
const pictureStatsJS = `((src) => {
  const W = 320, H = 180;
  const c = document.createElement('canvas');
  c.width = W; c.height = H;
  const x = c.getContext('2d');
  x.drawImage(src, 0, 0, W, H);
  const d = x.getImageData(0, 0, W, H).data;
  const L = (i, j) => { const k = (j * W + i) * 4; return 0.299 * d[k] + 0.587 * d[k + 1] + 0.114 * d[k + 2]; };
  const energy = (rects) => {
    let sum = 0, n = 0;
    for (const [x0, y0, x1, y1] of rects) for (let j = y0; j < y1; j++) for (let i = x0; i < x1; i++) {
      sum += Math.abs(L(i + 1, j) - L(i, j)) + Math.abs(L(i, j + 1) - L(i, j)); n++;
    }
    return sum / n;
  };
  const mean = ([x0, y0, x1, y1]) => {
    const m = [0, 0, 0]; let n = 0;
    for (let j = y0; j < y1; j++) for (let i = x0; i < x1; i++) { const k = (j * W + i) * 4; m[0] += d[k]; m[1] += d[k + 1]; m[2] += d[k + 2]; n++; }
    return m.map((v) => v / n);
  };
  const fg = [135, 145, 185, 172];
  return { bg: energy([[8, 8, 70, 100], [250, 8, 312, 100]]), fg: energy([fg]), fgMean: mean(fg) };
})`

// pictureStats are the statistics of pictureStatsJS.
type pictureStats struct {
	BG     float64    `json:"bg"`
	FG     float64    `json:"fg"`
	FGMean [3]float64 `json:"fgMean"`
}

func (p pictureStats) fgDistance(o pictureStats) float64 {
	var d float64
	for i := range p.FGMean {
		d += (p.FGMean[i] - o.FGMean[i]) * (p.FGMean[i] - o.FGMean[i])
	}
	return math.Sqrt(d)
}

// sourceStats draws the figure camera's scene in tab (which has figureCameraJS) and
// returns its statistics.
func sourceStats(ctx context.Context, t *testing.T, tab browsertest.Tab) pictureStats {
	t.Helper()
	var s pictureStats
	js := `(() => { const c = document.createElement('canvas'); c.width = 640; c.height = 360;
		window.__figureScene(c.getContext('2d')); return (` + pictureStatsJS + `)(c); })()`
	if err := tab.Eval(ctx, js, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitPicture polls the picture of the <video> sel in tab until ok(stats) holds, and
// returns the stats it accepted. On timeout it fails with the last stats seen.
func waitPicture(ctx context.Context, t *testing.T, tab browsertest.Tab, sel, what string, ok func(pictureStats) bool) pictureStats {
	t.Helper()
	q, _ := json.Marshal(sel)
	js := fmt.Sprintf(`(() => { const v = document.querySelector(%s);
		if (!v || !v.videoWidth) return null; return (%s)(v); })()`, q, pictureStatsJS)
	var last *pictureStats
	for {
		var s *pictureStats
		if err := tab.Eval(ctx, js, &s); err == nil && s != nil {
			last = s
			if ok(*s) {
				return *s
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never came: last picture %+v", what, last)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// blurredVs / sharpVs judge a picture against the source scene: blurred means the
// background lost most of its fine detail while the foreground kept its stripes and
// colours; sharp means the background kept its detail (blur off).
func blurredVs(src pictureStats) func(pictureStats) bool {
	return func(s pictureStats) bool {
		return s.BG < 0.25*src.BG && s.FG > 0.5*src.FG && s.fgDistance(src) < 40
	}
}

func sharpVs(src pictureStats) func(pictureStats) bool {
	return func(s pictureStats) bool { return s.BG > 0.6*src.BG }
}

// pressed reports the aria-pressed state of a toggle button as a person's screen
// reader would.
func pressedJS(sel string) string {
	q, _ := json.Marshal(sel)
	return fmt.Sprintf(`document.querySelector(%s).getAttribute("aria-pressed")`, q)
}

// click clicks the element selected by sel once it is there, enabled and not busy.
func click(ctx context.Context, t *testing.T, tab browsertest.Tab, sel string) {
	t.Helper()
	q, _ := json.Marshal(sel)
	if err := tab.WaitFor(ctx, fmt.Sprintf(`(() => { const b = document.querySelector(%s);
		if (!b || b.disabled || b.getAttribute("aria-busy") === "true") return false; b.click(); return true; })()`, q)); err != nil {
		t.Fatalf("could not click %s: %v", sel, err)
	}
}

// TestBackgroundBlur: Bea (Chromium) turns background blur on in the pre-join screen;
// after a reload the choice is still on and her preview is blurred. Fay (Firefox, with
// WebGL: browsertest's Options.WebGL) turns blur on in her pre-join screen too. In the
// meeting, what Fay and Ann (Chromium) decode of Bea's camera, and what Ann decodes of
// Fay's, has the background blurred (its fine checkerboard gone) and the person kept
// (striped shirt sharp, colours right), through the end-to-end encryption. Bea and Fay
// turn blur off in the meeting: the background comes back sharp, which also shows that
// the check can fail. No browser storage beyond the one preference is used.
func TestBackgroundBlur(t *testing.T) {
	browsertest.Shared(t, browsertest.KindChromium)
	// Fay's Firefox needs WebGL for the segmentation runtime, which the shared headless
	// Firefox lacks (TestBlurUnavailableKeepsCameraOff relies on that).
	firefox := browsertest.LaunchWith(t, browsertest.KindFirefox, browsertest.Options{WebGL: true})
	srv := startServer(t)
	meeting := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()

	tab, err := browsertest.Shared(t, browsertest.KindChromium).NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := browsertest.OnNewDocument(ctx, tab, figureCameraJS); err != nil {
		t.Fatal(err)
	}
	url := srv.pageURL(meeting, meeting.fragment())
	if err := tab.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	src := sourceStats(ctx, t, tab)
	t.Logf("source scene: %+v", src)

	// Off by default: the preview shows the camera as it is.
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "prejoin" && `+pressedJS("#prejoin-blur")+` === "false"`); err != nil {
		t.Fatal(err)
	}
	waitPicture(ctx, t, tab, "#prejoin-video", "a sharp preview before blur is on", sharpVs(src))
	click(ctx, t, tab, "#prejoin-blur")
	if err := tab.WaitFor(ctx, pressedJS("#prejoin-blur")+` === "true"`); err != nil {
		t.Fatal(err)
	}
	got := waitPicture(ctx, t, tab, "#prejoin-video", "a blurred preview", blurredVs(src))
	t.Logf("blurred preview: %+v", got)

	// Remembered on the device: after a reload blur is still on, and working. (The page
	// is left first: navigating to the same URL with a fragment would not reload it.)
	for _, u := range []string{"about:blank", url} {
		if err := tab.Navigate(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "prejoin" && `+pressedJS("#prejoin-blur")+` === "true"`); err != nil {
		t.Fatalf("blur not remembered after a reload: %v", err)
	}
	waitPicture(ctx, t, tab, "#prejoin-video", "a blurred preview after the reload", blurredVs(src))

	knock(ctx, t, tab, "Bea")
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "joined" && !!window.conclave.participantId && `+pressedJS("#btn-blur")+` === "true"`); err != nil {
		t.Fatalf("Bea did not join with blur on: %v", err)
	}
	bea := &participant{name: "Bea", kind: browsertest.KindChromium, tab: tab}
	if err := tab.Eval(ctx, `window.conclave.participantId`, &bea.id); err != nil {
		t.Fatal(err)
	}
	fay := joinBlurredFirefox(ctx, t, firefox, url, "Fay", src)
	// Ann only receives: her camera stays off (cameraOffURL), and so does the blur that
	// Bea's choice, remembered in the shared Chromium, would run on it.
	ann := joinURL(ctx, t, browsertest.KindChromium, srv.cameraOffURL(meeting, meeting.fragment()), "Ann", false)

	for _, recv := range []*participant{fay, ann} {
		got := waitPicture(ctx, t, recv.tab, tileSel(bea.id, "camera"), recv.name+" decoding Bea's blurred camera", blurredVs(src))
		t.Logf("%s (%s) decodes Bea's camera: %+v", recv.name, recv.kind, got)
	}
	got = waitPicture(ctx, t, ann.tab, tileSel(fay.id, "camera"), "Ann decoding Fay's blurred camera", blurredVs(src))
	t.Logf("Ann (chromium) decodes Fay's (firefox) camera: %+v", got)
	// The blurred tracks went through the encrypting senders like any camera.
	for _, sender := range []*participant{bea, fay} {
		if err := sender.tab.WaitFor(ctx, `window.conclave.e2ee.enabled && window.conclave.e2ee.verified().length === 2`); err != nil {
			t.Fatalf("%s is not encrypting to both: %v", sender.name, err)
		}
	}

	// Blur off in the meeting: the same receivers get the sharp background back.
	click(ctx, t, tab, "#btn-blur")
	if err := tab.WaitFor(ctx, pressedJS("#btn-blur")+` === "false"`); err != nil {
		t.Fatal(err)
	}
	for _, recv := range []*participant{fay, ann} {
		got := waitPicture(ctx, t, recv.tab, tileSel(bea.id, "camera"), recv.name+" decoding Bea's camera without blur", sharpVs(src))
		t.Logf("%s (%s) decodes Bea's camera without blur: %+v", recv.name, recv.kind, got)
	}
	click(ctx, t, fay.tab, "#btn-blur")
	if err := fay.tab.WaitFor(ctx, pressedJS("#btn-blur")+` === "false"`); err != nil {
		t.Fatal(err)
	}
	got = waitPicture(ctx, t, ann.tab, tileSel(fay.id, "camera"), "Ann decoding Fay's camera without blur", sharpVs(src))
	t.Logf("Ann decodes Fay's camera without blur: %+v", got)
	// The runtime left nothing behind in the browser's storage (no IndexedDB file system).
	var dbs []any
	if err := tab.Eval(ctx, `indexedDB.databases()`, &dbs); err != nil {
		t.Fatal(err)
	}
	if len(dbs) != 0 {
		t.Errorf("IndexedDB databases after blur: %v", dbs)
	}
}

// joinBlurredFirefox opens url in a tab of firefox (a browser with WebGL) whose camera
// is the figure scene, turns blur on in the pre-join screen, waits for a blurred
// preview and joins as name.
func joinBlurredFirefox(ctx context.Context, t *testing.T, firefox browsertest.Browser, url, name string, src pictureStats) *participant {
	t.Helper()
	tab, err := firefox.NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := browsertest.OnNewDocument(ctx, tab, figureCameraJS); err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "prejoin" && `+pressedJS("#prejoin-blur")+` === "false"`); err != nil {
		t.Fatal(err)
	}
	click(ctx, t, tab, "#prejoin-blur")
	got := waitPicture(ctx, t, tab, "#prejoin-video", name+"'s blurred preview in Firefox", blurredVs(src))
	t.Logf("%s's blurred preview (firefox): %+v", name, got)
	knock(ctx, t, tab, name)
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "joined" && !!window.conclave.participantId && `+pressedJS("#btn-blur")+` === "true"`); err != nil {
		t.Fatalf("%s did not join with blur on: %v", name, err)
	}
	p := &participant{name: name, kind: browsertest.KindFirefox, tab: tab}
	if err := tab.Eval(ctx, `window.conclave.participantId`, &p.id); err != nil {
		t.Fatal(err)
	}
	return p
}

// recordToastsJS keeps the text of every toast shown from now on in window.__toasts
// (a toast goes away after a few seconds; the test must not race it).
const recordToastsJS = `(() => {
  window.__toasts = [];
  new MutationObserver((list) => { for (const m of list) for (const n of m.addedNodes) window.__toasts.push(n.textContent); })
    .observe(document.getElementById("toasts"), { childList: true, subtree: true }); // the toasts are in its live regions
  return true;
})()`

const blurUnavailable = "Background blur could not be started in this browser, so your camera stays off."

// TestBlurUnavailableKeepsCameraOff: in headless Firefox the blur runtime cannot run
// (no WebGL there). Fay turns blur on in the pre-join screen: she is told, her camera
// goes off and stays off, and in the meeting Ann (Chromium) sees Fay without video and
// Fay's browser sends no camera packet. Turning the camera on with blur still on is
// refused with the same message. Only after Fay turns blur off and the camera on does
// Ann see her camera; switching blur on again mid-meeting turns the camera off again.
func TestBlurUnavailableKeepsCameraOff(t *testing.T) {
	t.Parallel()
	srv, meeting := encryptedMeeting(t)
	ctx, cancel := testContext()
	defer cancel()

	tab, err := browsertest.Shared(t, browsertest.KindFirefox).NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := tab.Navigate(ctx, srv.pageURL(meeting, meeting.fragment())); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "prejoin" && `+pressedJS("#prejoin-camera")+` === "true" && `+pressedJS("#prejoin-blur")+` === "false"`); err != nil {
		t.Fatal(err)
	}
	click(ctx, t, tab, "#prejoin-blur")
	msg, _ := json.Marshal(blurUnavailable)
	if err := tab.WaitFor(ctx, `(() => { const e = document.querySelector("#prejoin-media-error");
		return !e.hidden && e.textContent.includes(`+string(msg)+`) && `+pressedJS("#prejoin-camera")+` === "false" &&
			`+pressedJS("#prejoin-blur")+` === "true" && !document.querySelector("#prejoin-video").srcObject; })()`); err != nil {
		t.Fatalf("Fay was not told that blur is unavailable, or her camera stayed on: %v", err)
	}

	knock(ctx, t, tab, "Fay")
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "joined" && !!window.conclave.participantId`); err != nil {
		t.Fatal(err)
	}
	fay := &participant{name: "Fay", kind: browsertest.KindFirefox, tab: tab}
	if err := tab.Eval(ctx, `window.conclave.participantId`, &fay.id); err != nil {
		t.Fatal(err)
	}
	ann := joinURL(ctx, t, browsertest.KindChromium, srv.cameraOffURL(meeting, meeting.fragment()), "Ann", false)
	faysTile := fmt.Sprintf(`.tile[data-participant-id="%s"][data-source="camera"]`, fay.id)
	if err := ann.tab.WaitFor(ctx, `document.querySelector('`+faysTile+`')?.dataset.video === "off"`); err != nil {
		t.Fatalf("Ann does not see Fay with her camera off: %v", err)
	}
	// Fay's browser is sending no camera at all (the microphone flows meanwhile).
	sentNoCamera := `window.conclave.stats().then((s) => s.publish.microphone > 0 && !s.publish.camera)`
	if err := tab.WaitFor(ctx, sentNoCamera); err != nil {
		t.Fatalf("Fay sends camera packets with blur unavailable: %v", err)
	}

	// Camera on with blur still on: refused, told again, still nothing sent.
	if err := tab.Eval(ctx, recordToastsJS, nil); err != nil {
		t.Fatal(err)
	}
	click(ctx, t, tab, "#btn-camera")
	if err := tab.WaitFor(ctx, `window.__toasts.some((s) => s.includes(`+string(msg)+`)) && `+pressedJS("#btn-camera")+` === "false" && `+pressedJS("#btn-blur")+` === "true"`); err != nil {
		t.Fatalf("turning the camera on with blur unavailable: %v", err)
	}
	if err := tab.WaitFor(ctx, sentNoCamera); err != nil {
		t.Fatalf("Fay sends camera packets with blur unavailable: %v", err)
	}
	if err := ann.tab.WaitFor(ctx, `document.querySelector('`+faysTile+`')?.dataset.video === "off"`); err != nil {
		t.Fatal(err)
	}

	// Fay decides: blur off, camera on. Now Ann sees her camera.
	click(ctx, t, tab, "#btn-blur")
	if err := tab.WaitFor(ctx, pressedJS("#btn-blur")+` === "false"`); err != nil {
		t.Fatal(err)
	}
	click(ctx, t, tab, "#btn-camera")
	if err := tab.WaitFor(ctx, pressedJS("#btn-camera")+` === "true"`); err != nil {
		t.Fatal(err)
	}
	waitSameColour(ctx, t, ann, fay, "camera")

	// Blur on again with the camera on, mid-meeting: the camera goes off, Fay is told.
	if err := tab.Eval(ctx, recordToastsJS, nil); err != nil {
		t.Fatal(err)
	}
	click(ctx, t, tab, "#btn-blur")
	if err := tab.WaitFor(ctx, `window.__toasts.some((s) => s.includes(`+string(msg)+`)) && `+pressedJS("#btn-camera")+` === "false" && `+pressedJS("#btn-blur")+` === "true"`); err != nil {
		t.Fatalf("switching blur on mid-meeting with blur unavailable: %v", err)
	}
	if err := ann.tab.WaitFor(ctx, `document.querySelector('`+faysTile+`')?.dataset.video === "off"`); err != nil {
		t.Fatalf("Ann still sees Fay's camera after blur failed: %v", err)
	}
}
