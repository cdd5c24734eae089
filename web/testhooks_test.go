package web

import (
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"testing"
)

// testHookFiles lists web/testhooks/ as the paths a test-mode server serves them at.
func testHookFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(testFS, "testhooks", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		out = append(out, "/static/test/"+strings.TrimPrefix(p, "testhooks/"))
		return nil
	})
	if err != nil || len(out) == 0 {
		t.Fatalf("test hooks: %v %v", out, err)
	}
	return out
}

// TestProductionHasNoTestDoors: the production handler serves no test hook, and
// nothing it serves mentions one, reads a test switch or a name from the URL.
func TestProductionHasNoTestDoors(t *testing.T) {
	h := Handler(Options{})
	for _, target := range append(testHookFiles(t), "/static/test/", "/static/test/nope.js") {
		if res := get(t, h, http.MethodGet, target); res.StatusCode != http.StatusNotFound {
			t.Errorf("production GET %s: status %d, want 404", target, res.StatusCode)
		}
	}
	// Everything a production browser can load from this handler.
	forbidden := []string{"e2eetest", "exportKeys", "frameHashes", "conclaveTest", "/static/test/", "test-query", "autojoin"}
	// A name (or a test switch) read from, or put into, a URL query.
	inURL := regexp.MustCompile(`[?&]name=|\.get\(\s*['"](name|autojoin|e2eetest)['"]\s*\)`)
	served := h.(*handler).assets
	if len(served) < 10 {
		t.Fatalf("only %d assets", len(served))
	}
	for name, a := range served {
		if strings.HasPrefix(name, "test/") {
			t.Errorf("production serves %s", name)
		}
		b, err := a.readAll()
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, s := range forbidden {
			if strings.Contains(text, s) {
				t.Errorf("%s mentions %q", name, s)
			}
		}
		if m := inURL.FindString(text); m != "" {
			t.Errorf("%s takes a name or test switch from a URL: %q", name, m)
		}
	}
}

// TestTestHooksOnlyInTestMode: a handler built for tests serves the hook modules
// (whose imports it can resolve), and its pages are byte for byte the production
// pages but for the meeting page's one line that loads early.js (small fake
// cameras, 60 ms Opus frames) first. A production page never refers to a hook.
func TestTestHooksOnlyInTestMode(t *testing.T) {
	prod, test := Handler(Options{}), Handler(Options{TestHooks: true})
	want := map[string]string{
		"/static/test/hooks.js":       "window.conclaveTest",
		"/static/test/e2ee-worker.js": "import '/static/js/e2ee/worker.js'",
	}
	for _, target := range testHookFiles(t) {
		if _, ok := want[target]; !ok {
			want[target] = ""
		}
	}
	imp := regexp.MustCompile(`(?m)^\s*import\s[^'"]*?['"]([^'"]+)['"]`)
	for target, s := range want {
		res := get(t, test, http.MethodGet, target)
		b := body(t, res)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || !strings.Contains(b, s) {
			t.Errorf("test-mode GET %s: %d %q, want 200 with %q", target, res.StatusCode, res.Header.Get("Content-Type"), s)
		}
		if res.Header.Get("Content-Security-Policy") != ContentSecurityPolicy {
			t.Errorf("test-mode GET %s: no CSP", target)
		}
		for _, m := range imp.FindAllStringSubmatch(b, -1) {
			dep := m[1]
			if !strings.HasPrefix(dep, "/") {
				dep = path.Join(path.Dir(target), dep)
			}
			if r := get(t, test, http.MethodGet, dep); r.StatusCode != 200 {
				t.Errorf("%s imports %s: status %d", target, dep, r.StatusCode)
			}
		}
	}
	a, b := body(t, get(t, prod, http.MethodGet, "/m/abc")), body(t, get(t, test, http.MethodGet, "/m/abc"))
	if strings.Contains(a, "/static/test/") || strings.Replace(b, earlyTestScript+"\n", "", 1) != a ||
		strings.Index(b, earlyTestScript) > strings.Index(b, meetingScript) || strings.Index(b, earlyTestScript) < 0 {
		t.Errorf("test-mode meeting page is not the production page with early.js loaded first:\n%s", b)
	}
	for _, target := range []string{"/", "/static/js/meeting.js", "/static/js/e2ee/worker.js", "/static/js/e2ee-hooks.js"} {
		a, b := body(t, get(t, prod, http.MethodGet, target)), body(t, get(t, test, http.MethodGet, target))
		if a != b || a == "" {
			t.Errorf("GET %s differs between production and test mode", target)
		}
	}
}
