package browsertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// testTimeout bounds one test of the package. It is generous on purpose, as the e2e
// tests' bound: a step waits as long as the browsers take on a loaded machine, so the
// verdict never depends on the machine's speed; only a hung test meets it. (At 30 s a
// cross-browser call failed in CI beside other work: connected in 9 s, its second
// picture not matched by the end of the 30.)
const testTimeout = 6 * time.Minute

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// openTab opens a tab of the shared browser of kind k, closed at the end of
// t, and loads url in it unless url is empty.
func openTab(ctx context.Context, t *testing.T, k Kind, url string) Tab {
	t.Helper()
	b := Shared(t, k)
	tab, err := b.NewTab(ctx)
	if err != nil {
		t.Fatalf("%s: NewTab: %v", k, err)
	}
	t.Cleanup(func() {
		if err := tab.Close(); err != nil {
			t.Errorf("%s: closing tab: %v", k, err)
		}
	})
	if url != "" {
		if err := tab.Navigate(ctx, url); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	return tab
}

// forEachBrowser runs f in a subtest per browser, after the shared browser
// is up (a launch must not eat the test's timeout).
func forEachBrowser(t *testing.T, f func(t *testing.T, k Kind)) {
	for _, k := range Kinds() {
		t.Run(k.String(), func(t *testing.T) {
			Shared(t, k)
			f(t, k)
		})
	}
}

func mustEval(ctx context.Context, t *testing.T, tab Tab, js string, out any) {
	t.Helper()
	if err := tab.Eval(ctx, js, out); err != nil {
		t.Fatalf("Eval(%s): %v", shorten(js), err)
	}
}

func mustWait(ctx context.Context, t *testing.T, tab Tab, js string) {
	t.Helper()
	if err := tab.WaitFor(ctx, js); err != nil {
		t.Fatal(err)
	}
}

func TestEval(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)

		var n int
		mustEval(ctx, t, tab, "1 + 2", &n)
		if n != 3 {
			t.Errorf("1 + 2 = %d", n)
		}
		var obj struct {
			Title string `json:"title"`
			List  []int  `json:"list"`
		}
		mustEval(ctx, t, tab, `({title: document.title, list: [1, 2]}) // a comment`, &obj)
		if obj.Title != "browsertest" || len(obj.List) != 2 {
			t.Errorf("object: %+v", obj)
		}
		var s string
		mustEval(ctx, t, tab, `new Promise(r => setTimeout(() => r("late"), 50));`, &s)
		if s != "late" {
			t.Errorf("promise: %q", s)
		}
		p := &n
		mustEval(ctx, t, tab, `undefined`, &p)
		if p != nil {
			t.Errorf("undefined: %v", *p)
		}
		mustEval(ctx, t, tab, `window.x = 5`, nil)
		// Names that the wrapper of Eval and WaitFor might use.
		mustEval(ctx, t, tab, `window.v = 1, window.s = 2, window.e = 3`, nil)
		mustEval(ctx, t, tab, `v + s + e + x + (await Promise.resolve(1))`, &n)
		if n != 12 {
			t.Errorf("v + s + e + x + 1 = %d, want 12", n)
		}
		mustWait(ctx, t, tab, `v + s + e === 6`)

		for js, want := range map[string]string{
			`(() => { throw new Error("boom") })()`: "Error: boom",
			`Promise.reject(new TypeError("nope"))`: "TypeError: nope",
			`(() => { throw "plain" })()`:           "plain",
			`window.nothing.here`:                   "TypeError",
			`)(`:                                    "SyntaxError",
		} {
			err := tab.Eval(ctx, js, nil)
			var jsErr *JSError
			if !errors.As(err, &jsErr) || !strings.Contains(jsErr.Message, want) {
				t.Errorf("Eval(%s) = %v, want a *JSError with %q", js, err, want)
			}
		}
		if err := tab.Eval(ctx, `"text"`, &n); err == nil {
			t.Errorf("decoding a string into an int: no error")
		}
	})
}

func TestWaitFor(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)

		mustEval(ctx, t, tab, `setTimeout(() => { window.later = {ok: true} }, 300)`, nil)
		// Throws (window.later is undefined) until it is true.
		mustWait(ctx, t, tab, `window.later.ok`)

		wctx, cancel := context.WithTimeout(ctx, time.Second)
		err := tab.WaitFor(wctx, `document.title + "!"`+` === "never"`)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "last value false") {
			t.Errorf("WaitFor timeout error = %v", err)
		}
		wctx, cancel = context.WithTimeout(ctx, time.Second)
		err = tab.WaitFor(wctx, `window.missing.value`)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "TypeError") {
			t.Errorf("WaitFor error does not name the exception: %v", err)
		}
	})
}

func TestConcurrentEval(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				var got int
				js := fmt.Sprintf(`new Promise(r => setTimeout(() => r(%d), %d))`, i, (20-i)*5)
				if err := tab.Eval(ctx, js, &got); err != nil || got != i {
					t.Errorf("Eval %d = %d, %v", i, got, err)
				}
			})
		}
		wg.Wait()
	})
}

func TestTabs(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		a := openTab(ctx, t, k, url)
		b := openTab(ctx, t, k, url)
		mustEval(ctx, t, a, `window.mark = "a"`, nil)
		var mark *string
		mustEval(ctx, t, b, `window.mark`, &mark)
		if mark != nil {
			t.Errorf("tab b sees window.mark = %q of tab a", *mark)
		}
		// Both tabs are in the foreground (each has its own window).
		for i, tab := range []Tab{a, b} {
			var vis string
			mustEval(ctx, t, tab, `document.visibilityState`, &vis)
			if vis != "visible" {
				t.Errorf("tab %d: visibilityState %q", i, vis)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if err := a.Eval(ctx, `1`, nil); !errors.Is(err, ErrClosed) {
			t.Errorf("Eval on a closed tab = %v, want ErrClosed", err)
		}
		mustEval(ctx, t, b, `1`, nil)
	})
}

// TestSpentContextLeavesTheTab: a call whose context has run out fails, and the tab
// (and every other test's, on the shared connection) still answers the next.
func TestSpentContextLeavesTheTab(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)
		spent, cancel := context.WithTimeout(ctx, time.Nanosecond)
		defer cancel()
		<-spent.Done()
		if err := tab.Eval(spent, `1`, nil); err == nil {
			t.Fatal("Eval with a spent context succeeded")
		}
		var n int
		mustEval(ctx, t, tab, `2`, &n)
		if n != 2 {
			t.Fatalf("Eval after a spent context = %d, want 2", n)
		}
	})
}
