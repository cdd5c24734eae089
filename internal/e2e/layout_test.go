package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// tileBox is where a camera tile is on the screen.
type tileBox struct {
	W       float64 `json:"w"`
	H       float64 `json:"h"`
	Top     float64 `json:"top"`
	Bottom  float64 `json:"bottom"`
	OnStage bool    `json:"stage"`
}

func (b tileBox) area() float64 { return b.W * b.H }

// boxesJS measures the tiles of the given participant ids and sources ("id/source") in
// the page: {key: {w, h, top, bottom, stage}}; a missing or invisible tile is 0×0.
func boxesJS(keys ...string) string {
	list := "["
	for _, k := range keys {
		list += fmt.Sprintf("%q,", k)
	}
	list += "]"
	return `(() => { const out = {}; for (const k of ` + list + `) {
		const [id, source] = k.split("/");
		const n = document.querySelector('.tile[data-participant-id="' + id + '"][data-source="' + source + '"]');
		const b = n ? n.getBoundingClientRect() : null;
		out[k] = b && n.offsetParent ? { w: b.width, h: b.height, top: b.top, bottom: b.bottom, stage: !!n.closest(".stage") } : { w: 0, h: 0, top: 0, bottom: 0, stage: false };
	} return out; })()`
}

// waitBoxes polls the tiles' boxes in p's tab until ok accepts them.
func waitBoxes(ctx context.Context, t *testing.T, p *participant, what string, ok func(map[string]tileBox) bool, keys ...string) map[string]tileBox {
	t.Helper()
	var last map[string]tileBox
	for {
		var boxes map[string]tileBox
		if err := p.tab.Eval(ctx, boxesJS(keys...), &boxes); err == nil && ok(boxes) {
			return boxes
		}
		last = boxes
		select {
		case <-ctx.Done():
			t.Fatalf("%s (%s): %s; last tiles %+v", p.name, p.kind, what, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func camKey(p *participant) string { return p.id + "/camera" }

// sameSize: the two boxes are visible and differ by less than 10 % in area.
func sameSize(a, b tileBox) bool {
	return a.area() > 0 && b.area() > 0 && a.area() < 1.1*b.area() && b.area() < 1.1*a.area()
}

// large: a is on the stage and at least three times the area of b.
func large(a, b tileBox) bool {
	return a.OnStage && b.area() > 0 && a.area() > 3*b.area()
}

// TestLayoutsPinSpeakerViewHideSelf: in Ann's tab (Firefox, with two Chromium peers) the grid shows everyone the same size;
// pinning Ben makes his tile large and unpinning makes it a tile again; speaker view
// makes the one who speaks (Cat: Ann and Ben are muted) large although Ben joined
// first; hiding the own video takes Ann's tile off her screen while Ben still sees her.
func TestLayoutsPinSpeakerViewHideSelf(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	// Speaker view on a server that does not tell who speaks: the page's own detection
	// (speaker.js) hears Cat's fake microphone, whose beeps are too short for the
	// server's (TestThreeBrowsersMeet has the server's).
	srv := startServerWith(t, serverOptions{pageSpeakers: true})
	m := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	muted := fmt.Sprintf("%s/m/%s?mic=0#%s", srv.url, m.MeetingID, m.fragment())
	// Ann, who arranges her screen, in Firefox (the phone test lays Chromium out).
	ann := joinURL(ctx, t, browsertest.KindFirefox, muted, "Ann", false)
	ben := joinURL(ctx, t, browsertest.KindChromium, muted, "Ben", false)
	cat := joinTab(ctx, t, srv, browsertest.KindChromium, m, "Cat", false)
	keys := []string{camKey(ann), camKey(ben), camKey(cat)}

	waitBoxes(ctx, t, ann, "the grid does not show everyone the same size", func(b map[string]tileBox) bool {
		return sameSize(b[camKey(ben)], b[camKey(cat)]) && sameSize(b[camKey(ann)], b[camKey(cat)])
	}, keys...)

	// Pin Ben with the pin on his tile: large; the pin again: back in the grid.
	pin := fmt.Sprintf(`(() => { document.querySelector('.tile[data-participant-id="%s"][data-source="camera"] .tile-pin').click(); return true; })()`, ben.id)
	evalOK(ctx, t, ann, pin, nil)
	waitBoxes(ctx, t, ann, "pinned Ben is not large", func(b map[string]tileBox) bool {
		return large(b[camKey(ben)], b[camKey(cat)]) && !b[camKey(cat)].OnStage
	}, keys...)
	waitOK(ctx, t, ann, fmt.Sprintf(`document.querySelector('.tile[data-participant-id="%s"] .tile-pin').getAttribute("aria-pressed") === "true"`, ben.id), "the pin does not show pressed")
	evalOK(ctx, t, ann, pin, nil)
	waitBoxes(ctx, t, ann, "unpinned Ben is not back in the grid", func(b map[string]tileBox) bool {
		return sameSize(b[camKey(ben)], b[camKey(cat)]) && !b[camKey(ben)].OnStage
	}, keys...)

	// Speaker view: Cat speaks (the others are muted), so Cat is large.
	openDevices(ctx, t, ann)
	evalOK(ctx, t, ann, `document.querySelector("#layout-speaker").click()`, nil)
	waitBoxes(ctx, t, ann, "speaker view does not show the speaker (Cat) large", func(b map[string]tileBox) bool {
		return large(b[camKey(cat)], b[camKey(ben)]) && !b[camKey(ben)].OnStage
	}, keys...)
	waitOK(ctx, t, ann, `document.querySelector("#grid").dataset.layout === "speaker"`, "the grid is not in speaker view")
	evalOK(ctx, t, ann, `document.querySelector("#layout-grid").click()`, nil)
	waitBoxes(ctx, t, ann, "grid view again does not show everyone the same size", func(b map[string]tileBox) bool {
		return sameSize(b[camKey(ben)], b[camKey(cat)])
	}, keys...)

	// Hide self view: Ann's own tile leaves her screen, the others grow; Ben still sees her.
	before := waitBoxes(ctx, t, ann, "", func(map[string]tileBox) bool { return true }, keys...)
	evalOK(ctx, t, ann, `document.querySelector("#layout-hide-self").click()`, nil)
	waitBoxes(ctx, t, ann, "the own tile is still shown", func(b map[string]tileBox) bool {
		return b[camKey(ann)].area() == 0 && b[camKey(ben)].area() > before[camKey(ben)].area()
	}, keys...)
	waitSameColour(ctx, t, ben, ann, "camera")
	evalOK(ctx, t, ann, `document.querySelector("#layout-hide-self").click()`, nil)
	waitBoxes(ctx, t, ann, "the own tile did not come back", func(b map[string]tileBox) bool {
		return sameSize(b[camKey(ann)], b[camKey(ben)])
	}, keys...)
}

// TestPhoneScreenShare: Pia follows the meeting on a phone (390×844, Chromium) while Fay
// (Firefox) shares her screen: the share spans the width of Pia's screen and the
// cameras sit in a thin strip below it.
func TestPhoneScreenShare(t *testing.T) {
	t.Parallel()
	srv, m := encryptedMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	pia := joinTab(ctx, t, srv, browsertest.KindChromium, m, "Pia", false)
	if err := browsertest.SetViewport(ctx, pia.tab, 390, 844); err != nil {
		t.Fatal(err)
	}
	fay := joinTab(ctx, t, srv, browsertest.KindFirefox, m, "Fay", true)
	waitOK(ctx, t, pia, `window.innerWidth === 390`, "the phone viewport did not apply")
	evalOK(ctx, t, fay, `document.querySelector("#btn-screen").click()`, nil)
	for {
		c, err := browsertest.SampleVideo(ctx, pia.tab, tileSel(fay.id, "screen"))
		if err == nil && browsertest.MagentaTestPattern(c) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Pia never decoded Fay's screen share; last sample %v (%v)", c, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	screen := fay.id + "/screen"
	waitBoxes(ctx, t, pia, "the screen share does not fill the phone's width above a strip of cameras", func(b map[string]tileBox) bool {
		s, f, p := b[screen], b[camKey(fay)], b[camKey(pia)]
		return s.OnStage && s.W >= 0.9*390 && f.area() > 0 && p.area() > 0 &&
			f.H <= 80 && p.H <= 80 && f.Top >= s.Bottom && p.Top >= s.Bottom
	}, screen, camKey(fay), camKey(pia))
}
