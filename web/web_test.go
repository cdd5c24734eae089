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
