package e2e

import (
	"fmt"
	"testing"

	"conclave/internal/browsertest"
	"conclave/internal/hostile"
)

// TestReplayedIdentityOfRemovedMember plays the hostile server of issue 14: Mona
// (Chromium, moderator), Fay (Firefox) and Cleo (Chromium) meet through a man in the
// middle that records every websocket message. Mona removes Cleo; then the proxy
// replays Cleo's original identity message (still validly tagged under the link's key)
// to Mona and Fay. Neither sends a key message to Cleo's id after her removal, both
// show the warning that key messages from someone not in the meeting were refused,
// Cleo is in neither roster, and Mona's and Fay's safety codes still match.
func TestReplayedIdentityOfRemovedMember(t *testing.T) {
	// Parallel again. Beside another browser test it twice left a removed member shown;
	// 672a9f1 then mended one way that happens (a track event of a renegotiation in
	// flight brought her tile back) and made the failure say which part still shows
	// her. Nine runs beside other browser tests passed on 2026-12-05.
	t.Parallel()
	srv, links, proxy := hostileMeeting(t)
	ctx, cancel := testContext()
	defer cancel()

	via := func(fragment string) string { return proxy.Via(srv.pageURL(links, fragment)) }
	mona := joinWithOptions(ctx, t, browsertest.KindChromium, proxy.Via(srv.cameraOffURL(links, links.moderatorFragment())), "Mona", joinOptions{})
	fay := joinWithOptions(ctx, t, browsertest.KindFirefox, proxy.Via(srv.cameraOffURL(links, links.fragment())), "Fay", joinOptions{})
	cleo := joinWithOptions(ctx, t, browsertest.KindChromium, via(links.fragment()), "Cleo", joinOptions{})
	all := []*participant{mona, fay, cleo}
	for _, p := range all {
		if err := p.tab.WaitFor(ctx, `window.conclave.e2ee.verified().length === 2 && window.conclave.e2ee.safetyCode() !== ""`); err != nil {
			t.Fatalf("%s (%s) did not verify the other two: %v", p.name, p.kind, err)
		}
	}
	connOf := func(p *participant) *hostile.Conn {
		c, ok := proxy.ConnOf(p.id)
		if !ok {
			t.Fatalf("no websocket of %s through the proxy", p.name)
		}
		return c
	}
	monaConn, fayConn := connOf(mona), connOf(fay)

	// Cleo's identity as the server relayed it to Mona: a broadcast with Cleo's `from`.
	identity, err := proxy.Wait(ctx, 0, func(m hostile.Message) bool {
		k, ok := hostile.ParseE2EE(m.Data)
		return ok && m.Dir == hostile.ToClient && m.Conn == monaConn.ID() && k.From == cleo.id && k.KeyMessageKind() == "identity"
	})
	if err != nil {
		t.Fatalf("Cleo's identity never reached Mona: %v", err)
	}

	// Mona removes Cleo in her UI.
	clickIn(ctx, t, mona, "#btn-people")
	if err := mona.tab.WaitFor(ctx, fmt.Sprintf(`(() => { const m = document.querySelector('.participant-menu[data-participant-id="%s"]'); if (m) m.click(); return !!document.querySelector('[data-action="remove"][data-participant-id="%s"]'); })()`, cleo.id, cleo.id)); err != nil {
		t.Fatal(err)
	}
	if err := mona.tab.Eval(ctx, fmt.Sprintf(`document.querySelector('[data-action="remove"][data-participant-id="%s"]').click()`, cleo.id), nil); err != nil {
		t.Fatal(err)
	}
	if err := mona.tab.WaitFor(ctx, `(() => { const b = document.querySelector("#confirm-ok"); if (b) b.click(); return !!b; })()`); err != nil {
		t.Fatal(err)
	}
	if err := cleo.tab.WaitFor(ctx, `document.querySelector("#meeting-error")?.dataset.code === "removed"`); err != nil {
		t.Fatalf("Cleo was not removed: %v", err)
	}
	// Where each of Mona and Fay learnt of it: from then on nothing may go to Cleo.
	leftAt := map[int]int{}
	for _, c := range []*hostile.Conn{monaConn, fayConn} {
		m, err := proxy.Wait(ctx, 0, func(m hostile.Message) bool {
			env, err := hostile.ParseEnvelope(m.Data)
			if err != nil || m.Conn != c.ID() || m.Dir != hostile.ToClient || env.Type != "participant_left" {
				return false
			}
			id, _ := env.PayloadString("participantId")
			return id == cleo.id
		})
		if err != nil {
			t.Fatalf("participant_left for Cleo never reached connection %d: %v", c.ID(), err)
		}
		leftAt[c.ID()] = m.Seq
	}
	// Cleo is gone for both: not a participant, not verified, no tile, not counted (the
	// people list is drawn only while its panel is open: Mona's is).
	cleoShown := fmt.Sprintf(`(window.conclave.participants().some((p) => p.id === %[1]q) || window.conclave.e2ee.verified().includes(%[1]q) ||
		!!document.querySelector('.tile[data-participant-id="%[1]s"]') || document.querySelector("#participant-count").textContent !== "2" ||
		(!document.querySelector("#people-panel").hidden && !!document.querySelector('.person[data-participant-id="%[1]s"]')))`, cleo.id)
	stays := []*participant{mona, fay}
	for _, p := range stays {
		gone := `!` + cleoShown + ` && window.conclave.e2ee.verified().length === 1`
		if err := p.tab.WaitFor(ctx, gone); err != nil {
			// Which part still shows her (this has failed under load; the parts tell why).
			parts := fmt.Sprintf(`JSON.stringify({participants: window.conclave.participants().map((p) => p.id), verified: window.conclave.e2ee.verified(),
				tiles: [...document.querySelectorAll(".tile[data-participant-id]")].map((n) => n.dataset.participantId + "/" + n.dataset.source),
				count: document.querySelector("#participant-count").textContent, panelOpen: !document.querySelector("#people-panel").hidden,
				people: [...document.querySelectorAll(".person[data-participant-id]")].map((n) => n.dataset.participantId), cleo: %q, session: window.conclave.debug()})`, cleo.id)
			dctx, dcancel := testContext()
			var got string
			_ = p.tab.Eval(dctx, parts, &got)
			dcancel()
			t.Fatalf("%s (%s): Cleo still shown after her removal: %v\n%s", p.name, p.kind, err, got)
		}
	}

	// The hostile server replays Cleo's identity to both.
	for _, c := range []*hostile.Conn{monaConn, fayConn} {
		if err := proxy.Replay(identity, c.ID()); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range stays {
		waitFor(ctx, t, p, "the roster warning", `(() => { const n = document.querySelector("#e2ee-roster-warning");
			return !!n && !n.hidden && n.textContent.trim() !== "" && document.querySelector("#e2ee-status")?.dataset.warning === "roster"; })()`)
	}

	// What each shows after the replay: Cleo nowhere, the same safety code.
	codes := map[string]string{}
	for _, p := range stays {
		var seen struct {
			Cleo     bool   `json:"cleo"`
			Verified int    `json:"verified"`
			Code     string `json:"code"`
		}
		// The code is a slow hash of the roster, drawn once computed: the roster changed
		// with Cleo's removal, so wait for the new one before reading it.
		waitFor(ctx, t, p, "a safety code after the replay", `document.querySelector("#safety-code").textContent.trim() !== ""`)
		js := `({ cleo: ` + cleoShown + `, verified: window.conclave.e2ee.verified().length, code: document.querySelector("#safety-code").textContent })`
		if err := p.tab.Eval(ctx, js, &seen); err != nil {
			t.Fatal(err)
		}
		if seen.Cleo || seen.Verified != 1 || seen.Code == "" {
			t.Fatalf("%s (%s) after the replay: %+v", p.name, p.kind, seen)
		}
		codes[p.name] = seen.Code
	}
	if codes["Mona"] != codes["Fay"] {
		t.Fatalf("safety codes differ after the replay: %v", codes)
	}

	// Every message Mona's and Fay's pages sent after they learnt of the removal: no key
	// message (nor anything else) addressed to Cleo's id.
	for _, m := range proxy.Messages() {
		at, watched := leftAt[m.Conn]
		if !watched || m.Dir != hostile.ToServer || m.Seq < at {
			continue
		}
		if k, ok := hostile.ParseE2EE(m.Data); ok && k.To == cleo.id {
			t.Fatalf("connection %d sent a %q key message to the removed Cleo after her removal", m.Conn, k.KeyMessageKind())
		}
	}
}
