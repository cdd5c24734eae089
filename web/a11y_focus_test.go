package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// focusShownByScriptOnly are the elements app.css may show no focus on: the page
// focuses them (tabindex -1) so that a screen reader reads on from there, and Tab never
// reaches them.
var focusShownByScriptOnly = map[string]bool{"#grid": true}

// TestFocusRingTakenOnlyWhereFocusShowsOtherwise: a rule of app.css that takes the focus
// ring off (outline: none on :focus or :focus-visible) names only elements that show
// focus another way, a rule of their own for :focus that changes their border or draws
// a glow (the text fields), or that Tab never reaches (WCAG 2.4.7). The ring was taken
// off every input for the sake of the text fields, and a radio button (the view's Grid
// and Speaker, a room's one-off or standing), a plain check box (a room's "Remove the
// password") or the room's date field focused by Tab showed nothing at all.
func TestFocusRingTakenOnlyWhereFocusShowsOtherwise(t *testing.T) {
	b, err := fs.ReadFile(staticFS, "static/css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	css := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(string(b), "")
	rules := regexp.MustCompile(`([^{}]+)\{([^{}]*)\}`).FindAllStringSubmatch(css, -1)
	focusPseudo := regexp.MustCompile(`:focus(-visible)?\b`)
	// The elements whose :focus rule draws focus with a border or a glow.
	shownOtherwise := map[string]bool{}
	for _, r := range rules {
		if !regexp.MustCompile(`(^|[;\s])(border-color|box-shadow)\s*:`).MatchString(r[2]) {
			continue
		}
		for sel := range strings.SplitSeq(r[1], ",") {
			if focusPseudo.MatchString(sel) {
				shownOtherwise[strings.TrimSpace(focusPseudo.ReplaceAllString(sel, ""))] = true
			}
		}
	}
	if len(shownOtherwise) == 0 {
		t.Fatal("no :focus rule draws a border or glow: is the scan broken?")
	}
	removed := 0
	for _, r := range rules {
		if !regexp.MustCompile(`(^|[;\s])outline\s*:\s*(none|0)\b`).MatchString(r[2]) {
			continue
		}
		for sel := range strings.SplitSeq(r[1], ",") {
			if !focusPseudo.MatchString(sel) {
				continue
			}
			removed++
			base := strings.TrimSpace(focusPseudo.ReplaceAllString(sel, ""))
			if !shownOtherwise[base] && !focusShownByScriptOnly[base] {
				t.Errorf("app.css takes the focus ring off %q (%s), which shows its focus no other way", base, strings.TrimSpace(sel))
			}
		}
	}
	if removed == 0 {
		t.Fatal("no rule takes a focus ring off: is the scan broken?")
	}
}
