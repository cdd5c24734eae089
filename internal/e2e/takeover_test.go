package e2e

import (
	"fmt"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// TestKnockAgainTakesOverALostAdmission: Gus (Chromium) knocks at Mona's end-to-end
// encrypted meeting (Firefox, moderator, camera on). His path dies without a close
// (the proxy freezes it, as in TestDeadPathNoticedByTheHeartbeat), and only then does
// Mona admit his knock: the welcome goes down the dead path, and the server holds a
// member nobody is behind. His page notices at its heartbeat and knocks again with
// its knock's secret, which takes that membership over (PROTOCOL.md "Knocking again",
// signaling/takeover.go): Gus comes straight into the meeting under the admitted id,
// without a second admission, with encrypted video decoded both ways. Mona's page
// lists him once (no ghost member beside him) and shows no second knock of his, in
// the waiting list or on a knock card. Without the takeover his knock again is a new
// knock: his page waits in the waiting room for a second admission.
//
// The order does not depend on timers: his page's new connections are refused (the
// proxy holds them) until Mona's page shows him admitted, so the server has let the
// old knock in before the knock again can reach it, however soon the page notices.
func TestKnockAgainTakesOverALostAdmission(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	// A grace for resumes: were the server's heartbeat timeout (40–60 s) first to notice
	// the dead path, the admitted membership is parked, not gone, and is taken over
	// from there.
	srv := startServerWith(t, serverOptions{resumeGrace: 90 * time.Second})
	links := srv.createMeetingWith(t, `{}`) // waiting room on, end-to-end encrypted
	ctx, cancel := testContext()
	defer cancel()

	mona := joinModeratorTab(ctx, t, srv, browsertest.KindFirefox, links, "Mona")
	line := startCutProxy(t, srv.url)
	gus := &participant{name: "Gus", kind: browsertest.KindChromium}
	gus.tab = openMeeting(ctx, t, gus.kind, line.url(srv.pageURL(links, links.fragment())))
	knock(ctx, t, gus.tab, gus.name)
	waitFor(ctx, t, gus, "in the waiting room", `document.body.dataset.state === "lobby"`)
	knockID := knockerID(ctx, t, mona.tab)
	// His link proven before the path dies: Mona's Admit is the plain one.
	waitFor(ctx, t, mona, "Gus's link verified", waitingEntryJS(knockID, `e.dataset.link === "verified"`))
	// Every state his page goes through from now on, and whether it knocked again.
	evalOK(ctx, t, gus, `(() => {
		window.statesSeen = [];
		window.reknockSeen = false;
		new MutationObserver(() => {
			window.statesSeen.push(document.body.dataset.state);
			if (document.body.dataset.reknocking === "true") window.reknockSeen = true;
		}).observe(document.body, { attributes: true, attributeFilter: ["data-state", "data-reknocking"] });
		return true;
	})()`, nil)

	start := time.Now()
	line.hold()
	line.freeze()
	if id := admitInBrowser(ctx, t, mona.tab, gus.name); id != knockID {
		t.Fatalf("Mona admitted %s, Gus's knock is %s", id, knockID)
	}
	gus.id = knockID
	// The server let the old knock in: Mona's roster has him, her waiting list not.
	waitFor(ctx, t, mona, "Gus admitted", fmt.Sprintf(`window.conclave.waiting().length === 0 &&
		window.conclave.participants().some((p) => p.id === %q) &&
		!document.querySelector("#waiting-list .waiting-entry") && document.querySelector("#knock-card").hidden`, knockID))
	var state string
	evalOK(ctx, t, gus, `document.body.dataset.state`, &state)
	if state != "lobby" {
		t.Fatalf("Gus's page is %q: the welcome went down a frozen path, it must still wait", state)
	}
	// From here on, any knock of his on Mona's page (a waiting-list entry or the knock
	// card shown) is a second knock.
	evalOK(ctx, t, mona, `(() => {
		window.laterKnocks = { entries: [], cards: 0 };
		const list = document.querySelector("#waiting-list"), card = document.querySelector("#knock-card");
		new MutationObserver(() => {
			for (const e of list.querySelectorAll(".waiting-entry")) window.laterKnocks.entries.push(e.dataset.participantId);
		}).observe(list, { childList: true, subtree: true });
		new MutationObserver(() => { if (!card.hidden) window.laterKnocks.cards++; })
			.observe(card, { attributes: true, attributeFilter: ["hidden"] });
		return true;
	})()`, nil)
	line.release()

	// His page knocks again after its heartbeat gave the path up; it lands in the
	// meeting (the takeover) or back in the waiting room (a new knock).
	waitFor(ctx, t, gus, "knocked again", `window.reknockSeen && !document.body.dataset.reknocking &&
		(document.body.dataset.state === "joined" ||
		 (document.body.dataset.state === "lobby" && document.querySelector("#lobby-note").dataset.i18n.startsWith("lobby.reknocked")))`)
	t.Logf("Gus's page knocked again after %s", time.Since(start).Round(100*time.Millisecond))
	var shown struct {
		State   string `json:"state"`
		Meeting bool   `json:"meeting"`
		Lobby   bool   `json:"lobby"`
		ID      string `json:"id"`
	}
	evalOK(ctx, t, gus, `({
		state: document.body.dataset.state,
		meeting: getComputedStyle(document.querySelector("#meeting")).display !== "none",
		lobby: getComputedStyle(document.querySelector("#lobby")).display !== "none",
		id: window.conclave.participantId || "",
	})`, &shown)
	if shown.State != "joined" || !shown.Meeting || shown.Lobby {
		t.Fatalf("after knocking again Gus's page is %+v: it waits for a second admission instead of taking the admitted one over", shown)
	}
	if shown.ID != knockID {
		t.Fatalf("Gus is in as %q, not as the member Mona admitted (%s)", shown.ID, knockID)
	}
	// In under the admitted id, encrypting with Mona verified both ways, video both ways.
	backInMeeting(ctx, t, gus, mona, "participant")

	var others []string
	evalOK(ctx, t, mona, fmt.Sprintf(`window.conclave.participants().map((p) => p.id).filter((id) => id !== %q)`, mona.id), &others)
	if len(others) != 1 || others[0] != knockID {
		t.Fatalf("Mona's roster besides herself is %v, want Gus (%s) alone: a ghost member or a second Gus", others, knockID)
	}
	var later struct {
		Entries []string `json:"entries"`
		Cards   int      `json:"cards"`
		Waiting int      `json:"waiting"`
	}
	evalOK(ctx, t, mona, `({ ...window.laterKnocks, waiting: window.conclave.waiting().length })`, &later)
	if len(later.Entries) != 0 || later.Cards != 0 || later.Waiting != 0 {
		t.Fatalf("Mona's page showed Gus knocking again after his admission: waiting-list entries %v, knock card shown %d times, %d waiting", later.Entries, later.Cards, later.Waiting)
	}
	var states []string
	evalOK(ctx, t, gus, `window.statesSeen`, &states)
	for _, s := range states {
		if s != "lobby" && s != "joined" {
			t.Fatalf("Gus's page went through %q on its way in (states %v)", s, states)
		}
	}
}
