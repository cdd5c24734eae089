package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoutes(t *testing.T) {
	h := Handler(Options{})
	tests := []struct {
		target      string
		status      int
		contentType string
		contains    string
	}{
		{"/", 200, "text/html; charset=utf-8", `src="/static/js/landing.js"`},
		{"/m/q3Vx8yJ2kVx0mL1c7rT9Aw", 200, "text/html; charset=utf-8", `src="/static/js/meeting.js"`},
		{"/m/a", 200, "text/html; charset=utf-8", `id="prejoin-join"`},
		{"/m/" + strings.Repeat("A", 64), 200, "text/html; charset=utf-8", ""},
		{"/m/abc-_DEF09", 200, "text/html; charset=utf-8", ""},
		{"/static/js/meeting.js", 200, "text/javascript; charset=utf-8", "window.conclave"},
		{"/static/js/signaling.js", 200, "text/javascript; charset=utf-8", "export class Signaling"},
		{"/static/css/app.css", 200, "text/css; charset=utf-8", ":root"},
		{"/static/img/icon.png", 200, "image/png", "PNG"},

		{"/m/", 404, "", ""},
		{"/m", 404, "", ""},
		{"/m/" + strings.Repeat("A", 65), 404, "", ""},
		{"/m/abc/", 404, "", ""},
		{"/m/abc/def", 404, "", ""},
		{"/m/abc.def", 404, "", ""},
		{"/m/abc=", 404, "", ""},
		{"/m/%C3%A4", 404, "", ""},
		{"/index.html", 404, "", ""},
		{"/meeting.html", 404, "", ""},
		{"/static/", 404, "", ""},
		{"/static/js", 404, "", ""},
		{"/static/js/", 404, "", ""},
		{"/static/nope.js", 404, "", ""},
		{"/static/../web.go", 404, "", ""},
		{"/static//js/meeting.js", 404, "", ""},
		{"/static/index.html", 404, "", ""},
		{"/static/meeting.html", 404, "", ""},
		{"/favicon.ico", 404, "", ""},
		{"/ws", 404, "", ""},
		{"/api/meetings", 404, "", ""},
	}
	for _, tt := range tests {
		res := get(t, h, http.MethodGet, tt.target)
		b := body(t, res)
		if res.StatusCode != tt.status {
			t.Errorf("GET %s: status %d, want %d", tt.target, res.StatusCode, tt.status)
			continue
		}
		if tt.contentType != "" && res.Header.Get("Content-Type") != tt.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tt.target, res.Header.Get("Content-Type"), tt.contentType)
		}
		if tt.contains != "" && !strings.Contains(b, tt.contains) {
			t.Errorf("GET %s: body does not contain %q", tt.target, tt.contains)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := Handler(Options{})
	want := map[string]string{
		"Content-Security-Policy":    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; worker-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types conclave-script-url",
		"Referrer-Policy":            "no-referrer",
		"X-Content-Type-Options":     "nosniff",
		"Permissions-Policy":         "camera=(self), microphone=(self), display-capture=(self)",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	for _, target := range []string{"/", "/m/abc", "/static/js/meeting.js", "/static/css/app.css", "/nope", "/m/", "/static/nope"} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
			res := get(t, h, method, target)
			for k, v := range want {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s %s: %s = %q, want %q", method, target, k, got, v)
				}
			}
		}
	}
	for _, target := range []string{"/", "/m/abc"} {
		res := get(t, h, http.MethodGet, target)
		if got := res.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s: Cache-Control = %q, want no-store", target, got)
		}
	}
	res := get(t, h, http.MethodGet, "/static/js/meeting.js")
	if cc := res.Header.Get("Cache-Control"); cc == "" || strings.Contains(cc, "public") {
		t.Errorf("asset Cache-Control = %q", cc)
	}
	if res.Header.Get("ETag") == "" {
		t.Error("asset has no ETag")
	}
}

func TestConditionalAndMethods(t *testing.T) {
	h := Handler(Options{})
	res := get(t, h, http.MethodGet, "/static/css/app.css")
	etag := res.Header.Get("ETag")
	req := httptest.NewRequest(http.MethodGet, "/static/css/app.css", nil)
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", rec.Code)
	}

	res = get(t, h, http.MethodHead, "/")
	if res.StatusCode != 200 || body(t, res) != "" {
		t.Errorf("HEAD /: status %d", res.StatusCode)
	}
	for _, target := range []string{"/", "/m/abc", "/static/js/meeting.js"} {
		res = get(t, h, http.MethodPost, target)
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: status %d, want 405", target, res.StatusCode)
		}
	}
}

func TestEveryAssetHasAKnownContentType(t *testing.T) {
	h := Handler(Options{}).(*handler)
	for name := range h.assets {
		if _, ok := contentTypes[path.Ext(name)]; !ok {
			t.Errorf("%s: no content type for %q", name, path.Ext(name))
		}
	}
}

// embedded returns every embedded file with its contents.
func embedded(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("only %d embedded files", len(files))
	}
	return files
}

// TestNoOtherOrigin fails if any embedded file names another origin: the
// client must load nothing from anywhere but its own server. Even comments may
// not carry such a URL.
func TestNoOtherOrigin(t *testing.T) {
	forbidden := []*regexp.Regexp{
		// Any absolute URL with an authority, anywhere (code, markup, comments).
		regexp.MustCompile(`(?i)\b(https?|wss?|ftp|file):\s*(//|\\/\\/)`),
		// Protocol-relative URLs in attributes, CSS and imports.
		regexp.MustCompile(`(?i)\b(src|href|action|formaction|poster|srcset|data|xlink:href)\s*=\s*["']?\s*//`),
		regexp.MustCompile(`(?i)url\(\s*["']?\s*//`),
		regexp.MustCompile(`(?i)@import\s+(url\()?\s*["']?\s*//`),
		regexp.MustCompile(`(?i)\b(import|from)\s*\(?\s*["'\x60]\s*//`),
		regexp.MustCompile(`(?i)\b(fetch|WebSocket|EventSource|Worker|importScripts)\s*\(\s*["'\x60]\s*//`),
		// Absolute URLs in attributes with any scheme except data:/blob: (e.g. a CDN).
		regexp.MustCompile(`(?i)\b(src|href)\s*=\s*["']?\s*[a-z][a-z0-9+.-]*:`),
	}
	allowedScheme := regexp.MustCompile(`(?i)\b(src|href)\s*=\s*["']?\s*(data|blob|mailto):`)
	// The SVG namespace (icons.js) is a name that no browser fetches; it is allowed as a
	// whole string literal, nothing more of that host.
	svgNamespace := regexp.MustCompile(`^http://www\.w3\.org/2000/svg['"]`)
	for name, text := range embedded(t) {
		if strings.HasSuffix(name, ".png") || vendored(name) {
			continue
		}
		for _, re := range forbidden {
			for _, loc := range re.FindAllStringIndex(text, -1) {
				match := text[loc[0]:loc[1]]
				if allowedScheme.MatchString(match) || svgNamespace.MatchString(text[loc[0]:]) {
					continue
				}
				line := 1 + strings.Count(text[:loc[0]], "\n")
				t.Errorf("%s:%d: reference to another origin: %q", name, line, match)
			}
		}
	}
}

// TestNoInlineScriptOrStyle: the CSP forbids inline code and style, so none may
// exist (it would silently not work).
func TestNoInlineScriptOrStyle(t *testing.T) {
	scriptTag := regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	checks := []struct {
		re  *regexp.Regexp
		why string
	}{
		{regexp.MustCompile(`(?i)<style\b`), "inline <style> element"},
		{regexp.MustCompile(`(?i)\sstyle\s*=`), "inline style attribute"},
		{regexp.MustCompile(`(?i)\son[a-z]+\s*=\s*["']`), "inline event handler attribute"},
		{regexp.MustCompile(`(?i)javascript:`), "javascript: URL"},
	}
	for name, text := range embedded(t) {
		if !strings.HasSuffix(name, ".html") {
			continue
		}
		for _, m := range scriptTag.FindAllStringSubmatch(text, -1) {
			if strings.TrimSpace(m[2]) != "" {
				t.Errorf("%s: inline script", name)
			}
			if !strings.Contains(m[1], `src="/static/`) {
				t.Errorf("%s: script without a same-origin src: %s", name, m[0])
			}
		}
		for _, c := range checks {
			if c.re.MatchString(text) {
				t.Errorf("%s: %s", name, c.why)
			}
		}
	}
	// Scripts must not create markup or style from strings either.
	jsChecks := []struct {
		re  *regexp.Regexp
		why string
	}{
		{regexp.MustCompile(`\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write`), "markup from strings"},
		{regexp.MustCompile(`parseFromString|createContextualFragment|\.srcdoc\s*=|setHTMLUnsafe|parseHTMLUnsafe`), "markup from strings (refused by the CSP's Trusted Types)"},
		{regexp.MustCompile(`setAttribute\(\s*['"]style['"]`), "style attribute (blocked by CSP)"},
		{regexp.MustCompile(`\beval\s*\(|new Function\s*\(`), "eval"},
	}
	for name, text := range embedded(t) {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, c := range jsChecks {
			if c.re.MatchString(text) {
				t.Errorf("%s: %s", name, c.why)
			}
		}
	}
}

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

// TestTestHooks keeps the ids and classes the browser tests rely on.
func TestTestHooks(t *testing.T) {
	files := embedded(t)
	page := files["static/meeting.html"]
	for _, id := range []string{
		"prejoin-name", "prejoin-mic", "prejoin-camera", "prejoin-join", "prejoin-password",
		"btn-mic", "btn-camera", "btn-screen", "btn-chat", "btn-leave", "btn-people", "btn-rejoin",
		"chat-input", "chat-send", "chat-messages", "meeting-error",
		// waiting screen
		"lobby", "lobby-status", "lobby-note", "lobby-leave",
		// moderators
		"btn-waiting", "waiting-badge", "waiting-panel", "waiting-list", "btn-admit-all",
		"btn-settings", "settings-panel", "setting-lock", "setting-lobby", "setting-screenshare",
		"setting-unmute", "setting-chat", "setting-password", "setting-password-save",
		"btn-end-meeting", "confirm-dialog", "confirm-ok", "confirm-cancel",
		// everyone
		"unmute-prompt", "unmute-accept", "unmute-dismiss",
		// end-to-end encryption
		"e2ee-status", "e2ee-panel", "safety-code", "prejoin-e2ee",
		// background blur
		"prejoin-blur", "btn-blur",
	} {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("meeting.html has no #%s", id)
		}
	}
	landing := files["static/index.html"]
	for _, id := range []string{
		"host-key", "new-password", "new-lobby", "new-screenshare", "new-unmute", "new-chat",
		"btn-new-meeting", "create-error", "create-result", "link-participant", "link-moderator",
		"password-reminder", "btn-join-moderator", "join-input",
		"new-e2ee", "e2ee-reminder", "e2ee-off-reminder",
	} {
		if !strings.Contains(landing, `id="`+id+`"`) {
			t.Errorf("index.html has no #%s", id)
		}
	}
	js := files["static/js/meeting.js"] + files["static/js/page-hooks.js"] + files["static/js/grid.js"] + files["static/js/tile.js"] + files["static/js/chat.js"] +
		files["static/js/people.js"] + files["static/js/waiting.js"] + files["static/js/moderator.js"] +
		files["static/js/lobby.js"]
	for _, s := range []string{
		"window.conclave", "participantId", "participants()", "stats()", "settings()", "waiting()", "get role()",
		"chat-message", "chat-text", "dataset: { participantId, source, self",
		"participant-menu", "dataset: { action: entry.action, participantId: person.id }",
		"waiting-entry", "btn-admit", "btn-deny", "moderatorPresent",
		"'ask_unmute'", "'mute_microphone'", "'mute_camera'", "'stop_screen_share'", "'make_presenter'",
		"'remove_presenter'", "'make_moderator'", "'remove_moderator'", "'send_to_lobby'", "'remove'",
		// end-to-end encryption
		"e2ee: e2eeHooks", "safetyCode:", "verified:", "unverified:", "keyIndex:",
		"e2ee-unverified", "link_incomplete",
	} {
		if !strings.Contains(js+files["static/js/e2ee-ui.js"]+files["static/js/status.js"], s) {
			t.Errorf("client scripts lack %q", s)
		}
	}
}

// TestE2EEModules: the worker and the key schedule are embedded, the worker is a
// module worker loaded from this origin, and the word list of the safety code has
// 1024 distinct words.
func TestE2EEModules(t *testing.T) {
	files := embedded(t)
	for _, f := range []string{"worker.js", "media-rings.js", "session-keys.js", "words.js", "keys.js", "frame.js", "text.js", "b64.js"} {
		if files["static/js/e2ee/"+f] == "" {
			t.Errorf("static/js/e2ee/%s is not embedded", f)
		}
	}
	hooks := files["static/js/e2ee-hooks.js"]
	for _, s := range []string{"'/static/js/e2ee/worker.js'", "type: 'module'", "encodedInsertableStreams = true",
		"createEncodedStreams()", "new RTCRtpScriptTransform(", "getSenders()"} {
		if !strings.Contains(hooks, s) {
			t.Errorf("e2ee-hooks.js lacks %q", s)
		}
	}
	// Never a null transform: that sends plaintext (TESTING.md).
	if regexp.MustCompile(`transform\s*=\s*null`).MatchString(hooks + files["static/js/e2ee/worker.js"]) {
		t.Error("a transform is set to null")
	}
	worker := files["static/js/e2ee/worker.js"]
	for _, s := range []string{"onrtctransform", "from './frame.js'", "'stream'"} {
		if !strings.Contains(worker, s) {
			t.Errorf("worker.js lacks %q", s)
		}
	}
	words := regexp.MustCompile(`'([a-z]+)'`).FindAllStringSubmatch(files["static/js/e2ee/words.js"], -1)
	seen := map[string]bool{}
	for _, w := range words {
		if seen[w[1]] {
			t.Errorf("words.js: %q twice", w[1])
		}
		seen[w[1]] = true
	}
	if len(seen) != 1024 {
		t.Errorf("words.js has %d distinct words, want 1024", len(seen))
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

// TestModulesResolve checks that every relative import names an embedded file.
func TestModulesResolve(t *testing.T) {
	files := embedded(t)
	imp := regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]`)
	for name, text := range files {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range imp.FindAllStringSubmatch(text, -1) {
			target := path.Join(path.Dir(name), m[1])
			relative := strings.HasPrefix(m[1], "./") || strings.HasPrefix(m[1], "../")
			if !relative || !strings.HasPrefix(target, "static/") || files[target] == "" {
				t.Errorf("%s imports %q, which is not an embedded module", name, m[1])
			}
			// A JSON module loads only when the import says so (the catalogues).
			withJSON := regexp.MustCompile(regexp.QuoteMeta(m[1]) + `['"]\s+with\s+\{\s*type:\s*'json'\s*\}`)
			if strings.HasSuffix(target, ".json") && !withJSON.MatchString(text) {
				t.Errorf("%s imports %q without `with { type: 'json' }`", name, m[1])
			}
		}
	}
	src := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`)
	for name, text := range files {
		if !strings.HasSuffix(name, ".html") {
			continue
		}
		for _, m := range src.FindAllStringSubmatch(text, -1) {
			if files["static/"+strings.TrimPrefix(m[1], "/static/")] == "" {
				t.Errorf("%s references %s, which is not embedded", name, m[1])
			}
		}
	}
}

func TestValidMeetingID(t *testing.T) {
	for id, want := range map[string]bool{
		"q3Vx8yJ2kVx0mL1c7rT9Aw": true, "a": true, "-_": true,
		"": false, "a b": false, "a/b": false, "a+b": false, "a=": false, strings.Repeat("x", 65): false,
	} {
		if got := validMeetingID(id); got != want {
			t.Errorf("validMeetingID(%q) = %v", id, got)
		}
	}
}
