package e2e

import (
	"context"
	"fmt"
	"testing"

	"conclave/e2ee"
	"conclave/internal/browsertest"
)

// offBeforeJoining turns the pre-join screen's devices (the suffixes of their buttons:
// "mic", "camera") off once each is open: the microphone stays open but muted, the
// camera is closed.
func offBeforeJoining(devices ...string) func(ctx context.Context, t *testing.T, tab browsertest.Tab) {
	return func(ctx context.Context, t *testing.T, tab browsertest.Tab) {
		t.Helper()
		for _, d := range devices {
			// Open first (its select lists the devices once permission is given).
			if err := tab.WaitFor(ctx, fmt.Sprintf(`document.body.dataset.state === "prejoin" && document.querySelector("#prejoin-%s").getAttribute("aria-pressed") === "true" && !document.querySelector("#prejoin-%[1]s-select").disabled`, d)); err != nil {
				t.Fatalf("the pre-join %s: %v", d, err)
			}
			if err := tab.WaitFor(ctx, fmt.Sprintf(`(() => { document.querySelector("#prejoin-%s").click(); return document.querySelector("#prejoin-%[1]s").getAttribute("aria-pressed") === "false"; })()`, d)); err != nil {
				t.Fatalf("turning the pre-join %s off: %v", d, err)
			}
		}
	}
}

// publishDecided is true once a joined page has either opened its publish connection
// or decided it has nothing to send ("idle"), whichever this client does.
const publishDecided = `["idle", "published", "publish-failed"].includes(window.conclave.debug().step)`

// TestListenersOpenNoPublishConnection: who joins with microphone and camera off opens
// no publish connection, so a webinar's listening audience costs the server none (an
// idle one cost it 260–300 KB and 15 goroutines each); the listeners still see and hear
// the meeting. The first thing one sends opens it, received by the others: a Chromium
// tab's camera, a Firefox tab's microphone, another Chromium tab's screen share (which
// opens it without microphone or camera). In an end-to-end encrypted meeting and in one
// without (no keys to wait for before the connection opens).
func TestListenersOpenNoPublishConnection(t *testing.T) {
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	for _, tc := range []struct{ name, body string }{
		{"encrypted", `{"settings":{"lobby":false,"screenShare":true}}`},
		{"unencrypted", `{"e2ee":false,"settings":{"lobby":false,"screenShare":true}}`},
	} {
		t.Run(tc.name, func(t *testing.T) { listenersOpenNoPublishConnection(t, tc.body) })
	}
}

func listenersOpenNoPublishConnection(t *testing.T, meeting string) {
	srv := startServer(t)
	m := srv.createMeetingWith(t, meeting)
	ctx, cancel := testContext()
	defer cancel()
	url := srv.pageURL(m, m.fragment())
	sam := joinAt(ctx, t, srv, browsertest.KindChromium, m, "Sam", m.fragment(), false)
	allOff := offBeforeJoining("mic", "camera")
	lia := joinWithOptions(ctx, t, browsertest.KindChromium, url, "Lia", joinOptions{prejoin: allOff})
	fin := joinWithOptions(ctx, t, browsertest.KindFirefox, url, "Fin", joinOptions{prejoin: allOff})
	ivy := joinWithOptions(ctx, t, browsertest.KindChromium, url, "Ivy", joinOptions{prejoin: allOff, fakeScreen: true})
	listeners := []*participant{lia, fin, ivy}

	waitFor(ctx, t, sam, "publishing", `window.conclave.debug().step === "published"`)
	for _, p := range listeners {
		waitFor(ctx, t, p, "the publish connection opened or not", publishDecided)
	}
	if n := srv.engine.Stats().PublishConnections; n != 1 {
		t.Errorf("%d publish connections with three listeners and one speaker, want 1", n)
	}
	for _, p := range listeners {
		var step string
		evalOK(ctx, t, p, `window.conclave.debug().step`, &step)
		if step != "idle" {
			t.Errorf("%s (%s) sends nothing, and its page's publishing step is %q, want idle", p.name, p.kind, step)
		}
	}
	waitSameColour(ctx, t, lia, sam, "camera")
	waitHeard(ctx, t, fin, sam)

	clickIn(ctx, t, lia, "#btn-camera")
	waitSameColour(ctx, t, sam, lia, "camera")
	waitSameColour(ctx, t, fin, lia, "camera")
	clickIn(ctx, t, fin, "#btn-mic")
	waitHeard(ctx, t, sam, fin)
	clickIn(ctx, t, ivy, "#btn-screen")
	waitMagenta(ctx, t, sam, ivy)
	waitMagenta(ctx, t, fin, ivy)
	if n := srv.engine.Stats().PublishConnections; n != 4 {
		t.Errorf("%d publish connections once all four sent something, want 4", n)
	}
}

// TestListenerRotatesBeforeItSends: a member who listens (microphone and camera off)
// puts off the rotation of its key for a leave until it sends (in a webinar every
// listener would otherwise send a batch to every member at every leave), and then
// rotates before its first frame: with the server as the attacker, relaying her frames
// to the one who left, no key he held for her, nor any he can ratchet to, opens one of
// them. The control: her own keys open them. A Chromium listener, a Chromium member who
// leaves and a Firefox member who sees her camera.
func TestListenerRotatesBeforeItSends(t *testing.T) {
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	frames := newServerFrames()
	srv := startServerWithTap(t, frames.tap)
	m := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	url := srv.pageURL(m, m.fragment())
	lia := joinWithOptions(ctx, t, browsertest.KindChromium, url, "Lia", joinOptions{prejoin: offBeforeJoining("mic", "camera"), testHooks: true})
	dan := joinAt(ctx, t, srv, browsertest.KindChromium, m, "Dan", m.fragment(), true)
	fin := joinURL(ctx, t, browsertest.KindFirefox, srv.cameraOffURL(m, m.fragment()), "Fin", false)
	waitSameColour(ctx, t, fin, dan, "camera")
	waitSameColour(ctx, t, lia, dan, "camera") // so that his tile's going says she saw him leave

	// Dan holds Lia's key (she sent it when he joined), and leaves.
	var held map[string]map[string]string
	waitFor(ctx, t, dan, "Lia's key", fmt.Sprintf(`window.conclaveTest.exportKeys().then((k) => Object.keys(k[%q] || {}).length > 0)`, lia.id))
	if err := dan.tab.Eval(ctx, `window.conclaveTest.exportKeys()`, &held); err != nil {
		t.Fatal(err)
	}
	danRing, err := ringFrom(held[lia.id])
	if err != nil {
		t.Fatal(err)
	}
	if err := dan.tab.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*participant{lia, fin} {
		waitFor(ctx, t, p, "Dan gone", fmt.Sprintf(`!document.querySelector(%q)`, `.tile[data-participant-id="`+dan.id+`"]`))
	}

	clickIn(ctx, t, lia, "#btn-camera")
	waitSameColour(ctx, t, fin, lia, "camera")
	frames.wait(ctx, t, lia.id, 30)
	var own map[string]map[string]string
	if err := lia.tab.Eval(ctx, `window.conclaveTest.exportKeys()`, &own); err != nil {
		t.Fatal(err)
	}
	liaRing, err := ringFrom(own[lia.id])
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	for i, f := range frames.of(lia.id) {
		if _, err := e2ee.DecryptFrame(danRing, lia.id, f.data, e2ee.VP8, e2ee.Camera); err == nil {
			t.Fatalf("Lia's frame %d opens with a key Dan held or can ratchet to", i)
		}
		if _, err := e2ee.DecryptFrame(liaRing, lia.id, f.data, e2ee.VP8, e2ee.Camera); err == nil {
			opened++
		}
	}
	if opened == 0 {
		t.Fatal("control: Lia's own keys open none of her frames; the check above would prove nothing")
	}
}
