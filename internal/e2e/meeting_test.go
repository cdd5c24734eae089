package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// audioContextsJS runs before a page and keeps every AudioContext it makes in
// window.__audioContexts.
const audioContextsJS = `(() => {
	const made = window.__audioContexts = [];
	const Page = window.AudioContext;
	if (Page) window.AudioContext = class extends Page { constructor(...a) { super(...a); made.push(this); } };
})()`

// TestThreeBrowsersMeet: two Chromium tabs and one Firefox tab join one end-to-end
// encrypted meeting with the full link (#k=…). Each encrypts with the API of its engine
// (Chromium: legacy encoded streams, Firefox: RTCRtpScriptTransform), verifies the
// others and shows the same safety code; each decodes the other two's cameras (pixels
// match the sender's own preview) and receives their audio; names and a chat message
// (encrypted on the wire) appear in clear in the other tabs; a screen share from the
// Firefox tab shows its test pattern in a Chromium tab; a tab that leaves disappears
// from the others' grids. With speaker detection on, the server reads the audio level
// Fay's browser sends beside her encrypted audio, and her tile shows her speaking; so
// no page analyses the sound itself, and its AudioContext sleeps in the meeting.
func TestThreeBrowsersMeet(t *testing.T) {
	t.Parallel()
	// Launch (or reuse) both browsers before the test's own clock starts.
	srv, meeting := encryptedMeeting(t)
	ctx, cancel := testContext()
	defer cancel()

	ann := joinWithOptions(ctx, t, browsertest.KindChromium, srv.pageURL(meeting, meeting.fragment()), "Ann", joinOptions{preload: audioContextsJS})
	ben := joinTab(ctx, t, srv, browsertest.KindChromium, meeting, "Ben", false)
	fay := joinWithOptions(ctx, t, browsertest.KindFirefox, srv.pageURL(meeting, meeting.fragment()), "Fay", joinOptions{preload: audioContextsJS, fakeScreen: true})
	all := []*participant{ann, ben, fay}

	// The server tells who speaks, so no page analyses the sound itself: the AudioContext
	// its pre-join level meter made sleeps once it has joined (speaker.js).
	for _, p := range []*participant{ann, fay} {
		waitOK(ctx, t, p, `window.__audioContexts.length > 0 && window.__audioContexts.every((c) => c.state === "suspended")`,
			"a page's AudioContext still runs in the meeting")
	}

	// Everyone encrypts, verified the other two, and shows the same ten-word code
	// (safetyCode() is "" while the code of a changed roster is being computed).
	codes := map[string]string{}
	for _, p := range all {
		api := "legacy"
		if p.kind == browsertest.KindFirefox {
			api = "script"
		}
		js := fmt.Sprintf(`(() => { const e = window.conclave.e2ee;
			return e.enabled && e.api === %q && e.verified().length === 2 && e.unverified().length === 0 &&
				document.querySelector("#e2ee-status")?.dataset.state === "on" &&
				document.querySelector("#safety-code").textContent === e.safetyCode() && e.safetyCode().split(" ").length === 10 &&
				[...document.querySelectorAll("#safety-code .safety-code-line")].map((l) => l.textContent.split(" ").length).join() === "5,5"; })()`, api)
		if err := p.tab.WaitFor(ctx, js); err != nil {
			t.Fatalf("%s (%s) is not encrypting with everyone verified: %v", p.name, p.kind, err)
		}
		var code string
		if err := p.tab.Eval(ctx, `document.querySelector("#safety-code").textContent`, &code); err != nil {
			t.Fatal(err)
		}
		codes[p.name] = code
	}
	if codes["Ann"] != codes["Ben"] || codes["Ann"] != codes["Fay"] {
		t.Fatalf("safety codes differ: %v", codes)
	}
	// Names travel inside the key envelopes (e2ee/FORMAT.md, "Names") and show in clear
	// once each member's envelope came.
	for _, p := range all {
		if err := p.tab.WaitFor(ctx, `JSON.stringify(window.conclave.participants().map(x => x.name).sort()) === '["Ann","Ben","Fay"]'`); err != nil {
			var names []string
			_ = p.tab.Eval(ctx, `window.conclave.participants().map(x => x.name).sort()`, &names)
			t.Fatalf("%s sees the names %v: %v", p.name, names, err)
		}
	}

	// Everyone sees everyone's camera, decoded into the sender's colours.
	for _, recv := range all {
		for _, send := range all {
			if recv != send {
				waitSameColour(ctx, t, recv, send, "camera")
			}
		}
	}
	// Everyone receives everyone else's audio, and plays it.
	for _, recv := range all {
		for _, send := range all {
			if recv == send {
				continue
			}
			js := fmt.Sprintf(`window.conclave.stats().then(s => s.audio.some(a => a.participantId === %q && a.packetsReceived > 20 && a.totalSamplesReceived > 0))`, send.id)
			if err := recv.tab.WaitFor(ctx, js); err != nil {
				t.Fatalf("%s receives no audio from %s: %v", recv.name, send.name, err)
			}
		}
	}

	// Who speaks: Firefox's fake microphone is a steady tone, so the server, reading only
	// the level header beside the encrypted audio, says that Fay speaks; her camera tile
	// shows it (outline and a labelled icon) in a Chromium tab and in her own Firefox tab.
	// (Chromium's fake microphone only beeps for an instant: too short to count.)
	for _, p := range []*participant{ann, fay} {
		js := fmt.Sprintf(`!!document.querySelector('.tile[data-participant-id=%q][data-source="camera"][data-speaking="true"] > .tile-speaking[role="img"][aria-label]')`, fay.id)
		if err := p.tab.WaitFor(ctx, js); err != nil {
			t.Fatalf("%s does not show Fay speaking: %v", p.name, err)
		}
	}
	// And so does her entry in the people list (opened in her tab, then closed again).
	if err := fay.tab.Eval(ctx, `document.querySelector("#btn-people").click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := fay.tab.WaitFor(ctx, fmt.Sprintf(`!!document.querySelector('#people-list > .person[data-participant-id=%q][data-speaking="true"] > .person-speaking[role="img"][aria-label]')`, fay.id)); err != nil {
		t.Fatalf("Fay's people list does not show her speaking: %v", err)
	}
	if err := fay.tab.Eval(ctx, `document.querySelector("#btn-people").click()`, nil); err != nil {
		t.Fatal(err)
	}

	// Frames were encrypted and decrypted in every tab.
	for _, p := range all {
		if err := p.tab.WaitFor(ctx, `(() => { const s = window.conclave.e2ee.stats(); return s.encrypted > 50 && s.decrypted > 50; })()`); err != nil {
			t.Fatalf("%s: frame counters: %v", p.name, err)
		}
	}

	// Chat: typed and sent in Ann's tab, shown in Ben's and Fay's with Ann as sender.
	const text = "Agenda: budget, then hiring <b>not bold</b>"
	if err := ann.tab.Eval(ctx, fmt.Sprintf(`(() => {
		const i = document.querySelector("#chat-input");
		i.value = %q;
		i.dispatchEvent(new Event("input", {bubbles: true}));
		document.querySelector("#chat-send").click();
		return true;
	})()`, text), nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*participant{ben, fay} {
		js := fmt.Sprintf(`[...document.querySelectorAll(".chat-message")].some(m => m.dataset.from === %q && m.querySelector(".chat-text").textContent === %q)`, ann.id, text)
		if err := p.tab.WaitFor(ctx, js); err != nil {
			t.Fatalf("%s did not show Ann's chat message: %v", p.name, err)
		}
		var injected bool
		if err := p.tab.Eval(ctx, `!!document.querySelector("#chat-messages b")`, &injected); err != nil || injected {
			t.Fatalf("%s rendered chat text as HTML (err %v)", p.name, err)
		}
	}

	// Screen share from Firefox (the magenta test pattern) reaches Ann as a screen tile.
	if err := fay.tab.Eval(ctx, `document.querySelector("#btn-screen").click()`, nil); err != nil {
		t.Fatal(err)
	}
	var last browsertest.VideoColor
	for {
		c, err := browsertest.SampleVideo(ctx, ann.tab, tileSel(fay.id, "screen"))
		if err == nil && browsertest.MagentaTestPattern(c) {
			break
		}
		last = c
		select {
		case <-ctx.Done():
			t.Fatalf("Ann never decoded Fay's screen share; last sample %v", last)
		case <-time.After(200 * time.Millisecond):
		}
	}

	// Ben leaves; his tiles disappear from Ann's and Fay's grids.
	if err := ben.tab.Eval(ctx, `document.querySelector("#btn-leave").click()`, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*participant{ann, fay} {
		js := fmt.Sprintf(`!document.querySelector('.tile[data-participant-id="%s"]') && window.conclave.participants().every(x => x.id !== %q)`, ben.id, ben.id)
		leaveCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := p.tab.WaitFor(leaveCtx, js)
		cancel()
		if err != nil {
			t.Fatalf("Ben still in %s's grid: %v", p.name, err)
		}
	}
	if err := ben.tab.WaitFor(ctx, `document.body.dataset.state === "left"`); err != nil {
		t.Fatal(err)
	}
}
