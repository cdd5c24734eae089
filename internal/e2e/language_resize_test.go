package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// TestLanguageSwitchKeepsTheFocusAcrossTheBreakpoint: a keyboard or screen reader user
// whose focus is on the top bar's language switch keeps it there when the window is
// narrowed to a phone's width (a phone turned, a window dragged narrow, a zoom): the
// option focused, the chosen one, goes out of sight there and the other language is
// shown as a plain button, which must take the focus. The focus went to the body (or
// stayed on the hidden option): the next Tab started again from the top of the page and
// a screen reader said nothing of where the user was. Widened again, the focus goes to
// the radio group's checked option, the tab stop, so that the switch is announced in
// its new form. In Firefox and Chromium.
func TestLanguageSwitchKeepsTheFocusAcrossTheBreakpoint(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	const bar = ".topbar-language"
	for _, kind := range []browsertest.Kind{browsertest.KindFirefox, browsertest.KindChromium} {
		p := idaInGerman(ctx, t, srv, kind, bar)
		evalOK(ctx, t, p, `(() => { document.querySelector(".topbar-language [tabindex='0']").focus(); return true; })()`, nil)
		checkLanguageGroup(ctx, t, p, bar, "de", "de", "option de", "wide, in German, focused")

		if err := browsertest.SetViewport(ctx, p.tab, 390, 844); err != nil {
			t.Fatal(err)
		}
		// The roles follow when the page is told of the new layout (the switch's box, a
		// moment after): waited for within a minute, since without it nothing comes.
		moved, stop := context.WithTimeout(ctx, time.Minute)
		_ = p.tab.WaitFor(moved, `!document.querySelector(".topbar-language").hasAttribute("role")`)
		stop()
		checkLanguageButton(ctx, t, p, bar, "de", "option en", "narrowed to a phone with the focus on the switch")

		if err := browsertest.SetViewport(ctx, p.tab, 1280, 800); err != nil {
			t.Fatal(err)
		}
		waitOK(ctx, t, p, `document.querySelector(".topbar-language").getAttribute("role") === "radiogroup"`, "the wide top bar's switch is no radio group again")
		checkLanguageGroup(ctx, t, p, bar, "de", "de", "option de", "widened again with the focus on the switch")

		// Focus elsewhere is left there: narrowing does not pull it onto the switch.
		evalOK(ctx, t, p, `(() => { document.activeElement?.blur(); return true; })()`, nil)
		if err := browsertest.SetViewport(ctx, p.tab, 390, 844); err != nil {
			t.Fatal(err)
		}
		moved, stop = context.WithTimeout(ctx, time.Minute)
		_ = p.tab.WaitFor(moved, `!document.querySelector(".topbar-language").hasAttribute("role")`)
		stop()
		var g languageGroup
		evalOK(ctx, t, p, languageGroupJS(bar), &g)
		if strings.HasPrefix(g.Focus, "option") {
			t.Errorf("%s: narrowed with the focus on the body, the focus went to the switch (%s); want it left where it was", kind, g.Focus)
		}
		if err := browsertest.SetViewport(ctx, p.tab, 1280, 800); err != nil {
			t.Fatal(err)
		}
	}
}
