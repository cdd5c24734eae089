package web

import (
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// cssSchemes reads the colour schemes of app.css: the custom properties of its :root
// (the scheme it is written for), and for every @media (prefers-color-scheme: …) block
// that sets them anew, that scheme (its properties over those of :root). A scheme
// added later is checked as soon as it is there.
func cssSchemes(t *testing.T, css string) map[string]map[string]string {
	t.Helper()
	props := func(block string) map[string]string {
		vars := map[string]string{}
		for _, m := range regexp.MustCompile(`--([a-z0-9-]+)\s*:\s*(#[0-9a-fA-F]{6})\s*;`).FindAllStringSubmatch(block, -1) {
			vars[m[1]] = m[2]
		}
		return vars
	}
	root := regexp.MustCompile(`(?s)(?:^|\n):root\s*\{(.*?)\}`).FindStringSubmatch(css)
	if root == nil {
		t.Fatal("app.css has no :root")
	}
	base := props(root[1])
	name := "the :root scheme"
	if m := regexp.MustCompile(`color-scheme:\s*([a-z]+)`).FindStringSubmatch(root[1]); m != nil {
		name = m[1]
	}
	schemes := map[string]map[string]string{name: base}
	for _, m := range regexp.MustCompile(`(?s)@media[^{]*prefers-color-scheme:\s*([a-z]+)[^{]*\{\s*:root\s*\{(.*?)\}`).FindAllStringSubmatch(css, -1) {
		vars := map[string]string{}
		for k, v := range base {
			vars[k] = v
		}
		for k, v := range props(m[2]) {
			vars[k] = v
		}
		schemes[m[1]] = vars
	}
	return schemes
}

// fieldBorders returns the custom properties the edges of text fields, selects and
// switches are drawn in (the rules for input[type="text"], select, textarea and
// input.switch themselves, not their :focus or :checked states), by rule.
func fieldBorders(t *testing.T, css string) map[string]string {
	t.Helper()
	fields := map[string]bool{`input[type="text"]`: true, `input[type="password"]`: true, "select": true, "textarea": true, "input.switch": true}
	out := map[string]string{}
	css = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(css, "")
	for _, m := range regexp.MustCompile(`([^{}]+)\{([^{}]*)\}`).FindAllStringSubmatch(css, -1) {
		field := false
		for sel := range strings.SplitSeq(m[1], ",") {
			if fields[strings.TrimSpace(sel)] {
				field = true
			}
		}
		if !field {
			continue
		}
		for _, d := range regexp.MustCompile(`(?:^|[;{\s])border(?:-color)?\s*:\s*([^;]*)`).FindAllStringSubmatch(m[2], -1) {
			v := regexp.MustCompile(`var\(--([a-z0-9-]+)\)`).FindStringSubmatch(d[1])
			if v == nil {
				t.Errorf("the field rule %q draws its border without a colour property (%q): one that a11y_test.go can check", strings.TrimSpace(m[1]), d[1])
				continue
			}
			out[strings.Join(strings.Fields(m[1]), " ")] = v[1]
		}
	}
	if len(out) == 0 {
		t.Fatal("no border found on the rules for text fields and switches: is the scan broken?")
	}
	return out
}

func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil || len(hex) != 7 {
		t.Fatalf("colour %q", hex)
	}
	ch := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.03928 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(v>>16&0xff) + 0.7152*ch(v>>8&0xff) + 0.0722*ch(v&0xff)
}

func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

// TestColourContrast: the pairs of app.css that carry text or show focus keep WCAG 2.1
// AA's contrast: 4.5:1 for text (white on the accent and danger buttons, dim and
// placeholder text on the surfaces), 3:1 for focus rings, the focused field's border
// and the border every text field, select and switch is drawn with (WCAG 1.4.11: what
// shows where a field is), in every colour scheme app.css has. The pairs are named by
// the custom properties the rules use (the field rules' own borders are read from
// them), so a new shade is checked as soon as it replaces an old one.
func TestColourContrast(t *testing.T) {
	b, err := fs.ReadFile(staticFS, "static/css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(b)
	schemes := cssSchemes(t, css)
	borders := fieldBorders(t, css)
	for scheme, vars := range schemes {
		checkSchemeContrast(t, scheme, vars, borders)
	}
	// The faint grey and the red for text are used through their properties, not as
	// literals that would escape this check.
	for _, lit := range regexp.MustCompile(`#6f7785|[{;\s]color:\s*var\(--danger\)`).FindAllString(css, -1) {
		t.Errorf("app.css uses %q: use var(--text-faint) / var(--danger-text) for text", strings.TrimSpace(lit))
	}
	// Every focus ring is drawn in --focus (a ring in the accent colour around an
	// accent button is invisible).
	for _, m := range regexp.MustCompile(`:focus-visible[^{]*\{[^}]*outline:[^;}]*`).FindAllString(css, -1) {
		if strings.Contains(m, "outline:") && !strings.Contains(m, "var(--focus)") && !strings.Contains(m, "outline: none") {
			t.Errorf("a focus ring not in var(--focus): %s", m)
		}
	}
}

// checkSchemeContrast checks the pairs of TestColourContrast in one colour scheme.
func checkSchemeContrast(t *testing.T, scheme string, vars, borders map[string]string) {
	t.Helper()
	color := func(s string) string {
		if strings.HasPrefix(s, "#") {
			return s
		}
		c, ok := vars[s]
		if !ok {
			t.Fatalf("app.css defines no --%s (%s)", s, scheme)
		}
		return c
	}
	surfaces := []string{"bg", "surface", "surface-2", "surface-3"}
	type pair struct {
		fg, bg, what string
		min          float64
	}
	var pairs []pair
	for _, bg := range []string{"accent", "accent-hover", "danger", "danger-hover"} {
		pairs = append(pairs, pair{"#ffffff", bg, "white text on a ." + bg + " button", 4.5})
	}
	for _, bg := range surfaces {
		pairs = append(pairs,
			pair{"text", bg, "text", 4.5},
			pair{"text-dim", bg, "dim text", 4.5},
			pair{"danger-text", bg, "warnings in red", 4.5},
			pair{"focus", bg, "the focus ring", 3})
	}
	// The faint grey stands on the page, cards and fields (never on --surface-3).
	for _, bg := range surfaces[:3] {
		pairs = append(pairs, pair{"text-faint", bg, "placeholders, footers, (optional)", 4.5})
	}
	for _, bg := range []string{"surface", "surface-2"} {
		pairs = append(pairs, pair{"accent", bg, "a focused field's border", 3})
	}
	// WCAG 1.4.11: the edge that shows where a field or a switch is needs 3:1 against
	// what it stands on (the page, a card or panel) and against its own fill (a text
	// field's --surface-2), whatever its state.
	for rule, border := range borders {
		for _, bg := range surfaces[:3] {
			pairs = append(pairs, pair{border, bg, "the border of " + rule, 3})
		}
	}
	for _, p := range pairs {
		if r := contrast(t, color(p.fg), color(p.bg)); r < p.min {
			t.Errorf("%s scheme: %s: %s on %s is %.2f:1, below %.1f:1", scheme, p.what, p.fg, p.bg, r, p.min)
		}
	}
}

// TestReducedMotion: an animation or transition is switched off for people who ask for
// reduced motion (app.css's prefers-reduced-motion rule covers every element).
func TestReducedMotion(t *testing.T) {
	b, err := fs.ReadFile(staticFS, "static/css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)@media \(prefers-reduced-motion: reduce\)\s*\{\s*\*, \*::before, \*::after \{([^}]*)\}`).FindStringSubmatch(string(b))
	if block == nil || !strings.Contains(block[1], "animation: none !important") || !strings.Contains(block[1], "transition: none !important") {
		t.Fatal("app.css does not turn every animation and transition off under prefers-reduced-motion")
	}
}
