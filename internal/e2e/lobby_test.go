package e2e

import (
	"context"
	"testing"

	"conclave/internal/browsertest"
)

// openMeeting opens a meeting URL (with its fragment) in a new tab and presses
// nothing: the caller decides what to wait for.
func openMeeting(ctx context.Context, t *testing.T, kind browsertest.Kind, url string) browsertest.Tab {
	t.Helper()
	tab, err := browsertest.Shared(t, kind).NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := tab.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	return tab
}

// TestLobbyAdmitAndDeny: a moderator (Chromium, moderator link) and a participant
// (Firefox) who knocks; the moderator clicks Admit in its waiting-room panel and both
// then decode each other's video. A second participant (Chromium) is denied and sees a
// clear message.
func TestLobbyAdmitAndDeny(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{}`)
	ctx, cancel := testContext()
	defer cancel()

	// The moderator link carries the secret in the fragment.
	modTab := openMeeting(ctx, t, browsertest.KindChromium, srv.pageURL(links, links.moderatorFragment()))
	knock(ctx, t, modTab, "Mona")
	if err := modTab.WaitFor(ctx, `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`); err != nil {
		t.Fatalf("moderator did not join as moderator: %v", err)
	}
	mod := &participant{name: "Mona", kind: browsertest.KindChromium, tab: modTab}
	if err := modTab.Eval(ctx, `window.conclave.participantId`, &mod.id); err != nil {
		t.Fatal(err)
	}

	// Felix knocks from Firefox and waits.
	felixTab := openMeeting(ctx, t, browsertest.KindFirefox, srv.pageURL(links, links.fragment()))
	knock(ctx, t, felixTab, "Felix")
	if err := felixTab.WaitFor(ctx, `document.body.dataset.state === "lobby" && document.querySelector("#lobby-status")?.dataset.moderatorPresent === "true"`); err != nil {
		t.Fatalf("Felix is not waiting in the lobby: %v", err)
	}
	// Nothing of the meeting is on his screen.
	var leaked bool
	if err := felixTab.Eval(ctx, `document.body.innerText.includes("Mona") || document.querySelectorAll(".tile[data-self=false]").length > 0`, &leaked); err != nil || leaked {
		t.Fatalf("the waiting screen shows the meeting (err %v)", err)
	}

	// Mona sees the knock and clicks Admit.
	var felixID string
	if err := modTab.WaitFor(ctx, `[...document.querySelectorAll("#waiting-list .waiting-entry")].some(e => e.textContent.includes("Felix"))`); err != nil {
		t.Fatalf("the knock never showed in the moderator's waiting list: %v", err)
	}
	if err := modTab.Eval(ctx, `(() => {
		const e = [...document.querySelectorAll("#waiting-list .waiting-entry")].find(e => e.textContent.includes("Felix"));
		e.querySelector(".btn-admit").click();
		return e.dataset.participantId;
	})()`, &felixID); err != nil {
		t.Fatal(err)
	}
	if err := felixTab.WaitFor(ctx, `document.body.dataset.state === "joined"`); err != nil {
		t.Fatalf("Felix was not let in: %v", err)
	}
	felix := &participant{name: "Felix", kind: browsertest.KindFirefox, tab: felixTab, id: felixID}
	waitSameColour(ctx, t, mod, felix, "camera")
	waitSameColour(ctx, t, felix, mod, "camera")

	// Dora knocks from Chromium and is denied; nobody sees her: her camera stays off
	// (cameraOffURL).
	doraTab := openMeeting(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()))
	knock(ctx, t, doraTab, "Dora")
	if err := doraTab.WaitFor(ctx, `document.body.dataset.state === "lobby"`); err != nil {
		t.Fatalf("Dora is not waiting: %v", err)
	}
	if err := modTab.WaitFor(ctx, `[...document.querySelectorAll("#waiting-list .waiting-entry")].some(e => e.textContent.includes("Dora"))`); err != nil {
		t.Fatal(err)
	}
	if err := modTab.Eval(ctx, `[...document.querySelectorAll("#waiting-list .waiting-entry")].find(e => e.textContent.includes("Dora")).querySelector(".btn-deny").click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := doraTab.WaitFor(ctx, `document.body.dataset.state === "error" && document.querySelector("#meeting-error")?.dataset.code === "denied" && /declined/i.test(document.querySelector("#meeting-error").textContent)`); err != nil {
		t.Fatalf("Dora did not see a clear denial: %v", err)
	}
	// The meeting goes on for the two inside.
	var count int
	if err := modTab.Eval(ctx, `window.conclave.participants().length`, &count); err != nil || count != 2 {
		t.Fatalf("participants after the denial: %d (%v)", count, err)
	}
}

// fragmentOf returns what follows '#' in a URL.
func fragmentOf(u string) string {
	for i := range u {
		if u[i] == '#' {
			return u[i+1:]
		}
	}
	return ""
}
