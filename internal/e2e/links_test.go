package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"conclave/internal/browsertest"
)

// recordFetchJS keeps the bodies of the page's POST requests in window.__bodies (the
// page also GETs its privacy notice).
const recordFetchJS = `(() => {
window.__bodies = [];
const f = window.fetch.bind(window);
window.fetch = (u, o) => { if (o && o.method === "POST") window.__bodies.push(String(o.body)); return f(u, o); };
})()`

type createdLinks struct {
	Participant string `json:"participant"`
	Moderator   string `json:"moderator"`
	Bodies      []string
}

// createOnLanding fills the landing page's form (host key from #host=) and returns
// the two links it shows and the request bodies it sent.
func createOnLanding(ctx context.Context, t *testing.T, srv *server, e2eeOn bool) createdLinks {
	t.Helper()
	tab, err := browsertest.Shared(t, browsertest.KindChromium).NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := browsertest.OnNewDocument(ctx, tab, recordFetchJS); err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(ctx, srv.url+"/#host=e2ehost."+hostSecret); err != nil {
		t.Fatal(err)
	}
	js := fmt.Sprintf(`(() => {
		document.querySelector("#new-lobby").checked = false;
		document.querySelector("#new-e2ee").checked = %v;
		document.querySelector("#btn-new-meeting").click();
		return true;
	})()`, e2eeOn)
	if err := tab.Eval(ctx, js, nil); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `!document.querySelector("#create-result").hidden`); err != nil {
		t.Fatalf("no meeting was created: %v", err)
	}
	var out createdLinks
	if err := tab.Eval(ctx, `({participant: document.querySelector("#link-participant").value, moderator: document.querySelector("#link-moderator").value})`, &out); err != nil {
		t.Fatal(err)
	}
	if err := tab.Eval(ctx, `window.__bodies`, &out.Bodies); err != nil {
		t.Fatal(err)
	}
	var reminder bool
	if err := tab.Eval(ctx, `!document.querySelector("#e2ee-reminder").hidden && document.querySelector("#e2ee-off-reminder").hidden`, &reminder); err != nil || reminder != e2eeOn {
		t.Fatalf("the E2EE reminder shows %v with E2EE %v (%v)", reminder, e2eeOn, err)
	}
	return out
}

// TestLandingKeysTheLinks: the landing page makes the meeting's key in the browser and
// puts it into both links' fragment (never into the request); the moderator link works,
// its invite links carry the key but not the moderator secret, and the address bar
// keeps only the invite link (the key, so a reload works; never the moderator secret or
// the name). A link without the key cannot join; with E2EE switched off the links
// carry no key and the meeting says it is not end-to-end encrypted.
func TestLandingKeysTheLinks(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()

	links := createOnLanding(ctx, t, srv, true)
	part := regexp.MustCompile(`^` + regexp.QuoteMeta(srv.url) + `/m/([A-Za-z0-9_-]{22})#k=([A-Za-z0-9_-]{22})$`).FindStringSubmatch(links.Participant)
	if part == nil {
		t.Fatalf("participant link %q has no key", links.Participant)
	}
	id, key := part[1], part[2]
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(srv.url) + `/m/` + id + `#k=` + key + `&mod=[^&#]+$`).MatchString(links.Moderator) {
		t.Fatalf("moderator link %q does not carry the key and the moderator secret", links.Moderator)
	}
	if len(links.Bodies) != 1 || strings.Contains(links.Bodies[0], key) || !strings.Contains(links.Bodies[0], `"e2ee":true`) {
		t.Fatalf("the create request was %q", links.Bodies)
	}

	mona := joinURL(ctx, t, browsertest.KindChromium, links.Moderator, "Mona", false)
	var got struct {
		Role    string `json:"role"`
		Enabled bool   `json:"enabled"`
		State   string `json:"state"`
		Share   string `json:"share"`
		Invite  string `json:"invite"`
		Address string `json:"address"`
	}
	if err := mona.tab.WaitFor(ctx, `document.querySelector("#e2ee-status")?.dataset.state === "on" && window.conclave.e2ee.safetyCode() !== ""`); err != nil {
		t.Fatalf("the moderator's meeting is not encrypted: %v", err)
	}
	if err := mona.tab.Eval(ctx, `({role: window.conclave.role, enabled: window.conclave.e2ee.enabled,
		state: document.querySelector("#e2ee-status").dataset.state,
		share: document.querySelector("#share-link").value, invite: document.querySelector("#invite-link").value,
		address: location.href})`, &got); err != nil {
		t.Fatal(err)
	}
	if got.Role != "moderator" || !got.Enabled || got.Share != links.Participant || got.Invite != links.Participant ||
		got.Address != links.Participant {
		t.Fatalf("moderator tab: %+v", got)
	}

	// The bare link (no fragment) is refused when the meeting is encrypted.
	bare := openMeeting(ctx, t, browsertest.KindChromium, srv.url+"/m/"+id)
	knock(ctx, t, bare, "Nat")
	if err := bare.WaitFor(ctx, `document.body.dataset.state === "error" && document.querySelector("#meeting-error").dataset.code === "link_incomplete" && /lacks the part after #/.test(document.querySelector("#meeting-error").textContent)`); err != nil {
		t.Fatalf("a link without the key was not refused: %v", err)
	}
	// A key that does not decode to 16 bytes is refused before knocking.
	short := openMeeting(ctx, t, browsertest.KindChromium, srv.url+"/m/"+id+"#k=c2hvcnQ")
	if err := short.WaitFor(ctx, `document.body.dataset.state === "error" && document.querySelector("#meeting-error").dataset.code === "link_invalid"`); err != nil {
		t.Fatalf("a short key was not refused: %v", err)
	}
	var others int
	if err := mona.tab.Eval(ctx, `window.conclave.participants().length`, &others); err != nil || others != 1 {
		t.Fatalf("the moderator sees %d participants (%v)", others, err)
	}

	// Without E2EE: no key in either link, "e2ee": false in the request, a clear chip.
	plain := createOnLanding(ctx, t, srv, false)
	if strings.Contains(plain.Participant, "k=") || strings.Contains(plain.Moderator, "k=") || !strings.Contains(plain.Moderator, "#mod=") {
		t.Fatalf("links of a meeting without E2EE: %q, %q", plain.Participant, plain.Moderator)
	}
	if len(plain.Bodies) != 1 || !strings.Contains(plain.Bodies[0], `"e2ee":false`) {
		t.Fatalf("the create request was %q", plain.Bodies)
	}
	pam := joinURL(ctx, t, browsertest.KindChromium, plain.Moderator, "Pam", false)
	if err := pam.tab.WaitFor(ctx, `(() => { const c = document.querySelector("#e2ee-status");
		return !c.hidden && c.dataset.state === "off" && c.textContent.includes("Not end-to-end encrypted") &&
			window.conclave.e2ee.enabled === false && window.conclave.e2ee.api === null; })()`); err != nil {
		t.Fatalf("a meeting without E2EE does not say so: %v", err)
	}
	// A key added to the link of a meeting without E2EE: the page expects encryption,
	// and is refused at once rather than joining (or waiting for a welcome).
	keyed := openMeeting(ctx, t, browsertest.KindChromium, plain.Participant+"#k="+key)
	knock(ctx, t, keyed, "Kay")
	if err := keyed.WaitFor(ctx, `document.body.dataset.state === "error" && document.querySelector("#meeting-error").dataset.code === "not_encrypted" && /not end-to-end encrypted/.test(document.querySelector("#meeting-error").textContent)`); err != nil {
		t.Fatalf("a keyed link to a meeting without E2EE was not refused: %v", err)
	}
}

// TestBrowserWithoutInsertableStreamsIsRefused: a Firefox without RTCRtpScriptTransform
// cannot encrypt, so a link with a key is refused before it knocks.
func TestBrowserWithoutInsertableStreamsIsRefused(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	m := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	tab, err := browsertest.Shared(t, browsertest.KindFirefox).NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := browsertest.OnNewDocument(ctx, tab, `delete window.RTCRtpScriptTransform; delete RTCRtpSender.prototype.createEncodedStreams;`); err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(ctx, srv.pageURL(m, m.fragment())); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "error" && document.querySelector("#meeting-error").dataset.code === "e2ee_unsupported"`); err != nil {
		t.Fatalf("a browser that cannot encrypt was not refused: %v", err)
	}
}

// TestNoNameOrTestSwitchFromURL: the meeting page takes neither a name nor a test
// switch from its address (a name in a URL ends up in proxy logs): with
// ?name=…&autojoin=1&e2eetest=1 it stays on the pre-join screen with an empty name
// field, drops the query from the address bar and has no test hooks.
func TestNoNameOrTestSwitchFromURL(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	srv := startServer(t)
	m := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	tab := openMeeting(ctx, t, browsertest.KindChromium, srv.url+"/m/"+m.MeetingID+"?name=Zed&autojoin=1&e2eetest=1#"+m.fragment())
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "prejoin"`); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Name   string `json:"name"`
		State  string `json:"state"`
		Search string `json:"search"`
		Hooks  bool   `json:"hooks"`
	}
	// Long enough for an autojoin to have started knocking.
	if err := tab.Eval(ctx, `new Promise(r => setTimeout(r, 1000)).then(() => ({
		name: document.querySelector("#prejoin-name").value, state: document.body.dataset.state,
		search: location.search, hooks: "conclaveTest" in window || "exportKeys" in window.conclave.e2ee}))`, &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "" || got.State != "prejoin" || got.Search != "" || got.Hooks {
		t.Fatalf("the page took something from its URL: %+v", got)
	}
}
