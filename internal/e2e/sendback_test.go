package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// TestModeratorSentBackWaits: a moderator (Chromium, moderator link) sends a second
// moderator who came with the moderator link too (Firefox) back to the waiting room.
// The page knocked again by itself with the link's moderator secret, which skips the
// waiting room: a second later the person was in the meeting again, a moderator, and
// "Send back to waiting room" had done nothing. Sent back, the person waits, and comes
// in as a participant when let in.
func TestModeratorSentBackWaits(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{}`)
	ctx, cancel := testContext()
	defer cancel()

	joinMod := func(kind browsertest.Kind, name string) *participant {
		tab := openMeeting(ctx, t, kind, srv.cameraOffURL(links, links.moderatorFragment()))
		knock(ctx, t, tab, name)
		p := &participant{name: name, kind: kind, tab: tab}
		waitFor(ctx, t, p, "joined as moderator", `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`)
		if err := tab.Eval(ctx, `window.conclave.participantId`, &p.id); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mona := joinMod(browsertest.KindChromium, "Mona")
	max := joinMod(browsertest.KindFirefox, "Max")

	clickIn(ctx, t, mona, "#btn-people")
	clickIn(ctx, t, mona, fmt.Sprintf(`.participant-menu[data-participant-id=%q]`, max.id))
	// Mona is told once the server says it is done (`done`). (The name is the one her
	// menu had: in an encrypted meeting "…" until Max's key envelope came.)
	watch(ctx, t, mona, "sent back", toastShown("/was sent back to the waiting room/"))
	clickIn(ctx, t, mona, fmt.Sprintf(`[data-action="send_to_lobby"][data-participant-id=%q]`, max.id))

	waitFor(ctx, t, max, "waiting after being sent back", `document.body.dataset.state === "lobby"`)
	waitSeen(ctx, t, mona, "sent back", "told that Max was sent back")
	// He knocks: Mona sees him in her waiting list (before the fix he was a member
	// again, and this list stayed empty).
	// Bounded: without the fix the list stays empty until the test's deadline.
	short, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	waitFor(short, t, mona, "Max knocking again", `[...document.querySelectorAll("#waiting-list .waiting-entry")].some(e => e.textContent.includes("Max"))`)
	var state string
	if err := max.tab.Eval(ctx, `document.body.dataset.state`, &state); err != nil || state != "lobby" {
		t.Fatalf("Max's page after the knock: %q (%v), want lobby", state, err)
	}
	if err := mona.tab.Eval(ctx, `[...document.querySelectorAll("#waiting-list .waiting-entry")].find(e => e.textContent.includes("Max")).querySelector(".btn-admit").click()`, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, max, "let in again as a participant", `document.body.dataset.state === "joined" && window.conclave.role === "participant"`)
}
