package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// cutProxy is a TCP proxy between one browser tab and the server that the test can cut:
// every connection through it closes at once, and new ones are closed as they arrive
// until the cut is over. DevTools' offline mode leaves an open websocket running
// (DESIGN.md), so a real cut is the only honest way to drop a browser's connection.
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	until time.Time // new connections are refused until then
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.closeAll()
	})
	return p
}

// url is base (the server's http://host:port URL) rewritten to go through the proxy.
func (p *cutProxy) url(base string) string {
	return strings.Replace(base, p.target, p.ln.Addr().String(), 1)
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := time.Now().Before(p.until)
		p.mu.Unlock()
		if cut {
			_ = c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *cutProxy) pipe(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(s, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, s); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = s.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// cut drops every connection through the proxy and refuses new ones for d.
func (p *cutProxy) cut(d time.Duration) {
	p.mu.Lock()
	p.until = time.Now().Add(d)
	p.mu.Unlock()
	p.closeAll()
}

func (p *cutProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

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
	waitSameColour(ctx, t, watcher, p, "camera")
	waitSameColour(ctx, t, p, watcher, "camera")
}

// cutAndCheck cuts the connections of the tabs behind proxy for d and checks everything
// a person sees: each tab says it is reconnecting, the watcher shows each as reconnecting
// (never as gone) and stops showing its video, and after the cut each is back with video
// both ways, without anyone admitting it again.
func cutAndCheck(ctx context.Context, t *testing.T, proxy *cutProxy, watcher *participant, d time.Duration, role string, cut ...*participant) {
	t.Helper()
	start := time.Now()
	since := func() time.Duration { return time.Since(start).Round(100 * time.Millisecond) }
	proxy.cut(d)
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

// reloadAndCheck reloads p's tab (a moderator's) and checks that it is back at once as
// the same moderator under its own name, without the pre-join screen, with video both
// ways with watcher.
func reloadAndCheck(ctx context.Context, t *testing.T, p, watcher *participant) {
	t.Helper()
	start := time.Now()
	if err := p.tab.Eval(ctx, `setTimeout(() => location.reload(), 10), location.hash.includes("mod=")`, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.tab.WaitFor(ctx, `performance.getEntriesByType("navigation")[0]?.type === "reload" && document.body.dataset.state === "joined"`); err != nil {
		t.Fatalf("%s's reload did not come back into the meeting: %v", p.name, err)
	}
	var typed bool
	if err := p.tab.Eval(ctx, `!!document.querySelector("#prejoin-name")?.value`, &typed); err != nil || typed {
		t.Fatalf("%s's reloaded tab went through the pre-join screen (%v)", p.name, err)
	}
	backInMeeting(ctx, t, p, watcher, "moderator")
	if err := p.tab.WaitFor(ctx, fmt.Sprintf(`!document.querySelector("#btn-settings").hidden &&
		window.conclave.participants()[0].name === %q`, p.name)); err != nil {
		t.Fatalf("the reloaded moderator %s lacks its powers or its name: %v", p.name, err)
	}
	t.Logf("reload: %s (%s) back after %s", p.name, p.kind, time.Since(start).Round(100*time.Millisecond))
}

// TestReconnectWithoutModerator: Fay (Firefox), admitted once by the only moderator Mona
// (Chromium), loses her websocket for 5 s, then Mona loses hers for 5 s, then Fay hers for
// 20 s (TCP proxies between the tabs and the server). Each time the tab says
// "Reconnecting…", the other tab shows the person as reconnecting (not gone), and the
// person comes back by itself: same id, same role, encrypted video both ways again,
// nobody admitted anyone. Then Mona reloads her page, and so does Fay after Mona made her
// a moderator: each is back at once as the same moderator, without knocking.
func TestReconnectWithoutModerator(t *testing.T) {
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServerWith(t, serverOptions{resumeGrace: 60 * time.Second})
	links := srv.createMeetingWith(t, `{}`) // with a waiting room: coming back must not need it
	monaLine, fayLine := startCutProxy(t, srv.url), startCutProxy(t, srv.url)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
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
	fayTab := openMeeting(ctx, t, browsertest.KindFirefox, fayLine.url(srv.pageURL(links, links.fragment())))
	knock(ctx, t, fayTab, "Fay")
	fay := &participant{name: "Fay", kind: browsertest.KindFirefox, tab: fayTab}
	fay.id = admitInBrowser(ctx, t, mona.tab, "Fay")
	if err := fayTab.WaitFor(ctx, `document.body.dataset.state === "joined"`); err != nil {
		t.Fatalf("Fay was not let in: %v", err)
	}
	waitSameColour(ctx, t, mona, fay, "camera")
	waitSameColour(ctx, t, fay, mona, "camera")

	cutAndCheck(ctx, t, fayLine, mona, 5*time.Second, "participant", fay)
	cutAndCheck(ctx, t, monaLine, fay, 5*time.Second, "moderator", mona)
	cutAndCheck(ctx, t, fayLine, mona, 20*time.Second, "participant", fay)

	// The only moderator reloads: nobody else could let her in.
	reloadAndCheck(ctx, t, mona, fay)

	// Mona makes Fay a moderator; then Fay (Firefox) reloads.
	if err := mona.tab.Eval(ctx, `document.querySelector("#btn-people").click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := mona.tab.WaitFor(ctx, fmt.Sprintf(`(() => {
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
	reloadAndCheck(ctx, t, fay, mona)

	// Nobody knocked meanwhile, and both are still there.
	var waiting, count int
	if err := mona.tab.Eval(ctx, `window.conclave.waiting().length`, &waiting); err != nil || waiting != 0 {
		t.Fatalf("someone is waiting after the reconnects: %d (%v)", waiting, err)
	}
	if err := mona.tab.Eval(ctx, `window.conclave.participants().length`, &count); err != nil || count != 2 {
		t.Fatalf("participants after the reconnects: %d (%v)", count, err)
	}
}
