package e2e

import (
	"context"
	"fmt"
	"testing"

	"conclave/internal/browsertest"
)

// waitingEntryJS is a script that finds the waiting-list entry of participant id in a
// moderator's page and returns what check (a JS expression over `e`) says of it.
func waitingEntryJS(id, check string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector('#waiting-list .waiting-entry[data-participant-id=%q]'); return !!e && (%s); })()`, id, check)
}

// knockerID waits until tab waits in the lobby and returns the id under which the
// moderator's waiting list shows it: the entry that was not there before.
func knockerID(ctx context.Context, t *testing.T, mod browsertest.Tab, known ...string) string {
	t.Helper()
	js := `[...document.querySelectorAll("#waiting-list .waiting-entry")].map(e => e.dataset.participantId)`
	var id string
	if err := mod.WaitFor(ctx, fmt.Sprintf(`(() => { const known = %s; return %s.some(id => !known.includes(id)); })()`, jsStrings(known), js)); err != nil {
		t.Fatalf("no new knock in the waiting list: %v", err)
	}
	if err := mod.Eval(ctx, fmt.Sprintf(`(() => { const known = %s; return %s.find(id => !known.includes(id)); })()`, jsStrings(known), js), &id); err != nil {
		t.Fatal(err)
	}
	return id
}

func jsStrings(ss []string) string {
	out := "["
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += fmt.Sprintf("%q", s)
	}
	return out + "]"
}

// TestKnockProofShowsLink: a Chromium moderator sees a Firefox knocker whose link is
// right as "Link verified" and a Chromium knocker whose link carries another key as
// "Wrong link", with an "Admit anyway" button. While waiting, the wrong-link knocker is
// told by the moderator's lobby key that its link is probably incomplete or damaged, the
// right-link one is not. "Admit all" then reads "Admit all with a verified link" and
// lets in only the right-link knocker. Admitted anyway, the wrong-link tab tells
// its own user that its link is probably incomplete or damaged; the moderator, who saw
// the wrong link when it knocked, is not told that about its own link, and neither is
// the right-link knocker once admitted.
func TestKnockProofShowsLink(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{}`) // waiting room on, end-to-end encrypted
	ctx, cancel := testContext()
	defer cancel()

	mona := openMeeting(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.moderatorFragment()))
	knock(ctx, t, mona, "Mona")
	if err := mona.WaitFor(ctx, `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`); err != nil {
		t.Fatalf("Mona did not join as moderator: %v", err)
	}

	felix := openMeeting(ctx, t, browsertest.KindFirefox, srv.cameraOffURL(links, links.fragment()))
	knock(ctx, t, felix, "Felix")
	if err := felix.WaitFor(ctx, `document.body.dataset.state === "lobby"`); err != nil {
		t.Fatalf("Felix is not waiting: %v", err)
	}
	felixID := knockerID(ctx, t, mona)

	wrong := links
	wrong.Key = newMeetingKey(t) // a link whose key is not the meeting's
	eve := openMeeting(ctx, t, browsertest.KindChromium, srv.cameraOffURL(wrong, wrong.fragment()))
	knock(ctx, t, eve, "Eve")
	if err := eve.WaitFor(ctx, `document.body.dataset.state === "lobby"`); err != nil {
		t.Fatalf("Eve is not waiting: %v", err)
	}
	eveID := knockerID(ctx, t, mona, felixID)

	// While they wait, Mona's lobby key tells each knocker what its link is worth:
	// Felix's checks out (nothing to say), Eve is told hers is probably wrong.
	if err := felix.WaitFor(ctx, `document.querySelector("#lobby-link").dataset.link === "verified" && document.querySelector("#lobby-link").hidden`); err != nil {
		t.Fatalf("Felix's waiting screen did not verify his link: %v", err)
	}
	if err := eve.WaitFor(ctx, `(() => { const l = document.querySelector("#lobby-link");
		return l.dataset.link === "wrong" && !l.hidden && l.checkVisibility() && /probably incomplete or damaged/.test(l.textContent); })()`); err != nil {
		t.Fatalf("Eve's waiting screen does not say her link is probably wrong: %v", err)
	}

	if err := mona.Eval(ctx, `document.querySelector("#btn-waiting").click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := mona.WaitFor(ctx, waitingEntryJS(felixID, `e.dataset.link === "verified" && e.textContent.includes("Felix") &&
		e.querySelector(".waiting-link").textContent === "Link verified" && e.querySelector(".btn-admit").textContent === "Admit" &&
		e.querySelector(".waiting-link").checkVisibility()`)); err != nil {
		t.Fatalf("Mona does not see Felix's link as verified: %v", err)
	}
	// A wrong link's knock gets no name shown, whatever it sealed (e2ee/FORMAT.md, "Names").
	if err := mona.WaitFor(ctx, waitingEntryJS(eveID, `e.dataset.link === "wrong" && e.classList.contains("waiting-wrong-link") &&
		e.querySelector(".waiting-name").textContent === "Name unknown" && !e.textContent.includes("Eve") &&
		e.querySelector(".waiting-link").textContent === "Wrong link" && e.querySelector(".waiting-link").checkVisibility() &&
		e.querySelector(".btn-admit").textContent === "Admit anyway" && /anyway/.test(e.querySelector(".btn-admit").getAttribute("aria-label"))`)); err != nil {
		t.Fatalf("Mona does not see Eve's link as wrong: %v", err)
	}

	// "Admit all" leaves a wrong link waiting: it says so, and lets only Felix in.
	if err := mona.WaitFor(ctx, `document.querySelector("#btn-admit-all").textContent === "Admit all with a verified link" && !document.querySelector("#btn-admit-all").disabled`); err != nil {
		t.Fatalf("Mona's Admit all does not leave the wrong link out: %v", err)
	}
	if err := mona.Eval(ctx, `document.querySelector("#btn-admit-all").click()`, nil); err != nil {
		t.Fatal(err)
	}
	// Felix, admitted, verifies Mona and is not warned.
	if err := felix.WaitFor(ctx, `document.body.dataset.state === "joined" && window.conclave.e2ee.verified().length === 1 &&
		window.conclave.e2ee.unverified().length === 0 && document.querySelector("#e2ee-self-wrong").hidden`); err != nil {
		t.Fatalf("Felix did not verify Mona, or is warned: %v", err)
	}
	if err := mona.WaitFor(ctx, waitingEntryJS(eveID, `e.dataset.link === "wrong"`)+` && document.querySelectorAll("#waiting-list .waiting-entry").length === 1`); err != nil {
		t.Fatalf("Eve is not waiting alone after Admit all: %v", err)
	}
	var state string
	if err := eve.Eval(ctx, `document.body.dataset.state`, &state); err != nil || state != "lobby" {
		t.Fatalf("Eve's tab is %q after Admit all (err %v)", state, err)
	}

	// Admitted anyway, Eve's tab verifies nobody and says its link is probably wrong.
	if err := mona.Eval(ctx, fmt.Sprintf(`document.querySelector('#waiting-list .waiting-entry[data-participant-id=%q] .btn-admit').click()`, eveID), nil); err != nil {
		t.Fatal(err)
	}
	if err := eve.WaitFor(ctx, `document.body.dataset.state === "joined" && window.conclave.e2ee.unverified().length === 2 &&
		!document.querySelector("#e2ee-self-wrong").hidden && document.querySelector("#e2ee-self-wrong").checkVisibility() &&
		/probably incomplete or damaged/.test(document.querySelector("#e2ee-self-wrong").textContent) &&
		document.querySelector("#e2ee-status").dataset.link === "wrong" &&
		document.querySelector("#e2ee-status-text").textContent === "Link probably wrong"`); err != nil {
		t.Fatalf("Eve is not told that her link is probably wrong: %v", err)
	}
	// Mona could not verify Eve either, but knew her link was wrong: no warning for Mona.
	if err := mona.WaitFor(ctx, fmt.Sprintf(`window.conclave.e2ee.unverified().includes(%q) && window.conclave.e2ee.verified().length === 1`, eveID)); err != nil {
		t.Fatalf("Mona does not show Eve as unverified: %v", err)
	}
	var shown bool
	if err := mona.Eval(ctx, `!document.querySelector("#e2ee-self-wrong").hidden || !!document.querySelector("#e2ee-status").dataset.link`, &shown); err != nil || shown {
		t.Fatalf("Mona is told her own link is wrong (err %v)", err)
	}
	// Felix cannot verify Eve, and is not warned about his own link.
	if err := felix.WaitFor(ctx, fmt.Sprintf(`window.conclave.e2ee.unverified().includes(%q) && window.conclave.e2ee.verified().length === 1 &&
		document.querySelector("#e2ee-self-wrong").hidden`, eveID)); err != nil {
		t.Fatalf("Felix does not show Eve as unverified, or is warned: %v", err)
	}
}
