package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"conclave/internal/browsertest"
	"conclave/internal/hostile"
	"conclave/internal/shapedturn"
	"conclave/signaling"
)

// A browser behind a slow downlink: its peer connections go relay-only through a TURN
// server of the test's own (internal/shapedturn) that lets what the SFU sends reach it
// at only so many bits a second, through a token bucket and a short drop-tail queue, as
// a real slow line does (TESTING.md, "Putting one browser subscriber behind 300
// kbit/s"). Its uplink and every other tab are unshaped.

// slowLine is a 300 kbit/s downlink with a 4000-byte burst and a 6000-byte queue (about
// 160 ms at that rate).
var slowLine = shapedturn.Shape{Rate: 300_000, Burst: 4000, QueueBytes: 6000}

// shapedDownlink is a shaped TURN server for one tab, started with the SFU.
type shapedDownlink struct {
	shape shapedturn.Shape
	srv   *shapedturn.Server
}

// iceHook starts the shaped relay once the SFU's media address is known (an
// serverOptions.ice that hands nothing to the welcome: only the tab given preload()
// uses the relay).
func (d *shapedDownlink) iceHook(t *testing.T, media net.Addr) signaling.ICESource {
	t.Helper()
	srv, err := shapedturn.New(shapedturn.Config{Peers: []netip.AddrPort{media.(*net.UDPAddr).AddrPort()}, Shape: d.shape})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	d.srv = srv
	return nil
}

// startSlowLine starts the server with a slow line beside it, and a meeting.
func startSlowLine(t *testing.T) (*server, *shapedDownlink, meetingLinks) {
	t.Helper()
	line := &shapedDownlink{shape: slowLine}
	srv := startServerWith(t, serverOptions{ice: line.iceHook})
	return srv, line, srv.createMeeting(t)
}

// preload makes a tab use only the shaped relay.
func (d *shapedDownlink) preload() string {
	return watchedPCsJS(pcOptions{relayOnly: true, servers: []turnServerJS{{
		URLs: []string{d.srv.URL()}, Username: d.srv.Username(), Credential: d.srv.Password()}}})
}

// videoIn is what a tab's connections received of video (window.relayTest.videoIn).
type videoIn struct {
	Bytes   int64   `json:"bytes"`
	Packets int64   `json:"packets"`
	Lost    int64   `json:"lost"`
	At      float64 `json:"at"` // the stats' own timestamp, ms
}

func readVideoIn(ctx context.Context, t *testing.T, p *participant) videoIn {
	t.Helper()
	var v videoIn
	evalOK(ctx, t, p, `window.relayTest.videoIn()`, &v)
	return v
}

// kbps is the video payload rate between two readings, by the stats' own clock.
func kbps(a, b videoIn) float64 {
	if b.At <= a.At {
		return 0
	}
	return float64(b.Bytes-a.Bytes) * 8 / (b.At - a.At) // bits per ms = kbit/s
}

// bigScreen gives the watchers a 1920×1080 window: two remote tiles in it are larger
// than 640×360, so each calls for its publisher's largest layer.
func bigScreen(ctx context.Context, t *testing.T, ps ...*participant) {
	t.Helper()
	for _, p := range ps {
		if err := browsertest.SetViewport(ctx, p.tab, 1920, 1080); err != nil {
			t.Fatal(err)
		}
		waitOK(ctx, t, p, `window.innerWidth === 1920`, "the viewport did not apply")
	}
}

// largeCameraJS runs before the page: the test server's early.js asks every fake
// camera for 320×180 (to spare the machine), from which Chromium sends one simulcast
// layer only; this asks for 960×540 at 15 frames a second instead, the least from
// which Chromium sends all three (TESTING.md). Firefox sends three layers anyway.
const largeCameraJS = `(() => {
	const devices = navigator.mediaDevices;
	const getUserMedia = devices.getUserMedia.bind(devices);
	devices.getUserMedia = (c) => getUserMedia(c && c.video ? { ...c, video: { ...(c.video === true ? {} : c.video),
		width: { ideal: 960 }, height: { ideal: 540 }, frameRate: { ideal: 15, max: 15 } } } : c);
})()`

// threeLayers: the publisher's browser sends all three camera layers.
func threeLayers(l map[string]sentLayer) bool {
	return l["q"].PacketsSent > 0 && l["h"].PacketsSent > 0 && l["f"].PacketsSent > 0
}

// watcherURL is the meeting's participant link for someone who only watches: camera
// and microphone off (two cores stay free for the publishers' video, and a watcher's
// own sound takes nothing from another watcher's slow line).
func (s *server) watcherURL(m meetingLinks) string {
	return fmt.Sprintf("%s/m/%s?camera=0&mic=0#%s", s.url, m.MeetingID, m.fragment())
}

// TestShapedRelayCapsOneBrowser: the test's slow line holds for a real browser. Cleo
// publishes her camera from Chromium; Sam (Chromium) watches through the shaped relay,
// Uma (Chromium) directly. In every window of a few seconds Sam receives no more video
// than the line carries (payload bytes by the stats' own clock: a verdict a slow
// machine cannot change, since it only receives less) while video does come through
// it, and Uma receives clearly more (Cleo's largest layer alone is about 450 kbit/s at
// 960×540 and 15 frames a second). (How much of the line Sam uses is the server's
// choice: without a bandwidth estimate it sends the large layer into the line and Sam
// got 180-220 kbit/s of video payload, the rest being headers, audio and what the
// queue dropped; with one, it sends a small layer.)
func TestShapedRelayCapsOneBrowser(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	srv, line, m := startSlowLine(t)
	ctx, cancel := testContext()
	defer cancel()

	uma := joinWithOptions(ctx, t, browsertest.KindChromium, srv.watcherURL(m), "Uma", joinOptions{preload: watchedPCsJS(pcOptions{})})
	sam := joinWithOptions(ctx, t, browsertest.KindChromium, srv.watcherURL(m), "Sam", joinOptions{preload: line.preload()})
	// Large tiles call for Cleo's largest layer (960×540, several hundred kbit/s).
	bigScreen(ctx, t, uma, sam)
	cleo := joinWithOptions(ctx, t, browsertest.KindChromium, srv.pageURL(m, m.fragment()), "Cleo", joinOptions{preload: largeCameraJS})
	waitLayers(ctx, t, cleo, "Chromium does not send three camera layers", threeLayers)
	waitSameColour(ctx, t, uma, cleo, "camera")

	rate := float64(line.shape.Rate) / 1000 // kbit/s
	// What the line can pass in a window of ms: its rate, the burst and the queue.
	limit := func(ms float64) int64 {
		return int64(rate/8*ms*1.05) + int64(line.shape.Burst+line.shape.QueueBytes)
	}
	var samBest, umaBest float64
	windows := 0
	for samBest < rate/10 || umaBest < 1.4*rate || windows < 3 {
		s0, u0 := readVideoIn(ctx, t, sam), readVideoIn(ctx, t, uma)
		select {
		case <-ctx.Done():
			t.Fatalf("after %d windows: Sam at best %.0f kbit/s (want >= %.0f), Uma at best %.0f (want >= %.0f)", windows, samBest, rate/10, umaBest, 1.4*rate)
		case <-time.After(3 * time.Second):
		}
		s1, u1 := readVideoIn(ctx, t, sam), readVideoIn(ctx, t, uma)
		windows++
		if got, most := s1.Bytes-s0.Bytes, limit(s1.At-s0.At); got > most {
			t.Fatalf("Sam received %d bytes of video in %.0f ms, more than the line passes (%d)", got, s1.At-s0.At, most)
		}
		samBest, umaBest = max(samBest, kbps(s0, s1)), max(umaBest, kbps(u0, u1))
		t.Logf("window %d: Sam %.0f kbit/s (lost %d of %d packets so far), Uma %.0f kbit/s; relay %+v",
			windows, kbps(s0, s1), s1.Lost, s1.Packets+s1.Lost, kbps(u0, u1), line.srv.Counts())
	}

	var conns []struct {
		Pairs []struct {
			Local string `json:"local"`
		} `json:"pairs"`
	}
	evalOK(ctx, t, sam, `window.relayTest.selected()`, &conns)
	for _, c := range conns {
		for _, p := range c.Pairs {
			if p.Local != "relay" {
				t.Fatalf("Sam's connection is not relayed: %+v", conns)
			}
		}
	}
}

// downlinkJS: what a page shows of its downlink (downlink-ui.js): the hint's text and,
// per remote camera tile, its mark ("paused", "reduced" or "") and the paused
// overlay's text.
const downlinkJS = `(() => {
	const hint = document.querySelector("#downlink-hint .downlink-hint-text");
	const tiles = {};
	document.querySelectorAll('.tile[data-source="camera"][data-self="false"]').forEach((t) => {
		const over = t.querySelector(".downlink-paused");
		tiles[t.dataset.participantId] = { mark: t.dataset.downlink || "", overlay: over ? over.textContent.trim() : "" };
	});
	return { hint: hint ? hint.textContent.trim() : "", tiles };
})()`

type downlinkShown struct {
	Hint  string `json:"hint"`
	Tiles map[string]struct {
		Mark    string `json:"mark"`
		Overlay string `json:"overlay"`
	} `json:"tiles"`
}

func readDownlink(ctx context.Context, t *testing.T, p *participant) downlinkShown {
	t.Helper()
	var d downlinkShown
	evalOK(ctx, t, p, downlinkJS, &d)
	return d
}

// TestSlowDownlinkGetsTheLowLayer (issue 15): Cleo publishes her camera from Chromium
// and Finn his from Firefox, each in simulcast layers (three, or two when the browser is
// short of CPU), end-to-end encrypted. Uma watches from Chromium on a fast line and
// decodes both above their smallest layer (at their largest when all three come). Sam
// watches from Chromium behind a 300 kbit/s downlink (the shaped relay) with Cleo
// pinned large: the server gives him Cleo's smallest layer, which he decodes (its
// size, and her picture in it), never the large one her tile calls for; Finn's small
// tile gets no more than a small layer, or is paused with "Video paused" on it; and
// Sam's page says why: the hint that his connection is too slow for all video.
func TestSlowDownlinkGetsTheLowLayer(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv, line, m := startSlowLine(t)
	ctx, cancel := testContext()
	defer cancel()
	en := readCatalogue(t, "en")

	uma := joinWithOptions(ctx, t, browsertest.KindChromium, srv.watcherURL(m), "Uma", joinOptions{})
	sam := joinWithOptions(ctx, t, browsertest.KindChromium, srv.watcherURL(m), "Sam", joinOptions{preload: line.preload()})
	bigScreen(ctx, t, uma, sam)
	cleo := joinWithOptions(ctx, t, browsertest.KindChromium, srv.pageURL(m, m.fragment()), "Cleo", joinOptions{preload: largeCameraJS})
	finn := joinTab(ctx, t, srv, browsertest.KindFirefox, m, "Finn", false)
	evalOK(ctx, t, sam, fmt.Sprintf(`(() => { document.querySelector('.tile[data-participant-id=%q][data-source="camera"] .tile-pin').click(); return true; })()`, cleo.id), nil)
	// Both send all three layers when the machine has the CPU for it; a browser short of
	// it drops the largest (Chromium at once, Firefox by halving them), so the fast line
	// is judged against the middle layer and the slow one against the smallest.
	for _, p := range []*participant{cleo, finn} {
		waitLayers(ctx, t, p, "does not send two camera layers or more", func(l map[string]sentLayer) bool {
			return l["q"].PacketsSent > 0 && l["h"].PacketsSent > 0 && l["h"].Width > l["q"].Width
		})
	}

	// The fast line: both above their smallest layer (the largest when all three come),
	// with their pictures.
	for _, p := range []*participant{cleo, finn} {
		waitCam(ctx, t, uma, p, "does not decode a large layer on a fast line", func(v camView, l map[string]sentLayer) bool {
			return v.Shown > l["h"].Width && v.Width >= l["h"].Width && l["h"].Width > l["q"].Width
		})
		waitSameColour(ctx, t, uma, p, "camera")
	}

	// The slow line: Cleo's large tile calls for her largest layer, the line carries
	// her smallest. Settling takes seconds (the target is 5 s); the bound only
	// keeps a failure from taking the whole test's time.
	slow, cancelSlow := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelSlow()
	low := waitCam(slow, t, sam, cleo, "does not decode Cleo's smallest layer behind the slow line", func(v camView, l map[string]sentLayer) bool {
		return v.Shown > l["h"].Width && v.Width > 0 && v.Width == l["q"].Width && l["q"].Width < l["h"].Width
	})
	waitCam(slow, t, sam, cleo, "does not keep decoding Cleo's smallest layer", func(v camView, l map[string]sentLayer) bool {
		return v.Width == l["q"].Width && v.Frames > low.Frames
	})
	waitSameColour(slow, t, sam, cleo, "camera")
	reduced, paused := str(t, en, "downlink15.hint.reduced"), str(t, en, "downlink15.hint.paused")
	pausedTile := str(t, en, "downlink15.tile.paused")
	var d downlinkShown
	for d = readDownlink(slow, t, sam); d.Hint != reduced && d.Hint != paused; d = readDownlink(slow, t, sam) {
		select {
		case <-slow.Done():
			t.Fatalf("Sam's page does not say that his connection is too slow: %+v", d)
		case <-time.After(250 * time.Millisecond):
		}
	}
	t.Logf("Sam's page: %+v; relay %+v", d, line.srv.Counts())
	// Finn: a small layer, or paused and saying so.
	f := readDownlink(slow, t, sam).Tiles[finn.id]
	if f.Mark == "paused" {
		if f.Overlay != pausedTile {
			t.Fatalf("Finn's paused tile says %q, want %q", f.Overlay, pausedTile)
		}
	} else {
		waitCam(slow, t, sam, finn, "decodes Finn's largest layer behind the slow line, or nothing", func(v camView, l map[string]sentLayer) bool {
			return v.Width > 0 && v.Width < l["f"].Width
		})
	}
}

// TestDownlinkHintAndPausedTile: what a page shows when the server says its downlink
// is too slow (`downlink`, here put on Ben's connection by the hostile proxy, so the
// page is checked apart from the server's estimate). Ben (Firefox) sees Ann's tile
// (Chromium) marked "Video paused" and the hint that some video is paused; then, Ann
// reduced instead, the hint that some video is shown in lower quality, with a small
// badge on her tile that says so; malformed messages change nothing; once the
// server says everything fits, hint and marks are gone.
func TestDownlinkHintAndPausedTile(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	m := srv.createMeeting(t)
	proxy := startHostile(t, srv)
	ctx, cancel := testContext()
	defer cancel()
	en := readCatalogue(t, "en")

	ann := joinWithOptions(ctx, t, browsertest.KindChromium, srv.watcherURL(m), "Ann", joinOptions{})
	ben := joinWithOptions(ctx, t, browsertest.KindFirefox, proxy.Via(srv.watcherURL(m)), "Ben", joinOptions{})
	waitOK(ctx, t, ben, fmt.Sprintf(`!!document.querySelector('.tile[data-participant-id=%q][data-source="camera"]')`, ann.id), "no tile of Ann")
	conn, ok := proxy.ConnOf(ben.id)
	if !ok {
		t.Fatal("Ben's connection is not through the proxy")
	}
	say := func(payload string) {
		t.Helper()
		if err := conn.Inject(hostile.ToClient, []byte(`{"type":"downlink","payload":`+payload+`}`)); err != nil {
			t.Fatal(err)
		}
	}
	track := func(state string) string {
		return fmt.Sprintf(`{"limited":true,"tracks":[{"participantId":%q,"source":"camera","state":%q}]}`, ann.id, state)
	}
	shows := func(what string, ok func(downlinkShown) bool) downlinkShown {
		t.Helper()
		var d downlinkShown
		for d = readDownlink(ctx, t, ben); !ok(d); d = readDownlink(ctx, t, ben) {
			select {
			case <-ctx.Done():
				t.Fatalf("Ben's page %s: %+v", what, d)
			case <-time.After(100 * time.Millisecond):
			}
		}
		return d
	}
	// The hint is a polite status region that stays in the page, so filling it is announced.
	waitOK(ctx, t, ben, `(() => { const h = document.querySelector("#downlink-hint");
		return !!h && h.getAttribute("role") === "status" && h.getAttribute("aria-live") === "polite" && h.textContent.trim() === ""; })()`, "no empty polite hint region")

	say(track("paused"))
	shows("does not show Ann's video as paused", func(d downlinkShown) bool {
		return d.Hint == str(t, en, "downlink15.hint.paused") && d.Tiles[ann.id].Mark == "paused" && d.Tiles[ann.id].Overlay == str(t, en, "downlink15.tile.paused")
	})

	say(track("reduced"))
	shows("does not show Ann's video as reduced", func(d downlinkShown) bool {
		return d.Hint == str(t, en, "downlink15.hint.reduced") && d.Tiles[ann.id].Mark == "reduced" && d.Tiles[ann.id].Overlay == ""
	})
	waitOK(ctx, t, ben, attrIs(fmt.Sprintf(`.downlink-reduced[data-participant-id=%q]`, ann.id), "aria-label", str(t, en, "downlink15.tile.reduced")), "no label on the reduced badge")

	// Malformed: the page keeps what it shows and goes on reading the next messages.
	say(`{"limited":"yes","tracks":[]}`)
	say(`{"limited":true,"tracks":[{"participantId":` + jsString(ann.id) + `,"source":"camera","state":"gone"}]}`)
	if d := readDownlink(ctx, t, ben); d.Hint != str(t, en, "downlink15.hint.reduced") || d.Tiles[ann.id].Mark != "reduced" {
		t.Fatalf("a malformed downlink changed Ben's page: %+v", d)
	}
	say(`{"limited":false,"tracks":[]}`)
	shows("still shows the hint after limited:false", func(d downlinkShown) bool {
		return d.Hint == "" && d.Tiles[ann.id].Mark == "" && d.Tiles[ann.id].Overlay == ""
	})
}
