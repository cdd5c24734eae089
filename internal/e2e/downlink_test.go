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
	"conclave/sfu"
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
func (d *shapedDownlink) iceHook(t *testing.T, engine *sfu.Engine) signaling.ICESource {
	media := engine.UDPAddr()
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
	srv := startServerWith(t, serverOptions{ice: line.iceHook, bandwidth: true})
	return srv, line, srv.createMeeting(t)
}

// preload makes a tab use only the shaped relay.
func (d *shapedDownlink) preload() string {
	return watchedPCsJS(pcOptions{relayOnly: true, servers: []turnServerJS{{
		URLs: []string{d.srv.URL()}, Username: d.srv.Username(), Credential: d.srv.Password()}}})
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

// cameraJS runs before the page: the test server's early.js asks every fake camera
// for 320×180 (to spare the machine), from which Chromium sends one simulcast layer
// only; this asks for width×height at 15 frames a second instead (in a Chromium whose
// camera no other tab has open: see Cleo's in TestSlowDownlinkGetsTheLowLayer). It also marks the
// camera's track as detailed (contentHint), which makes Chromium keep its resolution
// and drop frames when short of CPU: by default it scales the picture down, and with
// it the number of layers it sends, so the machine's load would decide how many
// layers there are to choose from.
func cameraJS(width, height int) string {
	return fmt.Sprintf(`(() => {
	const devices = navigator.mediaDevices;
	const getUserMedia = devices.getUserMedia.bind(devices);
	devices.getUserMedia = async (c) => {
		const stream = await getUserMedia(c && c.video ? { ...c, video: { ...(c.video === true ? {} : c.video),
			width: { ideal: %d }, height: { ideal: %d }, frameRate: { ideal: 15, max: 15 } } } : c);
		for (const track of stream.getVideoTracks()) track.contentHint = "detail";
		return stream;
	};
})()`, width, height)
}

// largeCameraJS is 960×540, the least from which Chromium sends all three layers
// (TESTING.md). Firefox sends three layers of any size.
var largeCameraJS = cameraJS(960, 540)

// watcherURL is the meeting's participant link for someone who only watches: camera
// and microphone off (two cores stay free for the publishers' video, and a watcher's
// own sound takes nothing from another watcher's slow line).
func (s *server) watcherURL(m meetingLinks) string {
	return s.pageURLWith(m, "camera=0&mic=0", m.fragment())
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
// and Finn his from Firefox, in simulcast layers, end-to-end encrypted. Uma watches from
// Chromium on a fast line and decodes both pictures, Finn's in his largest layer. Sam
// watches from Chromium behind a 300 kbit/s downlink (the shaped relay) with Cleo
// pinned large: the server gives him a smaller layer of hers, which he decodes (its
// size, and Cleo's picture in it), never the largest his tile calls for; Finn's tile
// in the strip gets a smaller layer of his than the largest, or is paused with "Video
// paused" on it, or gets his largest where the line's spare carries it; and Sam's page
// says why: the hint that his connection is too slow for all video.
//
// The slow line is judged on Cleo's camera: Chromium's fake camera draws a moving
// picture whose upper layers need more than the line carries. Firefox's is a plain
// colour that needs a few tens of kbit/s in any layer, so his largest may fit the line
// beside the meeting's audio, and then it is right to send it.
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
	// Cleo has a Chromium of her own: its fake camera is one device per browser, opened
	// at the size its first user asked for, so in the shared one a camera another test
	// has open at early.js's 320×180 would give her that (and one layer) too.
	cleo := joinWithOptions(ctx, t, browsertest.KindChromium, srv.pageURL(m, m.fragment()), "Cleo",
		joinOptions{preload: largeCameraJS, browser: browsertest.Chromium(t)})
	// Finn has a Firefox of his own too: in the shared one, twice in CI, his camera's
	// layers never showed while TestSwitchDevicesKeepsEncryption (beside it, in the
	// same Firefox) switched cameras and failed (waitLayers says what the page shows).
	finn := joinWithOptions(ctx, t, browsertest.KindFirefox, srv.pageURL(m, m.fragment()), "Finn",
		joinOptions{browser: browsertest.Firefox(t)})
	evalOK(ctx, t, sam, fmt.Sprintf(`(() => { document.querySelector('.tile[data-participant-id=%q][data-source="camera"] .tile-pin').click(); return true; })()`, cleo.id), nil)
	twoLayers := func(l map[string]sentLayer) bool {
		return l["q"].PacketsSent > 0 && l["h"].PacketsSent > 0 && l["h"].Width > l["q"].Width
	}
	waitLayers(ctx, t, finn, "does not send two camera layers or more", twoLayers)
	waitLayers(ctx, t, cleo, "does not send two camera layers or more", twoLayers)

	// The fast line: both pictures, Finn's in the largest layer he sends (his tile in
	// Uma's grid calls for his largest; her estimate finds the room by trains if it
	// starts short; a Firefox short of CPU may not send f for a while).
	waitCam(ctx, t, uma, finn, "does not decode the largest layer Finn sends on the fast line", func(v camView, l map[string]sentLayer) bool {
		return v.Width > 0 && v.Width == topLayer(l).Width && topLayer(l).Width > l["q"].Width
	})
	waitSameColour(ctx, t, uma, finn, "camera")
	waitSameColour(ctx, t, uma, cleo, "camera")

	// The slow line: Cleo's large tile calls for her largest layer, the line carries a
	// smaller one. Settling takes seconds (the target is 5 s); the bound only
	// keeps a failure from taking the whole test's time.
	slow, cancelSlow := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelSlow()
	low := waitCam(slow, t, sam, cleo, "does not decode a smaller layer of Cleo's behind the slow line", func(v camView, l map[string]sentLayer) bool {
		top := topLayer(l).Width
		return v.Shown > top && v.Width > 0 && v.Width < top && (v.Width == l["q"].Width || v.Width == l["h"].Width)
	})
	waitCam(slow, t, sam, cleo, "does not keep decoding a smaller layer of Cleo's", func(v camView, l map[string]sentLayer) bool {
		return v.Width > 0 && v.Width < topLayer(l).Width && v.Frames > low.Frames
	})
	t.Logf("Sam decodes Cleo's camera %d wide (she sends %d)", low.Width, topLayer(waitLayers(slow, t, cleo, "", func(map[string]sentLayer) bool { return true })).Width)
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
	// Finn, in the strip: a smaller layer than his largest, or paused and saying so; or
	// his largest when the SFU asks nobody's middle layer of him (h inactive). A tile calls
	// for the smallest layer at least its size, and Firefox's are small (80, 160, 320
	// wide): a strip tile wider than 160 calls for his largest, and his plain-colour
	// frames cost a few tens of kbit/s in any layer. Which of them the line's spare
	// beside Cleo's layer and the meeting's audio carries depends on what her layer
	// takes first (the largest tile is served first): his smallest layer, his middle
	// one (a step down from his largest, which makes h active; seen in one CI run), or
	// his largest. The check would miss a page that decodes his largest while capped
	// at q (h then inactive); it fails where he is decoded at his largest while his
	// middle layer is what the SFU asks for.
	c := readDownlink(slow, t, sam).Tiles[finn.id]
	if c.Mark == "paused" {
		if c.Overlay != pausedTile {
			t.Fatalf("Finn's paused tile says %q, want %q", c.Overlay, pausedTile)
		}
	} else {
		waitCam(slow, t, sam, finn, "decodes Finn's largest layer behind the slow line while his middle one is sent, or nothing", func(v camView, l map[string]sentLayer) bool {
			return v.Width > 0 && (v.Width < topLayer(l).Width || !l["h"].Active && v.Width == topLayer(l).Width)
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
	srv, m := encryptedMeeting(t)
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
