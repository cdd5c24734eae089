package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"conclave/e2ee"
	"conclave/internal/browsertest"
)

// The test devices of web/testhooks/hooks.js.
const (
	testCamera = "conclave-test-camera" // flat blue rgb(0, 64, 255) with a small white square
	testMic    = "conclave-test-mic"    // a steady 660 Hz tone
)

// evalOK runs js in p's tab and fails the test on an error.
func evalOK(ctx context.Context, t *testing.T, p *participant, js string, out any) {
	t.Helper()
	if err := p.tab.Eval(ctx, js, out); err != nil {
		t.Fatalf("%s (%s): %v", p.name, p.kind, err)
	}
}

// personAction has mod take action (a data-action of the people list: "mute_microphone",
// "remove", …) on the person id from that person's menu in the people list, opening the
// menu as a person does; it waits until the action's button is there and enabled. A
// confirmation, where the action asks one, is the caller's.
func personAction(ctx context.Context, t *testing.T, mod *participant, id, action, what string) {
	t.Helper()
	menu := `document.querySelector('.participant-menu[data-participant-id="` + id + `"]')`
	button := `document.querySelector('[data-action="` + action + `"][data-participant-id="` + id + `"]')`
	waitOK(ctx, t, mod, `(() => { const m = `+menu+`; if (!m) return false; if (m.getAttribute("aria-expanded") !== "true") m.click();
		const b = `+button+`; if (!b || b.disabled) return false; b.click(); return true; })()`, what)
}

// waitOK polls js in p's tab until it is truthy and fails the test with what if it never is.
func waitOK(ctx context.Context, t *testing.T, p *participant, js, what string) {
	t.Helper()
	if err := p.tab.WaitFor(ctx, js); err != nil {
		t.Fatalf("%s (%s): %s: %v", p.name, p.kind, what, err)
	}
}

// openDevices opens the devices panel as a person does (the gear on the control bar).
func openDevices(ctx context.Context, t *testing.T, p *participant) {
	t.Helper()
	waitOK(ctx, t, p, `(() => { const panel = document.querySelector("#devices-panel");
		if (panel.hidden) document.querySelector("#btn-devices").click();
		return !panel.hidden; })()`, "the devices panel did not open")
}

// chooseDevice picks deviceId in one of the devices panel's lists, once it is listed.
func chooseDevice(ctx context.Context, t *testing.T, p *participant, sel, deviceID string) {
	t.Helper()
	openDevices(ctx, t, p)
	waitOK(ctx, t, p, fmt.Sprintf(`(() => { const s = document.querySelector(%q);
		if (![...s.options].some(o => o.value === %q)) return false;
		s.value = %q;
		s.dispatchEvent(new Event("change", { bubbles: true }));
		return true; })()`, sel, deviceID, deviceID), "the device "+deviceID+" is not in "+sel)
}

// audioFrom is what recv's browser reports about the audio it receives from send.
type audioStats struct {
	Packets int     `json:"packets"`
	Energy  float64 `json:"energy"`
}

// audioPacketsASecond is how many audio packets a test page's microphone sends a second
// while it sounds: Opus in 60 ms frames (web/testhooks/early.js).
const audioPacketsASecond = 1000 / 60

func audioJS(from string) string {
	return fmt.Sprintf(`window.conclave.stats().then(s => { const a = s.audio.filter(x => x.participantId === %q);
		return { packets: a.reduce((n, x) => n + (x.packetsReceived || 0), 0), energy: a.reduce((n, x) => n + (x.totalAudioEnergy || 0), 0) }; })`, from)
}

func audioFrom(ctx context.Context, t *testing.T, recv, send *participant) audioStats {
	t.Helper()
	var a audioStats
	evalOK(ctx, t, recv, audioJS(send.id), &a)
	return a
}

// waitBlue polls until the video at sel in p's tab shows the blue test camera.
func waitBlue(ctx context.Context, t *testing.T, p *participant, sel, what string) {
	t.Helper()
	var last browsertest.VideoColor
	for {
		c, err := browsertest.SampleVideo(ctx, p.tab, sel)
		if err == nil && c.HasPicture() && c.Mean[2] > 180 && c.Mean[0] < 60 && c.Mean[1] < 120 {
			return
		}
		last = c
		select {
		case <-ctx.Done():
			t.Fatalf("%s (%s) never showed %s; last sample %v", p.name, p.kind, what, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// assertCiphertextOnly checks the camera frames of p that the server forwards from now
// on: each is one p's transform emitted as ciphertext, none is a plaintext frame, and
// each decrypts with p's own keys to a recorded plaintext frame (the control).
func assertCiphertextOnly(ctx context.Context, t *testing.T, frames *serverFrames, p *participant) {
	t.Helper()
	var reset bool
	askWorker(ctx, t, p, `window.conclaveTest.resetFrameHashes()`, &reset)
	const skip, want = 30, 120 // frames in flight during the reset are skipped
	seen := len(frames.of(p.id))
	for len(frames.of(p.id)) < seen+skip+want {
		select {
		case <-ctx.Done():
			t.Fatalf("the server reassembled only %d frames of %s after the switch", len(frames.of(p.id))-seen, p.name)
		case <-time.After(100 * time.Millisecond):
		}
	}
	var h frameHashes
	askWorker(ctx, t, p, `window.conclaveTest.frameHashes()`, &h)
	var keys map[string]map[string]string
	evalOK(ctx, t, p, `window.conclaveTest.exportKeys()`, &keys)
	ring, err := ringFrom(keys[p.id])
	if err != nil || len(keys[p.id]) == 0 {
		t.Fatalf("%s's own keys: %v (%v)", p.name, keys[p.id], err)
	}
	plain, cipher := map[string]bool{}, map[string]bool{}
	for _, x := range h.Plain {
		plain[x] = x != ""
	}
	for _, x := range h.Cipher {
		cipher[x] = x != ""
	}
	var plainMatches, cipherMatches, decrypted int
	for _, f := range frames.of(p.id)[seen+skip : seen+skip+want] {
		sum := sha256.Sum256(f.data)
		x := hex.EncodeToString(sum[:])
		if plain[x] {
			plainMatches++
		}
		if cipher[x] {
			cipherMatches++
		}
		if pt, err := e2ee.DecryptFrame(ring, p.id, f.data, e2ee.VP8, e2ee.Camera); err == nil {
			sum := sha256.Sum256(pt)
			if plain[hex.EncodeToString(sum[:])] {
				decrypted++
			}
		}
	}
	if plainMatches != 0 || cipherMatches != want || decrypted != want {
		t.Fatalf("of %d server frames of %s (%s) after the camera switch: %d match plaintext, %d ciphertext, %d decrypt to a recorded plaintext frame (the transform recorded %d plaintext and %d ciphertext frames)",
			want, p.name, p.kind, plainMatches, cipherMatches, decrypted, len(h.Plain), len(h.Cipher))
	}
}

// TestSwitchDevicesKeepsEncryption: in an end-to-end encrypted meeting a Firefox
// participant switches its camera in the devices panel without leaving. The Chromium
// participant then decodes the new camera (its blue picture), and the server still
// sees only ciphertext (assertCiphertextOnly); the same when the Chromium participant
// switches its camera (the other insertable-streams API). The Chromium participant
// switches its microphone: its sound keeps arriving at the Firefox participant. It
// chooses a speaker: every voice and the test sound play through it, and the test
// sound is a tone.
func TestSwitchDevicesKeepsEncryption(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	frames := newServerFrames()
	srv := startServerWithTap(t, frames.tap)
	links := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	ctx, cancel := testContext()
	defer cancel()

	fay := joinAt(ctx, t, srv, browsertest.KindFirefox, links, "Fay", links.fragment(), true)
	ann := joinAt(ctx, t, srv, browsertest.KindChromium, links, "Ann", links.fragment(), true)
	waitSameColour(ctx, t, ann, fay, "camera")
	waitOK(ctx, t, ann, audioJS(fay.id)+`.then(a => a.packets > 20)`, "no audio from Fay")

	// The camera: Fay picks the blue test camera; Ann sees it, Fay's preview too.
	chooseDevice(ctx, t, fay, "#device-camera", testCamera)
	waitBlue(ctx, t, fay, `.tile[data-self="true"][data-source="camera"] video`, "the new camera in the own tile")
	waitBlue(ctx, t, ann, tileSel(fay.id, "camera"), "Fay's new camera")
	for _, p := range []*participant{fay, ann} {
		waitOK(ctx, t, p, `document.querySelector("#e2ee-status").dataset.state === "on" && window.conclave.e2ee.unverified().length === 0`,
			"end-to-end encryption is not on after the switch")
	}

	// What the server forwards of the new camera is ciphertext only.
	assertCiphertextOnly(ctx, t, frames, fay)

	// The same from Chromium (the other insertable-streams API): Ann switches too.
	chooseDevice(ctx, t, ann, "#device-camera", testCamera)
	waitBlue(ctx, t, fay, tileSel(ann.id, "camera"), "Ann's new camera")
	assertCiphertextOnly(ctx, t, frames, ann)

	// The microphone: Ann (Chromium) picks the tone; Fay keeps receiving her sound, with
	// energy in it. (The tone made in Firefox is in TestDevicesSoundFirefox.)
	before := audioFrom(ctx, t, fay, ann)
	chooseDevice(ctx, t, ann, "#device-mic", testMic)
	err := fay.tab.WaitFor(ctx, fmt.Sprintf(`%s.then(a => a.packets > %d && a.energy > %g)`, audioJS(ann.id), before.Packets+2*audioPacketsASecond, before.Energy+0.01))
	if err != nil {
		t.Fatalf("Ann's sound stopped arriving at Fay after the microphone switch: before %+v, now %+v (%v)", before, audioFrom(ctx, t, fay, ann), err)
	}
	waitOK(ctx, t, ann, `document.querySelector("#btn-mic").getAttribute("aria-pressed") === "true" && window.conclaveTest.toneState() === "running"`,
		"Ann's microphone is not the running test tone after the switch")

	// The speaker (Chromium has setSinkId): Ann picks the last output listed.
	openDevices(ctx, t, ann)
	var sink string
	evalOK(ctx, t, ann, `(() => { if (document.querySelector("#device-speaker-field").hidden) return "unsupported";
		const s = document.querySelector("#device-speaker"); return s.options.length ? s.options[s.options.length - 1].value : "none"; })()`, &sink)
	if sink == "unsupported" || sink == "none" {
		t.Fatalf("Chromium offers no speaker choice (%s)", sink)
	}
	chooseDevice(ctx, t, ann, "#device-speaker", sink)
	waitOK(ctx, t, ann, fmt.Sprintf(`(() => { const a = [...document.querySelectorAll("#audio-sink audio")];
		return a.length > 0 && a.every(x => x.sinkId === %q); })()`, sink), "the others' sound does not play through the chosen speaker")
	var tone struct {
		Sink    string  `json:"sink"`
		Playing bool    `json:"playing"`
		Level   float64 `json:"level"`
	}
	// Click "Play test sound" and listen to what the element plays, from the moment it
	// starts playing until it stops.
	evalOK(ctx, t, ann, `(async () => {
		const a = document.querySelector("#device-test-audio");
		const ctx = new AudioContext();
		await ctx.resume();
		const an = ctx.createAnalyser();
		const buf = new Float32Array(an.fftSize);
		const out = { sink: null, playing: false, level: 0 };
		a.play = function () {
			ctx.createMediaStreamSource(a.srcObject).connect(an);
			out.sink = a.sinkId;
			return HTMLMediaElement.prototype.play.call(a);
		};
		document.querySelector("#device-test-sound").click();
		const sleep = (ms) => new Promise(r => setTimeout(r, ms));
		for (let i = 0; i < 500 && !(out.sink !== null && a.dataset.playing === "true"); i++) await sleep(10);
		out.playing = a.dataset.playing === "true";
		while (a.dataset.playing === "true") {
			await sleep(10);
			an.getFloatTimeDomainData(buf);
			let s = 0;
			for (const v of buf) s += v * v;
			out.level = Math.max(out.level, Math.sqrt(s / buf.length));
		}
		delete a.play;
		ctx.close();
		return out;
	})()`, &tone)
	if tone.Sink != sink || !tone.Playing || tone.Level < 0.05 {
		t.Fatalf("the test sound: %+v, want a tone through %q", tone, sink)
	}
}
