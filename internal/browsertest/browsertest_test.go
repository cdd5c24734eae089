package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestMain(m *testing.M) { Main(m) }

const testTimeout = 30 * time.Second

// testPage has two <video> elements and small WebRTC helpers:
// loopback() calls inside the page (pcA sends the camera to pcB); offer(),
// answer(offer) and accept(answer) make one side of a call whose SDP goes
// through Go (non-trickle: each waits for ICE gathering to complete).
const testPage = `<!doctype html>
<meta charset="utf-8">
<title>browsertest</title>
<video id="local" autoplay muted playsinline></video>
<video id="remote" autoplay muted playsinline></video>
<script>
window.errors = [];
async function camera() {
  const s = await navigator.mediaDevices.getUserMedia({video: true, audio: false});
  document.getElementById("local").srcObject = s;
  return s;
}
function showRemote(pc) {
  pc.addEventListener("track", e => {
    const v = document.getElementById("remote");
    const s = e.streams[0] || new MediaStream([e.track]);
    if (v.srcObject !== s) v.srcObject = s;
  });
}
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise(resolve => pc.addEventListener("icegatheringstatechange", () => {
    if (pc.iceGatheringState === "complete") resolve();
  }));
}
async function loopback() {
  const s = await camera();
  const a = window.pcA = new RTCPeerConnection(), b = window.pcB = new RTCPeerConnection();
  const relay = (to) => (e) => e.candidate && to.addIceCandidate(e.candidate).catch(err => errors.push(String(err)));
  a.onicecandidate = relay(b);
  b.onicecandidate = relay(a);
  showRemote(b);
  s.getTracks().forEach(t => a.addTrack(t, s));
  await a.setLocalDescription();
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription();
  await a.setRemoteDescription(b.localDescription);
  return true;
}
async function offer() {
  const s = await camera();
  const pc = window.pc = new RTCPeerConnection();
  showRemote(pc);
  s.getTracks().forEach(t => pc.addTrack(t, s));
  await pc.setLocalDescription();
  await gathered(pc);
  return pc.localDescription.toJSON();
}
async function answer(desc) {
  const s = await camera();
  const pc = window.pc = new RTCPeerConnection();
  showRemote(pc);
  await pc.setRemoteDescription(desc);
  s.getTracks().forEach(t => pc.addTrack(t, s));
  await pc.setLocalDescription();
  await gathered(pc);
  return pc.localDescription.toJSON();
}
async function accept(desc) {
  await window.pc.setRemoteDescription(desc);
  return true;
}
</script>
`

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// openTab opens a tab of the shared browser of kind k, closed at the end of
// t, and loads url in it unless url is empty.
func openTab(ctx context.Context, t *testing.T, k Kind, url string) Tab {
	t.Helper()
	b := Shared(t, k)
	tab, err := b.NewTab(ctx)
	if err != nil {
		t.Fatalf("%s: NewTab: %v", k, err)
	}
	t.Cleanup(func() {
		if err := tab.Close(); err != nil {
			t.Errorf("%s: closing tab: %v", k, err)
		}
	})
	if url != "" {
		if err := tab.Navigate(ctx, url); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	return tab
}

// forEachBrowser runs f in a subtest per browser, after the shared browser
// is up (a launch must not eat the test's timeout).
func forEachBrowser(t *testing.T, f func(t *testing.T, k Kind)) {
	for _, k := range Kinds() {
		t.Run(k.String(), func(t *testing.T) {
			Shared(t, k)
			f(t, k)
		})
	}
}

func mustEval(ctx context.Context, t *testing.T, tab Tab, js string, out any) {
	t.Helper()
	if err := tab.Eval(ctx, js, out); err != nil {
		t.Fatalf("Eval(%s): %v", shorten(js), err)
	}
}

func mustWait(ctx context.Context, t *testing.T, tab Tab, js string) {
	t.Helper()
	if err := tab.WaitFor(ctx, js); err != nil {
		t.Fatal(err)
	}
}

func TestEval(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)

		var n int
		mustEval(ctx, t, tab, "1 + 2", &n)
		if n != 3 {
			t.Errorf("1 + 2 = %d", n)
		}
		var obj struct {
			Title string `json:"title"`
			List  []int  `json:"list"`
		}
		mustEval(ctx, t, tab, `({title: document.title, list: [1, 2]}) // a comment`, &obj)
		if obj.Title != "browsertest" || len(obj.List) != 2 {
			t.Errorf("object: %+v", obj)
		}
		var s string
		mustEval(ctx, t, tab, `new Promise(r => setTimeout(() => r("late"), 50));`, &s)
		if s != "late" {
			t.Errorf("promise: %q", s)
		}
		p := &n
		mustEval(ctx, t, tab, `undefined`, &p)
		if p != nil {
			t.Errorf("undefined: %v", *p)
		}
		mustEval(ctx, t, tab, `window.x = 5`, nil)
		// Names that the wrapper of Eval and WaitFor might use.
		mustEval(ctx, t, tab, `window.v = 1, window.s = 2, window.e = 3`, nil)
		mustEval(ctx, t, tab, `v + s + e + x + (await Promise.resolve(1))`, &n)
		if n != 12 {
			t.Errorf("v + s + e + x + 1 = %d, want 12", n)
		}
		mustWait(ctx, t, tab, `v + s + e === 6`)

		for js, want := range map[string]string{
			`(() => { throw new Error("boom") })()`: "Error: boom",
			`Promise.reject(new TypeError("nope"))`: "TypeError: nope",
			`(() => { throw "plain" })()`:           "plain",
			`window.nothing.here`:                   "TypeError",
			`)(`:                                    "SyntaxError",
		} {
			err := tab.Eval(ctx, js, nil)
			var jsErr *JSError
			if !errors.As(err, &jsErr) || !strings.Contains(jsErr.Message, want) {
				t.Errorf("Eval(%s) = %v, want a *JSError with %q", js, err, want)
			}
		}
		if err := tab.Eval(ctx, `"text"`, &n); err == nil {
			t.Errorf("decoding a string into an int: no error")
		}
	})
}

func TestWaitFor(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)

		mustEval(ctx, t, tab, `setTimeout(() => { window.later = {ok: true} }, 300)`, nil)
		// Throws (window.later is undefined) until it is true.
		mustWait(ctx, t, tab, `window.later.ok`)

		wctx, cancel := context.WithTimeout(ctx, time.Second)
		err := tab.WaitFor(wctx, `document.title + "!"`+` === "never"`)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "last value false") {
			t.Errorf("WaitFor timeout error = %v", err)
		}
		wctx, cancel = context.WithTimeout(ctx, time.Second)
		err = tab.WaitFor(wctx, `window.missing.value`)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "TypeError") {
			t.Errorf("WaitFor error does not name the exception: %v", err)
		}
	})
}

func TestConcurrentEval(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				var got int
				js := fmt.Sprintf(`new Promise(r => setTimeout(() => r(%d), %d))`, i, (20-i)*5)
				if err := tab.Eval(ctx, js, &got); err != nil || got != i {
					t.Errorf("Eval %d = %d, %v", i, got, err)
				}
			})
		}
		wg.Wait()
	})
}

func TestTabs(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		a := openTab(ctx, t, k, url)
		b := openTab(ctx, t, k, url)
		mustEval(ctx, t, a, `window.mark = "a"`, nil)
		var mark *string
		mustEval(ctx, t, b, `window.mark`, &mark)
		if mark != nil {
			t.Errorf("tab b sees window.mark = %q of tab a", *mark)
		}
		// Both tabs are in the foreground (each has its own window).
		for i, tab := range []Tab{a, b} {
			var vis string
			mustEval(ctx, t, tab, `document.visibilityState`, &vis)
			if vis != "visible" {
				t.Errorf("tab %d: visibilityState %q", i, vis)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if err := a.Eval(ctx, `1`, nil); !errors.Is(err, ErrClosed) {
			t.Errorf("Eval on a closed tab = %v, want ErrClosed", err)
		}
		mustEval(ctx, t, b, `1`, nil)
	})
}

// TestSpentContextLeavesTheTab: a call whose context has run out fails, and the tab
// (and every other test's, on the shared connection) still answers the next.
func TestSpentContextLeavesTheTab(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)
		spent, cancel := context.WithTimeout(ctx, time.Nanosecond)
		defer cancel()
		<-spent.Done()
		if err := tab.Eval(spent, `1`, nil); err == nil {
			t.Fatal("Eval with a spent context succeeded")
		}
		var n int
		mustEval(ctx, t, tab, `2`, &n)
		if n != 2 {
			t.Fatalf("Eval after a spent context = %d, want 2", n)
		}
	})
}

// TestDevicesInEveryWindow: the device list answers in every tab, also in one
// whose window lost the focus to a later one (parallel tests share one browser;
// a Firefox without media.devices.unfocused.enabled waits for the focus).
func TestDevicesInEveryWindow(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		first := openTab(ctx, t, k, url)
		second := openTab(ctx, t, k, url)
		for i, tab := range []Tab{first, second} {
			var r struct {
				Devices int  `json:"devices"`
				Focus   bool `json:"focus"`
			}
			// A deadline inside the page, so that a list that never comes
			// fails with what it knows rather than the test's timeout.
			mustEval(ctx, t, tab, `Promise.race([
				navigator.mediaDevices.enumerateDevices().then(d => d.length),
				new Promise(resolve => setTimeout(() => resolve(-1), 5000)),
			]).then(n => ({ devices: n, focus: document.hasFocus() }))`, &r)
			if r.Devices <= 0 {
				t.Errorf("tab %d (focus %v): enumerateDevices = %d devices (-1: no answer in 5 s)", i, r.Focus, r.Devices)
			}
		}
	})
}

func TestCamera(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)
		var tracks []struct {
			Kind, Label, ReadyState string
		}
		mustEval(ctx, t, tab, `camera().then(s => s.getTracks().map(t => ({kind: t.kind, label: t.label, readyState: t.readyState})))`, &tracks)
		if len(tracks) != 1 || tracks[0].Kind != "video" || tracks[0].ReadyState != "live" {
			t.Fatalf("camera tracks: %+v", tracks)
		}
		mustWait(ctx, t, tab, VideoColorJS("#local")+".width > 0")
		c, err := SampleVideo(ctx, tab, "#local")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s fake camera %q: %v", k, tracks[0].Label, c)
		if !c.HasPicture() || c.Brightness() < 20 {
			t.Fatalf("camera picture is black or missing: %v", c)
		}
		switch k {
		case KindChromium: // green with a moving pattern
			if c.Mean[1] < 100 || c.Mean[0] > 60 || c.Mean[2] > 60 || c.Stddev < 5 {
				t.Errorf("Chromium's fake camera is no longer mostly green: %v", c)
			}
		case KindFirefox: // one flat, saturated colour
			if c.Stddev > 5 || max(c.Mean[0], c.Mean[1], c.Mean[2]) < 150 {
				t.Errorf("Firefox's fake camera is no longer one bright flat colour: %v", c)
			}
		}
	})
}

func TestDisplayMedia(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)

		const gdm = `navigator.mediaDevices.getDisplayMedia({video: true}).then(s => {
			document.getElementById("local").srcObject = s;
			const t = s.getVideoTracks()[0];
			return {label: t.label, surface: t.getSettings().displaySurface || ""};
		})`
		var got struct{ Label, Surface string }
		err := tab.Eval(ctx, gdm, &got)
		switch k {
		case KindChromium:
			if err != nil || got.Surface != "monitor" {
				t.Errorf("Chromium's own getDisplayMedia: %+v, %v", got, err)
			}
		case KindFirefox:
			t.Logf("Firefox's own getDisplayMedia: %+v, %v", got, err)
		}

		if err := OnNewDocument(ctx, tab, FakeDisplayMediaJS); err != nil {
			t.Fatal(err)
		}
		if err := tab.Navigate(ctx, url); err != nil {
			t.Fatal(err)
		}
		var fake bool
		mustEval(ctx, t, tab, `navigator.mediaDevices.__conclaveFakeDisplay === true`, &fake)
		if !fake {
			t.Fatal("OnNewDocument(FakeDisplayMediaJS) did not run in the new document")
		}
		mustEval(ctx, t, tab, gdm, &got)
		mustWait(ctx, t, tab, VideoColorJS("#local")+".width > 0")
		c, err := SampleVideo(ctx, tab, "#local")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s FakeDisplayMediaJS: %v", k, c)
		if !MagentaTestPattern(c) {
			t.Errorf("FakeDisplayMediaJS picture is not the magenta test pattern: %v", c)
		}
	})
}

// waitFramesJS is true once the peer connection pc has decoded n frames.
func waitFramesJS(pc string, n int) string {
	return InboundVideoStatsJS(pc) + ".then(s => s.framesDecoded >= " + strconv.Itoa(n) + ")"
}

// waitSamePicture polls until the receiver's <video> shows roughly what the
// sender's shows at the same moment (the fake cameras change over time).
func waitSamePicture(ctx context.Context, t *testing.T, sender Tab, senderSel string, receiver Tab, receiverSel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var sent, got VideoColor
	var err error
	for {
		if got, err = SampleVideo(ctx, receiver, receiverSel); err == nil {
			sent, err = SampleVideo(ctx, sender, senderSel)
		}
		if err == nil && got.HasPicture() && sent.HasPicture() && got.Brightness() > 20 && got.Distance(sent) < 40 {
			t.Logf("sent %v, received %v", sent, got)
			return
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			t.Fatalf("received picture never matched the sent one: sent %v, received %v, err %v", sent, got, err)
		}
	}
}

func TestLoopbackCall(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)
		start := time.Now()
		mustEval(ctx, t, tab, `loopback()`, nil)
		mustWait(ctx, t, tab, `pcA.connectionState === "connected" && pcB.connectionState === "connected"`)
		mustWait(ctx, t, tab, waitFramesJS("pcB", 10))
		t.Logf("%s: connected and 10 frames decoded in %v", k, time.Since(start).Round(time.Millisecond))
		waitSamePicture(ctx, t, tab, "#local", tab, "#remote")
	})
}

// TestCrossBrowser calls between a Firefox tab and a Chromium tab, with the
// SDP going through Go, in both directions of offer and answer.
func TestCrossBrowser(t *testing.T) {
	url := serve(t)
	for _, offerer := range Kinds() {
		answerer := KindChromium
		if offerer == KindChromium {
			answerer = KindFirefox
		}
		t.Run(offerer.String()+"-offers", func(t *testing.T) {
			Shared(t, offerer)
			Shared(t, answerer)
			ctx := testContext(t)
			off := openTab(ctx, t, offerer, url)
			ans := openTab(ctx, t, answerer, url)
			start := time.Now()

			var offer, answer struct {
				Type string `json:"type"`
				SDP  string `json:"sdp"`
			}
			mustEval(ctx, t, off, `offer()`, &offer)
			checkCandidates(t, offerer, offer.SDP)
			js, _ := json.Marshal(offer)
			mustEval(ctx, t, ans, `answer(`+string(js)+`)`, &answer)
			checkCandidates(t, answerer, answer.SDP)
			js, _ = json.Marshal(answer)
			mustEval(ctx, t, off, `accept(`+string(js)+`)`, nil)

			for _, tab := range []Tab{off, ans} {
				mustWait(ctx, t, tab, `pc.connectionState === "connected"`)
				mustWait(ctx, t, tab, waitFramesJS("pc", 10))
			}
			t.Logf("connected and 10 frames decoded both ways in %v", time.Since(start).Round(time.Millisecond))
			waitSamePicture(ctx, t, off, "#local", ans, "#remote")
			waitSamePicture(ctx, t, ans, "#local", off, "#remote")
		})
	}
}

// checkCandidates checks that an SDP has ICE candidates with real addresses,
// not mDNS .local names.
func checkCandidates(t *testing.T, k Kind, sdp string) {
	t.Helper()
	var cands []string
	for line := range strings.Lines(sdp) {
		if strings.HasPrefix(line, "a=candidate:") {
			cands = append(cands, strings.TrimSpace(line))
		}
	}
	if len(cands) == 0 {
		t.Fatalf("%s gathered no ICE candidates", k)
	}
	for _, c := range cands {
		if strings.Contains(c, ".local ") {
			t.Errorf("%s hides its address behind mDNS: %s", k, c)
		}
	}
	t.Logf("%s candidates: %q", k, cands)
}

func TestChromiumCommandLine(t *testing.T) {
	b := Shared(t, KindChromium)
	cb, ok := unwrap(b).(*chromiumBrowser)
	if !ok {
		t.Fatalf("%T is not a *chromiumBrowser", unwrap(b))
	}
	pid := chromiumPID(cb)
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Skipf("cannot read the command line: %v", err)
	}
	var features []string
	for arg := range strings.SplitSeq(string(raw), "\x00") {
		if v, ok := strings.CutPrefix(arg, "--disable-features="); ok {
			features = append(features, v)
		}
	}
	if len(features) != 1 {
		t.Fatalf("want one --disable-features flag, got %q", features)
	}
	for _, f := range []string{"WebRtcHideLocalIpsWithMdns", "Translate"} {
		if !strings.Contains(features[0], f) {
			t.Errorf("--disable-features=%s lacks %s", features[0], f)
		}
	}
}

func unwrap(b Browser) Browser {
	if s, ok := b.(sharedBrowser); ok {
		return s.Browser
	}
	return b
}

func chromiumPID(b *chromiumBrowser) int {
	c := chromedp.FromContext(b.ctx)
	if c == nil || c.Browser == nil || c.Browser.Process() == nil {
		return 0
	}
	return c.Browser.Process().Pid
}
