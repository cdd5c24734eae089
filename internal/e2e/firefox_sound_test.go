package e2e

import (
	"fmt"
	"testing"

	"conclave/internal/browsertest"
)

// TestKnockChimeFirefox: a moderator in Firefox hears the knock chime when a guest
// in Chromium knocks (TestKnockAlerts checks it in Chromium). Firefox plays sound
// only with an output device: browsertest gives it a silent PulseAudio sink.
func TestKnockChimeFirefox(t *testing.T) {
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.NeedsSound(t, browsertest.Shared(t, browsertest.KindFirefox))
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{}`)
	ctx, cancel := testContext()
	defer cancel()

	// The chime and the title are checked, no picture: the cameras stay off (cameraOffURL).
	modTab := openMeeting(ctx, t, browsertest.KindFirefox, srv.cameraOffURL(links, links.moderatorFragment()))
	loadTestHooks(ctx, t, modTab)
	knock(ctx, t, modTab, "Mona")
	mona := &participant{name: "Mona", kind: browsertest.KindFirefox, tab: modTab}
	waitFor(ctx, t, mona, "joined as moderator", `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`)
	var base string
	if err := modTab.Eval(ctx, `document.title`, &base); err != nil {
		t.Fatal(err)
	}
	var peak float64
	if err := modTab.Eval(ctx, `window.conclaveTest.audioOutputPeak()`, &peak); err != nil || peak != 0 {
		t.Fatalf("sound before any knock: %v (%v)", peak, err)
	}

	guestTab := openMeeting(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()))
	knock(ctx, t, guestTab, "Gus")
	waitFor(ctx, t, mona, "count in the title", fmt.Sprintf(`document.title === %q`, "(1) "+base))
	waitFor(ctx, t, mona, "the chime reached the speakers", `window.conclaveTest.audioOutputPeak() > 0.01`)
}

// TestDevicesSoundFirefox: the devices panel's sound items in Firefox (the
// Chromium side is in TestSwitchDevicesKeepsEncryption). Fay, in Firefox, plays
// the test sound and it is a tone; she switches to the test tone microphone
// (made with WebAudio in her page) and Ann, in Chromium, hears it.
func TestDevicesSoundFirefox(t *testing.T) {
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.NeedsSound(t, browsertest.Shared(t, browsertest.KindFirefox))
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	ctx, cancel := testContext()
	defer cancel()

	// Sound only: the cameras stay off (cameraOffURL).
	hooks := joinOptions{testHooks: true}
	fay := joinWithOptions(ctx, t, browsertest.KindFirefox, srv.cameraOffURL(links, links.fragment()), "Fay", hooks)
	ann := joinWithOptions(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()), "Ann", hooks)
	waitOK(ctx, t, ann, audioJS(fay.id)+`.then(a => a.packets > 20)`, "no audio from Fay")

	// Click "Play test sound" and listen to what the element plays, from the moment it
	// starts playing until it stops.
	openDevices(ctx, t, fay)
	var tone struct {
		Playing bool    `json:"playing"`
		Level   float64 `json:"level"`
	}
	evalOK(ctx, t, fay, `(async () => {
		const a = document.querySelector("#device-test-audio");
		const ctx = new AudioContext();
		await ctx.resume();
		const an = ctx.createAnalyser();
		const buf = new Float32Array(an.fftSize);
		const out = { playing: false, level: 0, tapped: false };
		a.play = function () {
			ctx.createMediaStreamSource(a.srcObject).connect(an);
			out.tapped = true;
			return HTMLMediaElement.prototype.play.call(a);
		};
		document.querySelector("#device-test-sound").click();
		const sleep = (ms) => new Promise(r => setTimeout(r, ms));
		for (let i = 0; i < 1000 && !(out.tapped && a.dataset.playing === "true"); i++) await sleep(10);
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
	if !tone.Playing || tone.Level < 0.05 {
		t.Fatalf("the test sound in Firefox: %+v, want a tone", tone)
	}

	// The tone microphone: its WebAudio runs in Firefox, and Ann hears its energy.
	before := audioFrom(ctx, t, ann, fay)
	chooseDevice(ctx, t, fay, "#device-mic", testMic)
	waitOK(ctx, t, fay, `document.querySelector("#btn-mic").getAttribute("aria-pressed") === "true" && window.conclaveTest.toneState() === "running"`,
		"Fay's microphone is not the running test tone after the switch")
	err := ann.tab.WaitFor(ctx, fmt.Sprintf(`%s.then(a => a.packets > %d && a.energy > %g)`, audioJS(fay.id), before.Packets+2*audioPacketsASecond, before.Energy+0.01))
	if err != nil {
		t.Fatalf("Fay's tone did not reach Ann: before %+v, now %+v (%v)", before, audioFrom(ctx, t, ann, fay), err)
	}
}
