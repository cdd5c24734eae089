package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tab is one page of a browser: one participant of a meeting.
type Tab interface {
	// Navigate loads url and waits until the page has loaded completely.
	Navigate(ctx context.Context, url string) error
	// Eval runs the JavaScript expression js (a promise is awaited) and
	// unmarshals the JSON of its value into out (out may be nil). An
	// exception or a rejected promise becomes a *JSError.
	Eval(ctx context.Context, js string, out any) error
	// WaitFor polls the JavaScript expression js until its value is truthy or
	// ctx ends. Its error names the last value or exception that it saw.
	WaitFor(ctx context.Context, js string) error
	// Close closes the tab.
	Close() error
}

// Browser is a running browser process.
type Browser interface {
	// NewTab opens a new tab (its own window, so it is never a hidden
	// background tab) at about:blank.
	NewTab(ctx context.Context) (Tab, error)
	// Name is "chromium" or "firefox".
	Name() string
	// Close ends the browser process and removes its profile.
	Close() error
}

// JSError is a JavaScript exception or a rejected promise.
type JSError struct {
	// Message is the text of the exception, such as "Error: boom" or
	// "TypeError: x is null".
	Message string
	// Stack is the stack trace, when the browser reports one.
	Stack string
}

func (e *JSError) Error() string {
	return "javascript exception: " + e.Message
}

// ErrClosed is returned by a Tab or Browser that is closed or whose browser
// process is gone.
var ErrClosed = errors.New("browsertest: browser or tab closed")

// DefaultWaitTimeout bounds WaitFor when its context has no deadline.
const DefaultWaitTimeout = 30 * time.Second

// launchTimeout bounds the start of a browser. It only ends a hung start: Firefox
// took 19 s on a loaded 2-core machine, and more than 60 s at a load average of 37
// (the browser suite beside helpers' builds), which must not fail a test.
const launchTimeout = 4 * time.Minute

// waitInterval is the pause between two polls of WaitFor.
const waitInterval = 100 * time.Millisecond

// Kind names a browser engine.
type Kind int

// The browser engines.
const (
	KindChromium Kind = iota + 1
	KindFirefox
)

// Kinds lists every engine, for table-driven tests.
func Kinds() []Kind { return []Kind{KindChromium, KindFirefox} }

func (k Kind) String() string {
	switch k {
	case KindChromium:
		return "chromium"
	case KindFirefox:
		return "firefox"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Launch starts a new browser of kind k for the test t and closes it when t
// ends. It skips t (or fails it when $CI is set) if the browser is missing.
func Launch(t testing.TB, k Kind) Browser {
	t.Helper()
	path := findOrSkip(t, k)
	b, err := launch(k, path, Options{})
	if err != nil {
		t.Fatalf("browsertest: launching %s: %v", k, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Logf("browsertest: closing %s: %v", k, err)
		}
	})
	return b
}

// Chromium launches headless Chromium for the test t; see Launch.
func Chromium(t testing.TB) Browser {
	t.Helper()
	return Launch(t, KindChromium)
}

// Firefox launches headless Firefox ESR for the test t; see Launch.
func Firefox(t testing.TB) Browser {
	t.Helper()
	return Launch(t, KindFirefox)
}

func launch(k Kind, path string, o Options) (Browser, error) {
	switch k {
	case KindChromium:
		return launchChromium(path, o)
	case KindFirefox:
		return launchFirefox(path, o)
	}
	return nil, fmt.Errorf("unknown browser kind %v", k)
}

// sharedCache holds the browsers that Shared launches, one per kind, for the
// whole test binary. Main closes them.
var sharedCache struct {
	mu       sync.Mutex
	inMain   bool
	warned   bool
	browsers map[Kind]*sharedEntry
}

type sharedEntry struct {
	once    sync.Once
	browser Browser
	missing string // why the browser cannot be found, if it cannot
	err     error  // the launch error
}

// Shared returns the browser of kind k that all tests of the test binary
// share; it launches it on first use. Each test should open its own tabs and
// close them (t.Cleanup(func() { tab.Close() })). Close on the returned
// Browser does nothing: Main closes the shared browsers when all tests have
// run. The package's TestMain must be
//
//	func TestMain(m *testing.M) { browsertest.Main(m) }
//
// (or use Run). Without it, Shared falls back to Launch: a browser per
// test, closed when the test ends. A missing browser skips t, or fails it
// when $CI is set.
func Shared(t testing.TB, k Kind) Browser {
	t.Helper()
	sharedCache.mu.Lock()
	if !sharedCache.inMain {
		warn := !sharedCache.warned
		sharedCache.warned = true
		sharedCache.mu.Unlock()
		if warn {
			t.Logf("browsertest: TestMain does not call browsertest.Main; Shared launches a browser per test")
		}
		return Launch(t, k)
	}
	if sharedCache.browsers == nil {
		sharedCache.browsers = make(map[Kind]*sharedEntry)
	}
	e := sharedCache.browsers[k]
	if e == nil {
		e = new(sharedEntry)
		sharedCache.browsers[k] = e
	}
	sharedCache.mu.Unlock()

	e.once.Do(func() {
		path, err := findBrowser(k)
		if err != nil {
			e.missing = err.Error()
			return
		}
		e.browser, e.err = launch(k, path, Options{})
	})
	if e.missing != "" {
		skipOrFatal(t, e.missing)
	}
	if e.err != nil {
		t.Fatalf("browsertest: launching shared %s: %v", k, e.err)
	}
	return sharedBrowser{e.browser}
}

// sharedBrowser is a Browser whose Close does nothing.
type sharedBrowser struct{ Browser }

func (sharedBrowser) Close() error { return nil }

// Main runs the tests of m, then closes the browsers that Shared launched, and
// exits with the result of the tests. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main without the exit, for a TestMain with its own teardown:
//
//	func TestMain(m *testing.M) {
//		code := browsertest.Run(m)
//		teardown()
//		os.Exit(code)
//	}
func Run(m *testing.M) int {
	sharedCache.mu.Lock()
	sharedCache.inMain = true
	sharedCache.mu.Unlock()

	code := m.Run()

	sharedCache.mu.Lock()
	sharedCache.inMain = false
	entries := sharedCache.browsers
	sharedCache.browsers = nil
	sharedCache.mu.Unlock()
	for k, e := range entries {
		if e.browser == nil {
			continue
		}
		if err := e.browser.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "browsertest: closing shared %s: %v\n", k, err)
		}
	}
	return code
}

// findOrSkip returns the path of the browser of kind k, or skips (fails under
// CI) the test.
func findOrSkip(t testing.TB, k Kind) string {
	t.Helper()
	path, err := findBrowser(k)
	if err != nil {
		skipOrFatal(t, err.Error())
	}
	return path
}

func skipOrFatal(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("browsertest: %s (CI is set, so browser tests must run)", msg)
	}
	t.Skipf("browsertest: %s (set CI=1 to make this fatal)", msg)
}

// findBrowser looks for the executable of kind k: the environment variable
// $CONCLAVE_CHROMIUM or $CONCLAVE_FIREFOX first, then the usual paths.
//
// Chromium's headless shell (Debian's chromium-headless-shell: the same engine
// without the browser's user interface) comes before the full browser. The full
// one's headless mode runs the whole browser around every tab, its interface's
// own WebUI renderer included: over the browser suite (2026-12-02) the shell took
// 15 % less CPU (736 CPU-seconds against 869), and the suite is bound by the CPU.
func findBrowser(k Kind) (string, error) {
	var env string
	var candidates []string
	switch k {
	case KindChromium:
		env = "CONCLAVE_CHROMIUM"
		candidates = []string{"/usr/bin/chromium-headless-shell", "chromium-headless-shell",
			"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}
	case KindFirefox:
		env = "CONCLAVE_FIREFOX"
		candidates = []string{"/usr/lib/firefox-esr/firefox-esr", "firefox-esr", "firefox"}
	default:
		return "", fmt.Errorf("unknown browser kind %v", k)
	}
	if p := os.Getenv(env); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("$%s=%q is not executable: %v", env, p, err)
		}
		return path, nil
	}
	for _, c := range candidates {
		if path, err := exec.LookPath(c); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s not found (tried %s; set $%s)", k, strings.Join(candidates, ", "), env)
}

// evaler runs a wrapped expression whose value is a string (or a promise of
// one) and returns that string.
type evaler interface {
	evalString(ctx context.Context, expr string) (string, error)
	// gone reports whether the tab or its browser is closed.
	gone() bool
}

// wrapExpr makes a promise of the value of js: an async arrow function with
// no variables of its own (js may use any global name, and await), called at
// once. js is put on lines of its own so that a trailing // comment cannot
// swallow the closing parenthesis; trailing semicolons are dropped so that
// "f();" works.
func wrapExpr(js string) string {
	return "(async () => (\n" + strings.TrimRight(strings.TrimSpace(js), "; \t\n") + "\n))()"
}

// jsonExpr is the expression that Eval runs: the JSON of the awaited value of
// js ("null" for undefined and other values that JSON cannot represent).
func jsonExpr(js string) string {
	return wrapExpr(js) + `.then(v => {
const s = JSON.stringify(v);
return s === undefined ? "null" : s;
})`
}

// waitExpr is the expression that WaitFor polls: a JSON pair of the
// truthiness of the awaited value of js and a short preview of that value.
func waitExpr(js string) string {
	return wrapExpr(js) + `.then(v => {
let s;
try { s = JSON.stringify(v); } catch (e) { s = undefined; }
if (s === undefined) s = String(v);
if (s.length > 300) s = s.slice(0, 300) + "…";
return JSON.stringify([!!v, s]);
})`
}

// evalJSON is Tab.Eval on top of evalString.
func evalJSON(ctx context.Context, e evaler, js string, out any) error {
	s, err := e.evalString(ctx, jsonExpr(js))
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(s), out); err != nil {
		return fmt.Errorf("decoding the value of %s: %w (JSON %.200s)", shorten(js), err, s)
	}
	return nil
}

// waitFor is Tab.WaitFor on top of evalString.
func waitFor(ctx context.Context, e evaler, js string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultWaitTimeout)
		defer cancel()
	}
	expr := waitExpr(js)
	start := time.Now()
	last := "no value yet"
	polls := 0
	for {
		polls++
		s, err := e.evalString(ctx, expr)
		if err == nil {
			var pair [2]any
			if jerr := json.Unmarshal([]byte(s), &pair); jerr != nil {
				last = "undecodable result " + s
			} else if ok, _ := pair[0].(bool); ok {
				return nil
			} else {
				last = fmt.Sprintf("last value %v", pair[1])
			}
		} else if e.gone() {
			return fmt.Errorf("waiting for %s: %w", shorten(js), err)
		} else if ctx.Err() == nil {
			// A JS exception (say, the element does not exist yet) or a
			// page that is navigating: poll again.
			last = "last error: " + err.Error()
		}
		if !sleepCtx(ctx, waitInterval) {
			return fmt.Errorf("waiting for %s: %w after %v and %d polls; %s",
				shorten(js), context.Cause(ctx), time.Since(start).Round(time.Millisecond), polls, last)
		}
	}
}

// sleepCtx sleeps for d and reports whether ctx is still alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// shorten quotes js for an error message.
func shorten(js string) string {
	js = strings.Join(strings.Fields(js), " ")
	if len(js) > 120 {
		js = js[:120] + "…"
	}
	return fmt.Sprintf("%q", js)
}

// OnNewDocument makes tab run the script js (statements) in every document
// that it loads from now on, before the page's own scripts. Use it with
// FakeDisplayMediaJS, for instance.
func OnNewDocument(ctx context.Context, tab Tab, js string) error {
	type preloader interface {
		onNewDocument(ctx context.Context, js string) error
	}
	p, ok := tab.(preloader)
	if !ok {
		return fmt.Errorf("browsertest: %T cannot add a script for new documents", tab)
	}
	return p.onNewDocument(ctx, js)
}
