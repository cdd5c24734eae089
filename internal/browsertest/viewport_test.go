package browsertest

import "testing"

// TestSetViewport: a tab laid out as a phone reports the phone's width and height, and
// the page's media queries follow.
func TestSetViewport(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)
		if err := SetViewport(ctx, tab, 390, 844); err != nil {
			t.Fatal(err)
		}
		if err := tab.WaitFor(ctx, `window.innerWidth === 390 && window.innerHeight === 844 && matchMedia("(max-width: 400px)").matches`); err != nil {
			t.Fatal(err)
		}
	})
}
