package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// admitInBrowser has the moderator's tab click Admit for the knock of name and returns
// the id of the one admitted.
func admitInBrowser(ctx context.Context, t *testing.T, mod browsertest.Tab, name string) string {
	t.Helper()
	find := fmt.Sprintf(`[...document.querySelectorAll("#waiting-list .waiting-entry")].find(e => e.textContent.includes(%q))`, name)
	if err := mod.WaitFor(ctx, "!!"+find); err != nil {
		t.Fatalf("the knock of %s never showed: %v", name, err)
	}
	var id string
	if err := mod.Eval(ctx, `(() => { const e = `+find+`; e.querySelector(".btn-admit").click(); return e.dataset.participantId; })()`, &id); err != nil {
		t.Fatal(err)
	}
	return id
}

// joinModeratorTab opens the moderator link in a tab of kind and waits until it is in.
func joinModeratorTab(ctx context.Context, t *testing.T, srv *server, kind browsertest.Kind, links meetingLinks, name string) *participant {
	t.Helper()
	tab := openMeeting(ctx, t, kind, srv.pageURL(links, links.moderatorFragment()))
	knock(ctx, t, tab, name)
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`); err != nil {
		t.Fatalf("%s did not join as moderator: %v", name, err)
	}
	p := &participant{name: name, kind: kind, tab: tab}
	if err := tab.Eval(ctx, `window.conclave.participantId`, &p.id); err != nil {
		t.Fatal(err)
	}
	return p
}

// seesReconnecting waits until watcher's tab marks p's tile and keeps p in its roster:
// reconnecting, not gone.
func seesReconnecting(ctx context.Context, t *testing.T, watcher, p *participant) {
	t.Helper()
	js := fmt.Sprintf(`document.querySelector('.tile[data-participant-id=%q][data-source="camera"]')?.dataset.reconnecting === "true" &&
		window.conclave.participants().some(x => x.id === %q)`, p.id, p.id)
	if err := watcher.tab.WaitFor(ctx, js); err != nil {
		t.Fatalf("%s never showed %s as reconnecting: %v", watcher.name, p.name, err)
	}
}

// backInMeeting waits until p's tab is in the meeting again under its old id and role,
// encrypting with every other verified again, and watcher decodes its camera again.
func backInMeeting(ctx context.Context, t *testing.T, p, watcher *participant, role string) {
	t.Helper()
	js := fmt.Sprintf(`document.body.dataset.state === "joined" && !document.body.dataset.reconnecting &&
		document.querySelector("#reconnect-overlay").hidden && window.conclave.participantId === %q && window.conclave.role === %q &&
		window.conclave.e2ee.verified().includes(%q)`, p.id, role, watcher.id)
	if err := p.tab.WaitFor(ctx, js); err != nil {
		t.Fatalf("%s (%s) is not back in the meeting: %v", p.name, p.kind, err)
	}
	if err := watcher.tab.WaitFor(ctx, fmt.Sprintf(`!document.querySelector('.tile[data-participant-id=%q]')?.dataset.reconnecting &&
		window.conclave.e2ee.verified().includes(%q)`, p.id, p.id)); err != nil {
		t.Fatalf("%s still shows %s as away: %v", watcher.name, p.name, err)
	}
	decodesFrom(ctx, t, watcher, p)
	decodesFrom(ctx, t, p, watcher)
	waitSameColour(ctx, t, watcher, p, "camera")
	waitSameColour(ctx, t, p, watcher, "camera")
}

// decodesFrom waits until recv's tile of sender's camera has a decoded picture; when it
// never does, the failure carries both tabs' connection statistics and peer connection
// states (a resume whose media never came back is rare and worth seeing in detail).
func decodesFrom(ctx context.Context, t *testing.T, recv, sender *participant) {
	t.Helper()
	js := fmt.Sprintf(`(document.querySelector('.tile[data-participant-id=%q][data-source="camera"] video')?.videoWidth || 0) > 0`, sender.id)
	if err := recv.tab.WaitFor(ctx, js); err == nil {
		return
	}
	dctx, cancel := testContext()
	defer cancel()
	state := `window.conclave.stats().then(s => JSON.stringify({state: document.body.dataset.state, reconnecting: !!document.body.dataset.reconnecting,
		e2ee: window.conclave.e2ee.stats(), session: window.conclave.debug(), video: s.video, publish: s.publish}))`
	var r, s string
	_ = recv.tab.Eval(dctx, state, &r)
	_ = sender.tab.Eval(dctx, state, &s)
	t.Fatalf("%s (%s) never decoded %s's (%s) camera after the reconnect.\nreceiver: %s\nsender: %s", recv.name, recv.kind, sender.name, sender.kind, r, s)
}

// lineOf is a participant and the proxy its tab reaches the server through.
type lineOf struct {
	p    *participant
	line *cutProxy
}

// cutAndCheck cuts the connections of the given tabs, all at once, for d and checks
// everything a person sees: each tab says it is reconnecting, the watcher shows each as
// reconnecting (never as gone) and stops showing its video, and after the cut each is
// back with video both ways, without anyone admitting it again.
func cutAndCheck(ctx context.Context, t *testing.T, watcher *participant, d time.Duration, role string, lines ...lineOf) {
	t.Helper()
	start := time.Now()
	since := func() time.Duration { return time.Since(start).Round(100 * time.Millisecond) }
	var cut []*participant
	for _, l := range lines {
		l.line.cut(d)
		cut = append(cut, l.p)
	}
	for _, p := range cut {
		if err := p.tab.WaitFor(ctx, `document.body.dataset.reconnecting === "true" && !document.querySelector("#reconnect-overlay").hidden &&
			/Reconnecting|Verbindung/.test(document.querySelector("#reconnect-overlay").textContent)`); err != nil {
			t.Fatalf("%s's tab does not say it is reconnecting: %v", p.name, err)
		}
		seesReconnecting(ctx, t, watcher, p)
		// While away its video stops: the tile no longer shows the old track.
		if err := watcher.tab.WaitFor(ctx, fmt.Sprintf(`document.querySelector('.tile[data-participant-id=%q][data-source="camera"]')?.dataset.video !== "on"`, p.id)); err != nil {
			t.Fatalf("%s's video did not stop while away: %v", p.name, err)
		}
		t.Logf("cut of %s: %s (%s) away after %s", d, p.name, p.kind, since())
	}
	for _, p := range cut {
		backInMeeting(ctx, t, p, watcher, role)
		t.Logf("cut of %s: %s (%s) back after %s", d, p.name, p.kind, since())
	}
}

// reloadAndCheck reloads p's tab and checks that it is back at once in role under its
// own name, without the pre-join screen, with video both ways with watcher.
func reloadAndCheck(ctx context.Context, t *testing.T, p, watcher *participant, role string) {
	t.Helper()
	start := time.Now()
	if err := p.tab.Eval(ctx, `setTimeout(() => location.reload(), 10), true`, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.tab.WaitFor(ctx, `performance.getEntriesByType("navigation")[0]?.type === "reload" && document.body.dataset.state === "joined"`); err != nil {
		t.Fatalf("%s's reload did not come back into the meeting: %v", p.name, err)
	}
	var typed bool
	if err := p.tab.Eval(ctx, `!!document.querySelector("#prejoin-name")?.value`, &typed); err != nil || typed {
		t.Fatalf("%s's reloaded tab went through the pre-join screen (%v)", p.name, err)
	}
	backInMeeting(ctx, t, p, watcher, role)
	powers := `document.querySelector("#btn-settings").hidden`
	if role == "moderator" {
		powers = "!" + powers
	}
	if err := p.tab.WaitFor(ctx, powers); err != nil {
		t.Fatalf("the reloaded %s %s lacks its role's controls: %v", role, p.name, err)
	}
	// In an end-to-end encrypted meeting the server holds no name (e2ee/FORMAT.md,
	// "Names"): the tab kept its own for the reload, shows it, and puts it in its key
	// envelopes again, so the others show the same name.
	if err := p.tab.WaitFor(ctx, fmt.Sprintf(`window.conclave.participants()[0].name === %q`, p.name)); err != nil {
		t.Fatalf("the reloaded %s does not show its own name: %v", p.name, err)
	}
	if err := watcher.tab.WaitFor(ctx, fmt.Sprintf(`window.conclave.participants().some(x => x.id === %q && x.name === %q)`, p.id, p.name)); err != nil {
		t.Fatalf("%s does not show the reloaded %s under its name: %v", watcher.name, p.name, err)
	}
	t.Logf("reload: %s (%s) back after %s", p.name, p.kind, time.Since(start).Round(100*time.Millisecond))
}

// micShows waits until p's own microphone button shows on (or off), and watcher's roster
// says the same of p.
func micShows(ctx context.Context, t *testing.T, p, watcher *participant, on bool, why string) {
	t.Helper()
	waitFor(ctx, t, p, why, fmt.Sprintf(`document.querySelector("#btn-mic").getAttribute("aria-pressed") === "%t"`, on))
	waitFor(ctx, t, watcher, why+" (seen by the others)", fmt.Sprintf(`window.conclave.participants().find(x => x.id === %q)?.media.mic === %t`, p.id, on))
}

// watchToasts has p's tab note every toast it shows from now on, and every text a toast
// is changed to in place (they fade, so a check afterwards could miss one; joins and
// leaves close in time are one toast rewritten, presence-toasts.js); noLeaveOrJoin then
// checks that none of them said that anybody left or joined: coming back is not a leave
// and a join.
func watchToasts(ctx context.Context, t *testing.T, p *participant) {
	t.Helper()
	js := `(() => { const seen = window.__seenToasts = [];
		new MutationObserver((list) => { for (const m of list) {
			if (m.type === "characterData") seen.push(m.target.textContent);
			for (const n of m.addedNodes) seen.push(n.textContent);
		} }).observe(document.querySelector("#toasts"), { childList: true, characterData: true, subtree: true }); return true; })()`
	if err := p.tab.Eval(ctx, js, nil); err != nil {
		t.Fatal(err)
	}
}

func noLeaveOrJoin(ctx context.Context, t *testing.T, p *participant, others ...*participant) {
	t.Helper()
	var seen []string
	if err := p.tab.Eval(ctx, `window.__seenToasts`, &seen); err != nil {
		t.Fatal(err)
	}
	// Every presence toast ends so ("Fay left", "Fay and Cleo left", "2 people joined"):
	// nobody joins or leaves in the windows this is asked about.
	for _, text := range seen {
		text = strings.TrimSpace(text)
		if strings.HasSuffix(text, " left") || strings.HasSuffix(text, " joined") {
			t.Fatalf("%s was told %q: a reconnect of %s showed as a leave or a join", p.name, text, namesOf(others))
		}
	}
}

// namesOf lists the participants' names, for a failure.
func namesOf(ps []*participant) string {
	n := make([]string, len(ps))
	for i, p := range ps {
		n[i] = p.name
	}
	return strings.Join(n, ", ")
}

// TestReconnectWithoutModerator: Mona (Chromium) is the only moderator of a meeting with a
// waiting room in which participants may not unmute themselves after a moderator's mute;
// she admits Fay (Firefox) and Cleo (Chromium). Both lose their websockets at once for 5 s,
// then for 20 s (TCP proxies between the tabs and the server). Each time the tabs say
// "Reconnecting…", Mona shows them as reconnecting (not gone), and they come back by
// themselves: same id, same role, encrypted video both ways again, nobody admitted anyone.
// Then Mona turns her microphone off and reloads: back at once as the moderator, her
// microphone still off. Cleo raises her hand, Mona mutes everyone, Cleo reloads: back with
// her hand up and her microphone off, and her try to unmute is refused. Last, Fay, made a
// moderator, reloads (Firefox): back as a moderator without knocking.
func TestReconnectWithoutModerator(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServerWith(t, serverOptions{resumeGrace: 60 * time.Second})
	// With a waiting room: coming back must not need it.
	links := srv.createMeetingWith(t, `{"settings":{"unmute":false}}`)
	monaLine, fayLine, cleoLine := startCutProxy(t, srv.url), startCutProxy(t, srv.url), startCutProxy(t, srv.url)
	ctx, cancel := testContext()
	defer cancel()

	monaTab := openMeeting(ctx, t, browsertest.KindChromium, monaLine.url(srv.pageURL(links, links.moderatorFragment())))
	knock(ctx, t, monaTab, "Mona")
	if err := monaTab.WaitFor(ctx, `document.body.dataset.state === "joined" && window.conclave.role === "moderator"`); err != nil {
		t.Fatalf("Mona did not join as moderator: %v", err)
	}
	mona := &participant{name: "Mona", kind: browsertest.KindChromium, tab: monaTab}
	if err := monaTab.Eval(ctx, `window.conclave.participantId`, &mona.id); err != nil {
		t.Fatal(err)
	}
	guest := func(name string, kind browsertest.Kind, line *cutProxy) *participant {
		tab := openMeeting(ctx, t, kind, line.url(srv.pageURL(links, links.fragment())))
		knock(ctx, t, tab, name)
		p := &participant{name: name, kind: kind, tab: tab}
		p.id = admitInBrowser(ctx, t, mona.tab, name)
		if err := tab.WaitFor(ctx, `document.body.dataset.state === "joined"`); err != nil {
			t.Fatalf("%s was not let in: %v", name, err)
		}
		waitSameColour(ctx, t, mona, p, "camera")
		waitSameColour(ctx, t, p, mona, "camera")
		return p
	}
	fay := guest("Fay", browsertest.KindFirefox, fayLine)
	cleo := guest("Cleo", browsertest.KindChromium, cleoLine)

	// A participant in each engine, both cut at the same time for 5 s, then for 20 s:
	// two resumes race each other's key exchange. (Before key requests, issue 14, such a
	// race could leave Mona without one sender's key for good.)
	watchToasts(ctx, t, mona)
	both := []lineOf{{fay, fayLine}, {cleo, cleoLine}}
	cutAndCheck(ctx, t, mona, 5*time.Second, "participant", both...)
	cutAndCheck(ctx, t, mona, 20*time.Second, "participant", both...)

	// The only moderator (Chromium) turns her microphone off and reloads: nobody else could
	// let her in, and the reload must not turn her microphone on.
	noLeaveOrJoin(ctx, t, mona, fay, cleo)
	clickIn(ctx, t, mona, "#btn-mic")
	micShows(ctx, t, mona, fay, false, "Mona's microphone off")
	watchToasts(ctx, t, fay)
	reloadAndCheck(ctx, t, mona, fay, "moderator")
	micShows(ctx, t, mona, fay, false, "Mona's microphone still off after her reload")
	waitFor(ctx, t, mona, "her camera still on", `document.querySelector("#btn-camera").getAttribute("aria-pressed") === "true"`)
	waitSameColour(ctx, t, cleo, mona, "camera")

	// Cleo raises her hand; Mona mutes everyone; Cleo reloads.
	clickIn(ctx, t, cleo, "#btn-hand")
	waitFor(ctx, t, mona, "sees Cleo's hand", `document.querySelector("#hands-chip .hands-chip-count")?.textContent === "1"`)
	clickIn(ctx, t, mona, "#btn-people")
	clickIn(ctx, t, mona, "#btn-mute-all")
	micShows(ctx, t, cleo, mona, false, "Cleo muted by mute everyone")
	reloadAndCheck(ctx, t, cleo, mona, "participant")
	micShows(ctx, t, cleo, mona, false, "Cleo still muted after her reload")
	waitFor(ctx, t, cleo, "her hand still shown raised", `document.querySelector("#btn-hand").getAttribute("aria-pressed") === "true"`)
	waitFor(ctx, t, mona, "Cleo's hand still on the hands list", fmt.Sprintf(`[...document.querySelectorAll("#hands-list .hand-entry")].map(e => e.dataset.participantId).join() === %q`, cleo.id))
	// Unmuting herself is refused: she is told why, and her microphone stays off.
	watch(ctx, t, cleo, "refused", toastShown("/muted you; you can unmute when asked/"))
	clickIn(ctx, t, cleo, "#btn-mic")
	waitSeen(ctx, t, cleo, "refused", "told she cannot unmute")
	waitFor(ctx, t, cleo, "her microphone still off", `document.querySelector("#btn-mic").getAttribute("aria-pressed") === "false"`)
	micShows(ctx, t, cleo, mona, false, "Cleo's microphone off after the refused unmute")

	noLeaveOrJoin(ctx, t, fay, mona, cleo)
	watchToasts(ctx, t, mona)

	// Mona makes Fay a moderator; then Fay (Firefox) reloads.
	if err := mona.tab.WaitFor(ctx, fmt.Sprintf(`(() => {
		if (document.querySelector("#people-panel").hidden) document.querySelector("#btn-people").click();
		const b = document.querySelector('[data-action="make_moderator"][data-participant-id=%q]');
		if (b) { b.click(); return true; }
		document.querySelector('.participant-menu[data-participant-id=%q]')?.click();
		return false;
	})()`, fay.id, fay.id)); err != nil {
		t.Fatalf("Mona could not make Fay a moderator: %v", err)
	}
	if err := fay.tab.WaitFor(ctx, `window.conclave.role === "moderator"`); err != nil {
		t.Fatalf("Fay did not become a moderator: %v", err)
	}
	reloadAndCheck(ctx, t, fay, mona, "moderator")
	noLeaveOrJoin(ctx, t, mona, fay)

	// Nobody knocked meanwhile, and all three are still there.
	var waiting, count int
	if err := mona.tab.Eval(ctx, `window.conclave.waiting().length`, &waiting); err != nil || waiting != 0 {
		t.Fatalf("someone is waiting after the reconnects: %d (%v)", waiting, err)
	}
	if err := mona.tab.Eval(ctx, `window.conclave.participants().length`, &count); err != nil || count != 3 {
		t.Fatalf("participants after the reconnects: %d (%v)", count, err)
	}
}
