package e2e

import (
	"bytes"
	"fmt"
	"testing"

	"conclave/internal/browsertest"
)

// TestNamesNeverReachTheServer: issue 14's test of names under session keys
// (e2ee/FORMAT.md, "Names"). A Chromium moderator and a Firefox knocker both talk to the
// server through the hostile proxy, which keeps every message either way. The knocker's
// name appears in the moderator's waiting list (sealed to the moderator's lobby key),
// with "Link verified". A second moderator comes: the knock starts over with a new
// nonce and the name is sealed to both, so both waiting lists show it. Once admitted,
// everyone shows everyone's name in tiles and participant list (from the key
// envelopes). Not one message the server sent or received holds any of the names.
func TestNamesNeverReachTheServer(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{}`) // waiting room on, end-to-end encrypted
	proxy := startHostile(t, srv)
	ctx, cancel := testContext()
	defer cancel()

	const monaName, felixName, ottoName = "Mona Lisetta", "Felix Quarantotto", "Otto Secondo" // spaces: never inside base64url
	mona := openMeeting(ctx, t, browsertest.KindChromium, proxy.Via(srv.cameraOffURL(links, links.moderatorFragment())))
	knock(ctx, t, mona, monaName)
	if err := mona.WaitFor(ctx, `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`); err != nil {
		t.Fatalf("Mona did not join as moderator: %v", err)
	}
	felix := openMeeting(ctx, t, browsertest.KindFirefox, proxy.Via(srv.cameraOffURL(links, links.fragment())))
	knock(ctx, t, felix, felixName)
	if err := felix.WaitFor(ctx, `document.body.dataset.state === "lobby"`); err != nil {
		t.Fatalf("Felix is not waiting: %v", err)
	}
	felixID := knockerID(ctx, t, mona)
	if err := mona.Eval(ctx, `document.querySelector("#btn-waiting").click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := mona.WaitFor(ctx, waitingEntryJS(felixID, fmt.Sprintf(`e.dataset.link === "verified" &&
		e.querySelector(".waiting-name").textContent === %q && !e.querySelector(".waiting-name").dataset.namePending`, felixName))); err != nil {
		var got string
		_ = mona.Eval(ctx, `document.querySelector("#waiting-list")?.textContent || ""`, &got)
		t.Fatalf("Mona's waiting list does not name Felix (it shows %q): %v", got, err)
	}
	// A second moderator: the moderators' keys change, the knock is sealed anew to both.
	otto := openMeeting(ctx, t, browsertest.KindChromium, proxy.Via(srv.cameraOffURL(links, links.moderatorFragment())))
	knock(ctx, t, otto, ottoName)
	if err := otto.WaitFor(ctx, `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`); err != nil {
		t.Fatalf("Otto did not join as moderator: %v", err)
	}
	if err := otto.Eval(ctx, `document.querySelector("#btn-waiting").click()`, nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		tab browsertest.Tab
		who string
	}{{otto, "Otto"}, {mona, "Mona"}} {
		if err := m.tab.WaitFor(ctx, waitingEntryJS(felixID, fmt.Sprintf(`e.dataset.link === "verified" &&
			e.querySelector(".waiting-name").textContent === %q`, felixName))); err != nil {
			t.Fatalf("%s's waiting list does not name Felix after the second moderator came: %v", m.who, err)
		}
	}
	if err := mona.Eval(ctx, fmt.Sprintf(`document.querySelector('#waiting-list .waiting-entry[data-participant-id=%q] .btn-admit').click()`, felixID), nil); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{felixName: felixID}
	for _, p := range []struct {
		tab  browsertest.Tab
		name string
	}{{mona, monaName}, {otto, ottoName}} {
		var id string
		if err := p.tab.Eval(ctx, `window.conclave.participants()[0].id`, &id); err != nil {
			t.Fatal(err)
		}
		ids[p.name] = id
	}
	tabs := map[string]browsertest.Tab{monaName: mona, felixName: felix, ottoName: otto}
	for who, tab := range tabs {
		for other, id := range ids {
			if other == who {
				continue
			}
			js := fmt.Sprintf(`document.body.dataset.state === "joined" &&
				window.conclave.participants().some(p => p.id === %[1]q && p.name === %[2]q) &&
				document.querySelector('.tile[data-participant-id=%[1]q][data-source="camera"] .tile-name')?.textContent === %[2]q`, id, other)
			if err := tab.WaitFor(ctx, js); err != nil {
				var got []string
				_ = tab.Eval(ctx, `window.conclave.participants().map(p => p.name)`, &got)
				t.Fatalf("%s does not show %q (participants %v): %v", who, other, got, err)
			}
		}
	}

	msgs := proxy.Messages()
	if len(msgs) < 20 {
		t.Fatalf("the proxy saw only %d messages; the test would prove nothing", len(msgs))
	}
	for _, m := range msgs {
		for _, name := range []string{monaName, felixName, ottoName} {
			if bytes.Contains(m.Data, []byte(name)) {
				t.Fatalf("%q in a message %s on connection %d: %.200s", name, m.Dir, m.Conn, m.Data)
			}
		}
	}
}
