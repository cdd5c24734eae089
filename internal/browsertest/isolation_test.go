package browsertest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// The tests of a tab as a device of its own: its storage, its lifetime, its locale.

// TestTabsShareNoStorage: a tab keeps nothing of another's on the same origin, neither
// of one beside it nor of one closed before it opened (a later test's server on an
// earlier one's port): each is a person on a device of their own.
func TestTabsShareNoStorage(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		first := openTab(ctx, t, k, url)
		mustEval(ctx, t, first, `localStorage.setItem("conclave.lang", "de"), document.cookie = "mark=first", true`, nil)
		beside := openTab(ctx, t, k, url)
		kept := `[localStorage.getItem("conclave.lang"), document.cookie]`
		var got []*string
		mustEval(ctx, t, beside, kept, &got)
		if len(got) != 2 || got[0] != nil || got[1] == nil || *got[1] != "" {
			t.Errorf("a tab beside another sees its storage: %v", deref(got))
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		later := openTab(ctx, t, k, url)
		mustEval(ctx, t, later, kept, &got)
		if len(got) != 2 || got[0] != nil || got[1] == nil || *got[1] != "" {
			t.Errorf("a tab opened after another closed sees its storage: %v", deref(got))
		}
	})
}

// TestTabInLocale: a Firefox tab opened in German sees German as its browser's
// language (navigator.language(s), Intl) and a tab beside it does not; Chromium says
// it cannot.
func TestTabInLocale(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab, err := NewTabInLocale(ctx, Shared(t, k), "de-DE")
		if k == KindChromium {
			if err == nil {
				_ = tab.Close()
				t.Fatal("chromium opened a tab in a locale of its own")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tab.Close() })
		if err := tab.Navigate(ctx, url); err != nil {
			t.Fatal(err)
		}
		beside := openTab(ctx, t, k, url)
		js := `[navigator.language, navigator.languages.join(), Intl.DateTimeFormat().resolvedOptions().locale]`
		var german, other []string
		mustEval(ctx, t, tab, js, &german)
		mustEval(ctx, t, beside, js, &other)
		if german[0] != "de-DE" || !strings.HasPrefix(german[1], "de") || german[2] != "de-DE" {
			t.Errorf("the German tab sees %q", german)
		}
		if strings.HasPrefix(other[0], "de") || strings.HasPrefix(other[1], "de") || strings.HasPrefix(other[2], "de") {
			t.Errorf("the tab beside it sees %q", other)
		}
	})
}

func deref(ps []*string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		if p == nil {
			out[i] = "<null>"
		} else {
			out[i] = *p
		}
	}
	return out
}

// TestTabLeavesNoContext: a tab's browser context (Chromium) or user context (Firefox)
// goes with the tab, and one whose tab failed to open (Firefox: a locale the browser
// refuses) goes at once, so the shared browsers of a long run keep none of them.
func TestTabLeavesNoContext(t *testing.T) {
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		before := browserContexts(ctx, t, k)
		tab := openTab(ctx, t, k, "")
		if during := browserContexts(ctx, t, k); len(during) != len(before)+1 {
			t.Errorf("with a tab open: contexts %v; before it opened: %v", during, before)
		}
		if err := tab.Close(); err != nil {
			t.Fatal(err)
		}
		if after := browserContexts(ctx, t, k); !slices.Equal(after, before) {
			t.Errorf("after the tab closed: contexts %v; before it opened: %v", after, before)
		}
		if k != KindFirefox {
			return
		}
		if tab, err := NewTabInLocale(ctx, Shared(t, k), "not a locale"); err == nil {
			_ = tab.Close()
			t.Fatal("firefox opened a tab in the locale \"not a locale\"")
		}
		if after := browserContexts(ctx, t, k); !slices.Equal(after, before) {
			t.Errorf("after a tab failed to open: contexts %v; before: %v", after, before)
		}
	})
}

// browserContexts lists, sorted, the browser contexts (Chromium) or user contexts
// (Firefox) of the shared browser of kind k.
func browserContexts(ctx context.Context, t *testing.T, k Kind) []string {
	t.Helper()
	var ids []string
	switch b := Shared(t, k).(sharedBrowser).Browser.(type) {
	case *chromiumBrowser:
		r, err := cdp.Call(ctx, chromedp.FromContext(b.ctx).Browser, target.GetBrowserContexts, cdp.Empty{})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range r.BrowserContextIDs {
			ids = append(ids, string(id))
		}
	case *firefoxBrowser:
		var r struct {
			UserContexts []struct {
				UserContext string `json:"userContext"`
			} `json:"userContexts"`
		}
		if err := b.conn.call(ctx, "browser.getUserContexts", nil, &r); err != nil {
			t.Fatal(err)
		}
		for _, u := range r.UserContexts {
			ids = append(ids, u.UserContext)
		}
	}
	slices.Sort(ids)
	return ids
}
