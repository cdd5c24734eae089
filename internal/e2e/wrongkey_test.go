package e2e

import (
	"context"
	"fmt"
	"testing"

	"conclave/internal/browsertest"
)

// waitAudio waits until recv receives and plays send's microphone.
func waitAudio(ctx context.Context, t *testing.T, recv, send *participant) {
	t.Helper()
	js := fmt.Sprintf(`window.conclave.stats().then(s => s.audio.some(a => a.participantId === %q && a.packetsReceived > 20 && a.totalSamplesReceived > 0))`, send.id)
	if err := recv.tab.WaitFor(ctx, js); err != nil {
		t.Fatalf("%s receives no audio from %s: %v", recv.name, send.name, err)
	}
}

// TestWrongKeyDecodesNothing: three tabs (two Chromium, one Firefox) with the full link
// and one Chromium tab whose link carries a different key. The three decode each
// other's video and audio and show the same safety code; they show the fourth as
// unverified (tile and participant list), give it no key and decode none of its
// frames; the fourth decodes nothing, chat reaches it only as "(unreadable)", and no
// name reaches it at all: names travel only in key envelopes (e2ee/FORMAT.md, "Names"),
// so it shows every other member as "Name unknown", and they show it so.
func TestWrongKeyDecodesNothing(t *testing.T) {
	t.Parallel()
	srv, m := encryptedMeeting(t)
	ctx, cancel := testContext()
	defer cancel()

	ann := joinTab(ctx, t, srv, browsertest.KindChromium, m, "Ann", false)
	ben := joinTab(ctx, t, srv, browsertest.KindChromium, m, "Ben", false)
	fay := joinTab(ctx, t, srv, browsertest.KindFirefox, m, "Fay", false)
	wrong := m
	wrong.Key = newMeetingKey(t)
	eve := joinTab(ctx, t, srv, browsertest.KindChromium, wrong, "Eve", false)
	good := []*participant{ann, ben, fay}

	for _, recv := range good {
		for _, send := range good {
			if recv != send {
				waitSameColour(ctx, t, recv, send, "camera")
				waitAudio(ctx, t, recv, send)
			}
		}
	}

	// The three verified each other, not Eve, and agree on the code; Eve's differs.
	var code string
	for _, p := range good {
		js := fmt.Sprintf(`(() => { const e = window.conclave.e2ee;
			return e.verified().length === 2 && !e.verified().includes(%[1]q) && e.unverified().includes(%[1]q) &&
				!!document.querySelector('.tile[data-participant-id=%[1]q] .e2ee-unverified[data-participant-id=%[1]q]') &&
				document.querySelector("#safety-code").textContent === e.safetyCode() && e.safetyCode().split(" ").length === 10; })()`, eve.id)
		if err := p.tab.WaitFor(ctx, js); err != nil {
			t.Fatalf("%s does not show Eve as unverified: %v", p.name, err)
		}
		var c string
		if err := p.tab.Eval(ctx, `document.querySelector("#safety-code").textContent`, &c); err != nil {
			t.Fatal(err)
		}
		if code == "" {
			code = c
		} else if c != code {
			t.Fatalf("%s shows the safety code %q, Ann %q", p.name, c, code)
		}
	}
	// The warning is in the participant list too, with its text.
	if err := ann.tab.Eval(ctx, `document.querySelector("#btn-people").click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := ann.tab.WaitFor(ctx, fmt.Sprintf(`/wrong key/.test(document.querySelector('#people-list .person[data-participant-id=%[1]q] .e2ee-unverified[data-participant-id=%[1]q]')?.textContent || "")`, eve.id)); err != nil {
		t.Fatalf("Ann's participant list does not warn about Eve: %v", err)
	}
	if err := eve.tab.WaitFor(ctx, `window.conclave.e2ee.unverified().length === 3 && window.conclave.e2ee.verified().length === 0`); err != nil {
		t.Fatalf("Eve verified someone: %v", err)
	}
	var eveCode string
	if err := eve.tab.WaitFor(ctx, `window.conclave.e2ee.safetyCode() !== ""`); err != nil {
		t.Fatalf("Eve shows no safety code: %v", err)
	}
	if err := eve.tab.Eval(ctx, `window.conclave.e2ee.safetyCode()`, &eveCode); err != nil || eveCode == code {
		t.Fatalf("Eve's safety code %q equals the others' (%v)", eveCode, err)
	}

	// Chat from Ann: clear for Ben, "(unreadable)" for Eve; no name for either side.
	const text = "only for those with the key"
	if err := ann.tab.Eval(ctx, fmt.Sprintf(`(() => {
		const i = document.querySelector("#chat-input");
		i.value = %q;
		document.querySelector("#chat-send").click();
		return true;
	})()`, text), nil); err != nil {
		t.Fatal(err)
	}
	chatJS := func(want string) string {
		return fmt.Sprintf(`[...document.querySelectorAll(".chat-message")].some(m => m.dataset.from === %q && m.querySelector(".chat-text").textContent === %q)`, ann.id, want)
	}
	if err := ben.tab.WaitFor(ctx, chatJS(text)); err != nil {
		t.Fatalf("Ben did not get Ann's message: %v", err)
	}
	if err := eve.tab.WaitFor(ctx, chatJS("(unreadable)")); err != nil {
		t.Fatalf("Eve did not show Ann's message as unreadable: %v", err)
	}
	var leaked bool
	if err := eve.tab.Eval(ctx, fmt.Sprintf(`document.body.innerText.includes(%q) || document.body.innerText.includes("e1.") || window.conclave.participants().some(p => p.name === "Ann")`, text), &leaked); err != nil || leaked {
		t.Fatalf("Eve's page shows plaintext or ciphertext (err %v)", err)
	}
	var names []string
	if err := ann.tab.Eval(ctx, `window.conclave.participants().map(p => p.name).sort()`, &names); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(names) != "[Ann Ben Fay Name unknown]" {
		t.Fatalf("Ann sees the names %v", names)
	}
	if err := eve.tab.WaitFor(ctx, `(() => { const n = window.conclave.participants().map(p => p.name).sort();
		return JSON.stringify(n) === JSON.stringify(["Eve", "Name unknown", "Name unknown", "Name unknown"]) &&
			[...document.querySelectorAll('.tile[data-self="false"] .tile-name')].every(e => e.textContent === "Name unknown"); })()`); err != nil {
		var got []string
		_ = eve.tab.Eval(ctx, `window.conclave.participants().map(p => p.name)`, &got)
		t.Fatalf("Eve sees the names %v: %v", got, err)
	}

	// Frames reached Eve and the others, but nothing of Eve's decodes anywhere and she
	// decodes nothing.
	if err := eve.tab.WaitFor(ctx, `window.conclave.e2ee.stats().decryptFailed > 100`); err != nil {
		t.Fatalf("no frames reached Eve: %v", err)
	}
	var eveSees struct {
		Decrypted int `json:"decrypted"`
		Frames    int `json:"frames"`
		Pictures  int `json:"pictures"`
	}
	if err := eve.tab.Eval(ctx, `window.conclave.stats().then(s => ({
		decrypted: window.conclave.e2ee.stats().decrypted,
		frames: s.video.reduce((n, v) => n + v.framesDecoded, 0),
		pictures: [...document.querySelectorAll('.tile[data-self="false"] video')].filter(v => v.videoWidth > 0).length,
	}))`, &eveSees); err != nil {
		t.Fatal(err)
	}
	if eveSees.Decrypted != 0 || eveSees.Frames != 0 || eveSees.Pictures != 0 {
		t.Fatalf("Eve decoded something: %+v", eveSees)
	}
	// Audio alike: packets reach Eve, but not one sample is decoded or played.
	var eveAudio []struct {
		PacketsReceived      int     `json:"packetsReceived"`
		TotalSamplesReceived int     `json:"totalSamplesReceived"`
		TotalAudioEnergy     float64 `json:"totalAudioEnergy"`
	}
	if err := eve.tab.Eval(ctx, `window.conclave.stats().then(s => s.audio)`, &eveAudio); err != nil {
		t.Fatal(err)
	}
	if len(eveAudio) != 3 {
		t.Fatalf("Eve receives %d audio tracks, want 3", len(eveAudio))
	}
	for _, a := range eveAudio {
		if a.PacketsReceived == 0 || a.TotalSamplesReceived != 0 || a.TotalAudioEnergy != 0 {
			t.Fatalf("Eve's audio: %+v", eveAudio)
		}
	}
	for _, p := range good {
		for _, send := range good {
			if p == send {
				continue
			}
			js := fmt.Sprintf(`window.conclave.stats().then(s => s.audio.some(a => a.participantId === %q && a.totalAudioEnergy > 0))`, send.id)
			if err := p.tab.WaitFor(ctx, js); err != nil {
				t.Fatalf("%s plays no sound of %s: %v", p.name, send.name, err)
			}
		}
	}
	for _, p := range good {
		var frames int
		js := fmt.Sprintf(`window.conclave.stats().then(s => s.video.filter(v => v.participantId === %q).reduce((n, v) => n + v.framesDecoded, 0))`, eve.id)
		if err := p.tab.Eval(ctx, js, &frames); err != nil || frames != 0 {
			t.Fatalf("%s decoded %d frames of Eve's camera (%v)", p.name, frames, err)
		}
		c, err := browsertest.SampleVideo(ctx, p.tab, tileSel(eve.id, "camera"))
		if err != nil || c.Width != 0 {
			t.Fatalf("%s shows a picture of Eve: %v (%v)", p.name, c, err)
		}
	}
}
