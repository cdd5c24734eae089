package e2e

// Joining a meeting as a person does: a tab of a shared browser, the pre-join screen,
// the name typed, Join clicked.

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"conclave/internal/browsertest"
)

// participant is one browser tab in a meeting.
type participant struct {
	name string
	kind browsertest.Kind
	tab  browsertest.Tab
	id   string
}

// joinTab opens the meeting's participant link (with its key, if any) in a new tab of
// the shared browser of that kind and waits until it has joined.
func joinTab(ctx context.Context, t *testing.T, s *server, kind browsertest.Kind, m meetingLinks, name string, fakeScreen bool) *participant {
	t.Helper()
	return joinURL(ctx, t, kind, s.pageURL(m, m.fragment()), name, fakeScreen)
}

// joinURL opens url in a new tab of the shared browser of that kind, joins as name
// and waits until it has joined.
func joinURL(ctx context.Context, t *testing.T, kind browsertest.Kind, url, name string, fakeScreen bool) *participant {
	t.Helper()
	return joinWithOptions(ctx, t, kind, url, name, joinOptions{fakeScreen: fakeScreen})
}

// closeTabs closes the participants' tabs now, where a test is done with them before
// its end (each is closed again, harmlessly, at the test's cleanup): an open meeting tab
// goes on encoding, decoding and drawing, and every browser test shares the machine.
func closeTabs(ps ...*participant) {
	for _, p := range ps {
		_ = p.tab.Close()
	}
}

// joinOptions are the extras of joinWithOptions.
type joinOptions struct {
	fakeScreen bool   // getDisplayMedia answers with browsertest's fake screen
	preload    string // a script run before the page's own in every document
	testHooks  bool   // the test-only hooks are loaded before joining (loadTestHooks)
	// browser, when set, is the tab's browser instead of the shared one of its kind.
	browser browsertest.Browser
	// prejoin, when set, does what the person does on the pre-join screen before
	// typing the name.
	prejoin func(ctx context.Context, t *testing.T, tab browsertest.Tab)
}

// joinWithOptions opens url in a new tab, types name into the pre-join screen, clicks
// Join and waits until the tab has joined.
func joinWithOptions(ctx context.Context, t *testing.T, kind browsertest.Kind, url, name string, o joinOptions) *participant {
	t.Helper()
	b := o.browser
	if b == nil {
		b = browsertest.Shared(t, kind)
	}
	tab, err := b.NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if o.fakeScreen {
		if err := browsertest.OnNewDocument(ctx, tab, browsertest.FakeDisplayMediaJS); err != nil {
			t.Fatal(err)
		}
	}
	if o.preload != "" {
		if err := browsertest.OnNewDocument(ctx, tab, o.preload); err != nil {
			t.Fatal(err)
		}
	}
	if err := tab.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	if o.testHooks {
		loadTestHooks(ctx, t, tab)
	}
	if o.prejoin != nil {
		o.prejoin(ctx, t, tab)
	}
	knock(ctx, t, tab, name)
	// Joined, or the error screen, which a first join's page never leaves by itself (a
	// websocket that cannot open shows "unreachable" at once): the code says what broke.
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "error" || (document.body.dataset.state === "joined" && !!window.conclave.participantId)`); err != nil {
		t.Fatalf("%s (%s) did not join: %v", name, kind, err)
	}
	var got struct{ ID, Error string }
	if err := tab.Eval(ctx, `({ ID: window.conclave.participantId || "", Error: document.body.dataset.state === "error" ? document.querySelector("#meeting-error").dataset.code || "no code" : "" })`, &got); err != nil {
		t.Fatal(err)
	}
	if got.Error != "" {
		t.Fatalf("%s (%s) did not join: the page shows its error screen, #meeting-error data-code %q", name, kind, got.Error)
	}
	return &participant{name: name, kind: kind, tab: tab, id: got.ID}
}

// knock does what a person does on the pre-join screen: type the name into the name
// field and click Join (which stays disabled until the name is there).
func knock(ctx context.Context, t *testing.T, tab browsertest.Tab, name string) {
	t.Helper()
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "prejoin"`); err != nil {
		t.Fatalf("no pre-join screen for %s: %v", name, err)
	}
	typeAndJoin(ctx, t, tab, "#prejoin-name", name)
}

// typeAndJoin types value into a pre-join field, as a person does, and clicks Join once
// it is enabled.
func typeAndJoin(ctx context.Context, t *testing.T, tab browsertest.Tab, field, value string) {
	t.Helper()
	sel, _ := json.Marshal(field)
	quoted, _ := json.Marshal(value)
	if err := tab.Eval(ctx, fmt.Sprintf(`(() => {
		const field = document.querySelector(%s);
		field.focus();
		field.value = %s;
		field.dispatchEvent(new Event("input", { bubbles: true }));
	})()`, sel, quoted), nil); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `(() => {
		const join = document.querySelector("#prejoin-join");
		if (join.disabled) return false;
		join.click();
		return true;
	})()`); err != nil {
		t.Fatalf("could not click Join after typing into %s: %v", field, err)
	}
}

// loadTestHooks imports the test-only hooks (web/testhooks/hooks.js, served only by a
// server built for tests) into the page before it joins: from then on its E2EE worker
// records frame hashes and keys, read with window.conclaveTest.
func loadTestHooks(ctx context.Context, t *testing.T, tab browsertest.Tab) {
	t.Helper()
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "prejoin"`); err != nil {
		t.Fatalf("no pre-join screen: %v", err)
	}
	if err := tab.Eval(ctx, `import("/static/test/hooks.js").then(() => !!window.conclaveTest)`, nil); err != nil {
		t.Fatalf("loading the test hooks: %v", err)
	}
}
