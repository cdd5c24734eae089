package web

import (
	"strings"
	"testing"
)

// TestCSPRequiresTrustedTypes: the CSP requires Trusted Types for every script sink and
// allows exactly one policy, the one static/js/script-urls.js makes under that name;
// no other script makes a policy (a "default" one would let every string through).
func TestCSPRequiresTrustedTypes(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(ContentSecurityPolicy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	if got := directives["require-trusted-types-for"]; got != "'script'" {
		t.Errorf("require-trusted-types-for %q, want 'script': %s", got, ContentSecurityPolicy)
	}
	if got := directives["trusted-types"]; got != ScriptURLPolicy || ScriptURLPolicy != "conclave-script-url" {
		t.Errorf("trusted-types %q, want only %q: %s", got, "conclave-script-url", ContentSecurityPolicy)
	}
	const maker = "static/js/script-urls.js"
	files := embedded(t)
	if !strings.Contains(files[maker], "export const SCRIPT_URL_POLICY = '"+ScriptURLPolicy+"';") {
		t.Errorf("%s does not name its policy %q", maker, ScriptURLPolicy)
	}
	for name, text := range files {
		if name != maker && strings.Contains(text, "createPolicy") {
			t.Errorf("%s makes a Trusted Types policy; the CSP allows only %s's", name, maker)
		}
	}
}

// TestCSPWorkersAreThisServersScripts: workers come from this origin only (worker-src
// 'self', where it also allowed blob:, which no script uses): every worker an embedded
// script makes, the vendored blur runtime's included (it makes none), is a script of
// this server named by a TrustedScriptURL of script-urls.js (scriptURL, paths below
// /static/ only), and no script makes a shared worker or registers a service worker.
func TestCSPWorkersAreThisServersScripts(t *testing.T) {
	var workerSrc string
	for _, d := range strings.Split(ContentSecurityPolicy, ";") {
		if name, value, _ := strings.Cut(strings.TrimSpace(d), " "); name == "worker-src" {
			workerSrc = value
		}
	}
	if workerSrc != "'self'" {
		t.Errorf("worker-src %q, want only 'self': %s", workerSrc, ContentSecurityPolicy)
	}
	made := 0
	for name, text := range embedded(t) {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, bad := range []string{"SharedWorker", "serviceWorker"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue // a comment's "new Worker(…)"
			}
			for rest := line; ; {
				_, after, ok := strings.Cut(rest, "new Worker(")
				if !ok {
					break
				}
				made++
				if !strings.HasPrefix(after, "scriptURL('/static/") && !strings.HasPrefix(after, "scriptURL(WORKER_URL)") {
					t.Errorf("%s makes a worker of %.40q…, not of scriptURL of a path below /static/", name, after)
				}
				rest = after
			}
		}
	}
	if made == 0 {
		t.Error("no script makes a worker: this test looks in the wrong place")
	}
}
