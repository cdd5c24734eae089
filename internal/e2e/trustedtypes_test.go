package e2e

import (
	"slices"
	"testing"

	"conclave/internal/browsertest"
)

// recordViolationsJS runs before the page's own scripts: it keeps every CSP violation
// the document reports, so that the page's own work (icons, the E2EE worker) can be
// seen to cause none and the probes below to cause theirs.
const recordViolationsJS = `window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));`

// trustedTypesProbeJS tries, from a script of the page's own origin, what an injection
// would: strings into HTML and script sinks, a "default" policy that would let every
// string through, the page's own policy name again, and the page's policy itself with
// URLs that are not its /static/ scripts. Each entry is what happened: "allowed" or the
// error's name.
const trustedTypesProbeJS = `(async () => {
	const attempt = (f) => { try { f(); return "allowed"; } catch (e) { return e.name; } };
	const div = document.createElement("div");
	const urls = await import("/static/js/script-urls.js");
	return {
		innerHTML: attempt(() => { div.innerHTML = "<img src=x>"; }),
		insertAdjacentHTML: attempt(() => div.insertAdjacentHTML("beforeend", "<img src=x>")),
		DOMParser: attempt(() => new DOMParser().parseFromString("<img src=x>", "text/html")),
		scriptSrc: attempt(() => { document.createElement("script").src = "/static/js/blur-tick.js"; }),
		worker: attempt(() => new Worker("/static/js/blur-tick.js").terminate()),
		defaultPolicy: attempt(() => trustedTypes.createPolicy("default", { createHTML: (s) => s, createScriptURL: (s) => s })),
		secondPolicy: attempt(() => trustedTypes.createPolicy("conclave-script-url", { createScriptURL: (s) => s })),
		images: div.querySelectorAll("img").length,
		ownScript: urls.scriptURL("/static/js/blur-tick.js") instanceof TrustedScriptURL,
		ownWorker: attempt(() => new Worker(urls.scriptURL("/static/js/blur-tick.js")).terminate()),
		otherOrigin: attempt(() => urls.scriptURL("//evil.invalid/x.js")),
		outOfStatic: attempt(() => urls.scriptURL("/static/../m/x.js")),
		encodedDots: attempt(() => urls.scriptURL("/static/%2e%2e/m/x.js")),
		blob: attempt(() => urls.scriptURL(URL.createObjectURL(new Blob(["postMessage(1)"])))),
	};
})()`

// TestTrustedTypesRefuseStrings: the page's CSP requires Trusted Types, and both
// browsers enforce it. Ann (Chromium) and Fay (Firefox) join an encrypted meeting and
// see each other's camera (the E2EE worker, started with the page's script-URL policy,
// runs in both), and the page reports no CSP violation of its own on the way. Then a
// script in each page tries to put a string into innerHTML, insertAdjacentHTML,
// DOMParser, a <script>'s src and new Worker: each throws a TypeError, no element is
// made, and each is reported as a violation of require-trusted-types-for. Making a
// "default" policy, or the page's policy a second time, throws as well, and the page's
// policy turns down any URL that is not a path below /static/.
func TestTrustedTypesRefuseStrings(t *testing.T) {
	t.Parallel()
	srv, m := encryptedMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	url := srv.pageURL(m, m.fragment())
	ann := joinWithOptions(ctx, t, browsertest.KindChromium, url, "Ann", joinOptions{preload: recordViolationsJS})
	fay := joinWithOptions(ctx, t, browsertest.KindFirefox, url, "Fay", joinOptions{preload: recordViolationsJS})
	waitSameColour(ctx, t, ann, fay, "camera")
	waitSameColour(ctx, t, fay, ann, "camera")

	for _, p := range []*participant{ann, fay} {
		var own []string
		evalOK(ctx, t, p, `window.__violations.slice()`, &own)
		if len(own) != 0 {
			t.Errorf("%s (%s): the page itself caused CSP violations: %q", p.name, p.kind, own)
		}
		var got struct {
			InnerHTML          string `json:"innerHTML"`
			InsertAdjacentHTML string `json:"insertAdjacentHTML"`
			DOMParser          string `json:"DOMParser"`
			ScriptSrc          string `json:"scriptSrc"`
			Worker             string `json:"worker"`
			DefaultPolicy      string `json:"defaultPolicy"`
			SecondPolicy       string `json:"secondPolicy"`
			Images             int    `json:"images"`
			OwnScript          bool   `json:"ownScript"`
			OwnWorker          string `json:"ownWorker"`
			OtherOrigin        string `json:"otherOrigin"`
			OutOfStatic        string `json:"outOfStatic"`
			EncodedDots        string `json:"encodedDots"`
			Blob               string `json:"blob"`
		}
		evalOK(ctx, t, p, trustedTypesProbeJS, &got)
		for sink, res := range map[string]string{"innerHTML": got.InnerHTML, "insertAdjacentHTML": got.InsertAdjacentHTML,
			"DOMParser.parseFromString": got.DOMParser, "a script's src": got.ScriptSrc, "new Worker": got.Worker} {
			if res != "TypeError" {
				t.Errorf("%s (%s): a string given to %s: %s, want TypeError", p.name, p.kind, sink, res)
			}
		}
		if got.Images != 0 {
			t.Errorf("%s (%s): %d <img> made from a string", p.name, p.kind, got.Images)
		}
		if got.DefaultPolicy == "allowed" || got.SecondPolicy == "allowed" {
			t.Errorf("%s (%s): a page script made a policy: default %s, the page's name again %s", p.name, p.kind, got.DefaultPolicy, got.SecondPolicy)
		}
		if !got.OwnScript || got.OwnWorker != "allowed" {
			t.Errorf("%s (%s): the page's policy did not make its own worker's URL: %v, new Worker %s", p.name, p.kind, got.OwnScript, got.OwnWorker)
		}
		for what, res := range map[string]string{"another origin": got.OtherOrigin, "a path out of /static/": got.OutOfStatic,
			"encoded dots": got.EncodedDots, "a blob: URL": got.Blob} {
			if res != "ScriptURLRefused" {
				t.Errorf("%s (%s): the page's policy given %s: %s, want ScriptURLRefused", p.name, p.kind, what, res)
			}
		}
		if t.Failed() {
			t.FailNow() // nothing was refused, so nothing will be reported
		}
		// The reports are queued as tasks: wait for the five sinks' and the two policies'.
		waitOK(ctx, t, p, `window.__violations.length >= 7`, "the refusals were not reported as CSP violations")
		var reports []string
		evalOK(ctx, t, p, `window.__violations.map((v) => v.split(" ")[0])`, &reports)
		slices.Sort(reports)
		want := []string{"require-trusted-types-for", "require-trusted-types-for", "require-trusted-types-for",
			"require-trusted-types-for", "require-trusted-types-for", "trusted-types", "trusted-types"}
		if !slices.Equal(reports, want) {
			t.Errorf("%s (%s): violations reported %q, want %q", p.name, p.kind, reports, want)
		}
	}
}
