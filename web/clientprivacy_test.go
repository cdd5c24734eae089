package web

import (
	"regexp"
	"strings"
	"testing"
)

// TestNothingPersisted: the client keeps in the browser only what storage.js lists
// (preferences on the device; the tab's resumption and moderator secrets and its own
// microphone/camera state and its own display name for this tab),
// and no other module touches browser storage.
func TestNothingPersisted(t *testing.T) {
	re := regexp.MustCompile(`localStorage|sessionStorage|indexedDB|document\.cookie|caches\.open|navigator\.storage`)
	files := embedded(t)
	for name, text := range files {
		if !strings.HasSuffix(name, ".js") && !strings.HasSuffix(name, ".html") || name == "static/js/storage.js" || vendored(name) {
			continue
		}
		if loc := re.FindStringIndex(text); loc != nil {
			t.Errorf("%s: uses browser storage (%q); only storage.js may", name, text[loc[0]:loc[1]])
		}
	}
	store := files["static/js/storage.js"]
	if regexp.MustCompile(`indexedDB|document\.cookie|caches\.open|navigator\.storage`).MatchString(store) {
		t.Error("storage.js: uses storage beyond localStorage/sessionStorage")
	}
	// Every key storage.js may write, and nothing else.
	keys := regexp.MustCompile(`'(conclave\.[a-z-]+)'`).FindAllStringSubmatch(store, -1)
	var got []string
	for _, k := range keys {
		got = append(got, k[1])
	}
	want := []string{"conclave.lang", "conclave.blur", "conclave.knock-sound", "conclave.single-keys", "conclave.resume", "conclave.moderator", "conclave.media", "conclave.name", "conclave.open"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("storage.js keeps %v, want exactly %v (a new key needs a reason in README \"Privacy\")", got, want)
	}
}

// TestNoSecretsLogged: no console call in the client passes a key, a name or chat text.
func TestNoSecretsLogged(t *testing.T) {
	call := regexp.MustCompile(`console\.\w+\(([^;]*)\)`)
	bad := regexp.MustCompile(`(?i)\b(key|secret|raw|name|text|chat|password|crypto|identity|pub|tag)\b`)
	for name, text := range embedded(t) {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range call.FindAllStringSubmatch(text, -1) {
			// Only the message of an Error may follow the fixed text (controls.js names
			// its operation: mic, camera or screen).
			args := strings.ReplaceAll(m[1], "err && err.message", "")
			args = strings.ReplaceAll(args, "${key} operation failed", "")
			if bad.MatchString(args) {
				t.Errorf("%s: console call may log a secret: %s", name, m[0])
			}
		}
	}
}

// TestSecretsStayInMemory: the host key, the meeting password and the moderator
// secret reach the server only inside a request (header or websocket message);
// the pages take them out of the address bar and never put them in a URL query.
func TestSecretsStayInMemory(t *testing.T) {
	files := embedded(t)
	landing := files["static/js/landing.js"]
	for _, s := range []string{"history.replaceState", "Authorization: `Bearer ${key}`", "#host="} {
		if !strings.Contains(landing, s) {
			t.Errorf("landing.js lacks %q", s)
		}
	}
	meeting := files["static/js/meeting-link.js"]
	for _, s := range []string{"history.replaceState", "splitFragment", "fragment.rest"} {
		if !strings.Contains(meeting, s) {
			t.Errorf("meeting-link.js lacks %q", s)
		}
	}
	// A secret after '?' or '&' is in a query, unless that '&' is part of a fragment
	// ("#k=…&mod=…"): look back through the same word for a '#'.
	query := regexp.MustCompile(`[?&](password|moderatorSecret|mod|host|key|k)=`)
	for name, text := range files {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, loc := range query.FindAllStringIndex(text, -1) {
			start := strings.LastIndexAny(text[:loc[0]], " \t\n'\"`(") + 1
			if text[loc[0]] == '&' && strings.Contains(text[start:loc[0]], "#") {
				continue
			}
			t.Errorf("%s puts a secret into a URL query: %q", name, text[start:loc[1]])
		}
	}
}

// TestMeetingKeyStaysInFragment: the meeting's E2EE secret is made in the browser
// and travels only in a link's fragment (#k=…), never in the create request.
func TestMeetingKeyStaysInFragment(t *testing.T) {
	files := embedded(t)
	landing := files["static/js/landing.js"]
	for _, s := range []string{"newMeetingSecret()", "`k=${secret}`", "e2ee,", `id="new-e2ee"`} {
		if !strings.Contains(landing+files["static/index.html"], s) {
			t.Errorf("landing page lacks %q", s)
		}
	}
	// The request body is built before the secret exists and never mentions it.
	body := landing[strings.Index(landing, "const body = {"):strings.Index(landing, "res = await fetch(")]
	if strings.Contains(body, "secret") || strings.Contains(body, "Secret") {
		t.Errorf("the create request mentions a secret:\n%s", body)
	}
	// meeting-start.js shows link_invalid and e2ee_unsupported before anyone knocks.
	meeting := files["static/js/meeting.js"] + files["static/js/meeting-link.js"] + files["static/js/meeting-start.js"]
	for _, s := range []string{"part.startsWith('k=')", "#k=${fragment.key}", "parseSecret(", "link_invalid", "e2ee_unsupported"} {
		if !strings.Contains(meeting, s) {
			t.Errorf("meeting.js, meeting-start.js and meeting-link.js lack %q", s)
		}
	}
}
