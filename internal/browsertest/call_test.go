package browsertest

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// waitFramesJS is true once the peer connection pc has decoded n frames.
func waitFramesJS(pc string, n int) string {
	return InboundVideoStatsJS(pc) + ".then(s => s.framesDecoded >= " + strconv.Itoa(n) + ")"
}

// waitSamePicture polls until the receiver's <video> shows roughly what the
// sender's shows at the same moment (the fake cameras change over time), for as
// long as the test's context lasts: on a loaded machine the two samples, taken one
// after the other in two browsers, may take many tries to meet.
func waitSamePicture(ctx context.Context, t *testing.T, sender Tab, senderSel string, receiver Tab, receiverSel string) {
	t.Helper()
	// What the message says is the last pair sampled in full, and the last error
	// of a sample that was not the test's end.
	var lastSent, lastGot VideoColor
	var lastErr error
	start := time.Now()
	for tries := 1; ; tries++ {
		got, err := SampleVideo(ctx, receiver, receiverSel)
		var sent VideoColor
		if err == nil {
			sent, err = SampleVideo(ctx, sender, senderSel)
		}
		if err == nil {
			lastSent, lastGot = sent, got
			if got.HasPicture() && sent.HasPicture() && got.Brightness() > 20 && got.Distance(sent) < 40 {
				t.Logf("sent %v, received %v", sent, got)
				return
			}
		} else if ctx.Err() == nil {
			lastErr = err
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			t.Fatalf("received picture never matched the sent one in %v and %d tries: last sent %v, received %v; last error %v",
				time.Since(start).Round(time.Millisecond), tries, lastSent, lastGot, lastErr)
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
