package browsertest

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// The tests of a tab in a locale of its own: what it sees, and that its user context
// goes with it.

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

// TestTabLeavesNoContext: a Firefox tab in a locale of its own has a user context of
// its own, which goes with the tab, and one whose tab failed to open (a locale the
// browser refuses) goes at once, so the shared browser of a long run keeps none; an
// ordinary tab opens none.
func TestTabLeavesNoContext(t *testing.T) {
	Shared(t, KindFirefox)
	ctx := testContext(t)
	before := userContexts(ctx, t)
	plain := openTab(ctx, t, KindFirefox, "")
	if during := userContexts(ctx, t); !slices.Equal(during, before) {
		t.Errorf("with an ordinary tab open: user contexts %v; before it opened: %v", during, before)
	}
	_ = plain.Close()
	tab, err := NewTabInLocale(ctx, Shared(t, KindFirefox), "de-DE")
	if err != nil {
		t.Fatal(err)
	}
	if during := userContexts(ctx, t); len(during) != len(before)+1 {
		t.Errorf("with a German tab open: user contexts %v; before it opened: %v", during, before)
	}
	if err := tab.Close(); err != nil {
		t.Fatal(err)
	}
	if after := userContexts(ctx, t); !slices.Equal(after, before) {
		t.Errorf("after the German tab closed: user contexts %v; before it opened: %v", after, before)
	}
	if tab, err := NewTabInLocale(ctx, Shared(t, KindFirefox), "not a locale"); err == nil {
		_ = tab.Close()
		t.Fatal("firefox opened a tab in the locale \"not a locale\"")
	}
	if after := userContexts(ctx, t); !slices.Equal(after, before) {
		t.Errorf("after a tab failed to open: user contexts %v; before: %v", after, before)
	}
}

// userContexts lists, sorted, the user contexts of the shared Firefox.
func userContexts(ctx context.Context, t *testing.T) []string {
	t.Helper()
	b := Shared(t, KindFirefox).(sharedBrowser).Browser.(*firefoxBrowser)
	var r struct {
		UserContexts []struct {
			UserContext string `json:"userContext"`
		} `json:"userContexts"`
	}
	if err := b.conn.call(ctx, "browser.getUserContexts", nil, &r); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range r.UserContexts {
		ids = append(ids, u.UserContext)
	}
	slices.Sort(ids)
	return ids
}
