package web

import (
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// Accessibility of the static pages (BITV 2.0 / EN 301 549, i.e. WCAG 2.1 AA): what can
// be read from the files without a browser. Every control a keyboard or screen-reader
// user meets has a name that comes from the catalogues (so it is spoken in German and in
// English), every form field a label, every image an alt, every dialog a title; the
// references between elements (aria-labelledby, aria-describedby, aria-controls, label
// for) point at elements that exist; and the colours of text and focus rings in
// app.css keep their contrast. What only a running page shows (focus moved into and
// out of panels and dialogs, live announcements) is checked by the Node tests in
// web/jstest (people-focus, chat-announce, dialog-focus, ptt-keyboard) and the browser
// suite.

// a11yNode is an element of a parsed page.
type a11yNode = html.Node

func attr(n *a11yNode, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

func hasAttr(n *a11yNode, name string) bool {
	_, ok := attr(n, name)
	return ok
}

// i18nAttrs returns the attributes a node's data-i18n-attr translates.
func i18nAttrs(n *a11yNode) map[string]string {
	out := map[string]string{}
	spec, _ := attr(n, "data-i18n-attr")
	for pair := range strings.SplitSeq(spec, ",") {
		if a, key, ok := strings.Cut(strings.TrimSpace(pair), "="); ok {
			out[a] = key
		}
	}
	return out
}

func walk(n *a11yNode, fn func(*a11yNode)) {
	if n.Type == html.ElementNode {
		fn(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

// catalogueText reports whether n (or an element inside it that assistive technology
// does not skip) shows a text of the catalogues, or text allowed as it is.
func catalogueText(n *a11yNode) bool {
	if v, _ := attr(n, "aria-hidden"); v == "true" {
		return false
	}
	if k, ok := attr(n, "data-i18n"); ok && k != "" {
		return true
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch c.Type {
		case html.TextNode:
			if allowedText[strings.TrimSpace(c.Data)] {
				return true
			}
		case html.ElementNode:
			if catalogueText(c) {
				return true
			}
		}
	}
	return false
}

func parsePages(t *testing.T) map[string]*a11yNode {
	t.Helper()
	pages := map[string]*a11yNode{}
	for name, src := range staticFiles(t, ".html") {
		doc, err := html.Parse(strings.NewReader(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pages[name] = doc
	}
	if len(pages) < 4 {
		t.Fatalf("only %d pages found", len(pages))
	}
	return pages
}

func describe(n *a11yNode) string {
	var b strings.Builder
	b.WriteString("<" + n.Data)
	for _, k := range []string{"id", "class", "type"} {
		if v, ok := attr(n, k); ok {
			fmt.Fprintf(&b, " %s=%q", k, v)
		}
	}
	return b.String() + ">"
}

// TestControlsHaveCatalogueNames: every button, link and summary has a name from the
// catalogues: its text (data-i18n on it or inside it, not under aria-hidden), a
// translated aria-label, or aria-labelledby naming elements with such text. An icon
// alone names nothing, nor does a title (a tooltip a keyboard never opens) or an
// English aria-label written into the page.
func TestControlsHaveCatalogueNames(t *testing.T) {
	checked := 0
	for name, doc := range parsePages(t) {
		ids := map[string]*a11yNode{}
		walk(doc, func(n *a11yNode) {
			if id, ok := attr(n, "id"); ok {
				ids[id] = n
			}
		})
		labelledBy := func(n *a11yNode) bool {
			v, ok := attr(n, "aria-labelledby")
			if !ok {
				return false
			}
			for id := range strings.FieldsSeq(v) {
				if ref := ids[id]; ref == nil || !catalogueText(ref) {
					return false
				}
			}
			return true
		}
		walk(doc, func(n *a11yNode) {
			_, link := attr(n, "href")
			role, _ := attr(n, "role")
			if n.Data != "button" && n.Data != "summary" && !(n.Data == "a" && link) && role != "button" && role != "img" {
				return
			}
			checked++
			if i18nAttrs(n)["aria-label"] != "" || labelledBy(n) || (role != "img" && catalogueText(n)) {
				return
			}
			t.Errorf("%s: %s has no name from the catalogues (text through data-i18n, a translated aria-label or aria-labelledby)", name, describe(n))
		})
	}
	if checked < 60 {
		t.Fatalf("only %d controls checked: is the scan broken?", checked)
	}
}

// TestFieldsHaveLabels: every input, select and textarea a person fills or reads has a
// label from the catalogues: a <label> around it or for it, aria-labelledby, or a
// translated aria-label. A placeholder is no label (it goes once something is typed).
func TestFieldsHaveLabels(t *testing.T) {
	checked := 0
	for name, doc := range parsePages(t) {
		ids := map[string]*a11yNode{}
		labelFor := map[string]*a11yNode{}
		walk(doc, func(n *a11yNode) {
			if id, ok := attr(n, "id"); ok {
				ids[id] = n
			}
			if f, ok := attr(n, "for"); ok && n.Data == "label" {
				labelFor[f] = n
			}
		})
		walk(doc, func(n *a11yNode) {
			if n.Data != "input" && n.Data != "select" && n.Data != "textarea" {
				return
			}
			if typ, _ := attr(n, "type"); typ == "hidden" || typ == "submit" || typ == "button" {
				return
			}
			checked++
			if i18nAttrs(n)["aria-label"] != "" {
				return
			}
			if v, ok := attr(n, "aria-labelledby"); ok {
				good := true
				for id := range strings.FieldsSeq(v) {
					if ids[id] == nil || !catalogueText(ids[id]) {
						good = false
					}
				}
				if good {
					return
				}
			}
			if id, ok := attr(n, "id"); ok && labelFor[id] != nil && catalogueText(labelFor[id]) {
				return
			}
			for p := n.Parent; p != nil; p = p.Parent {
				if p.Type == html.ElementNode && p.Data == "label" && catalogueText(p) {
					return
				}
			}
			t.Errorf("%s: %s has no label from the catalogues (a placeholder is none)", name, describe(n))
		})
	}
	if checked < 15 {
		t.Fatalf("only %d fields checked: is the scan broken?", checked)
	}
}

// TestPageStructure: <html lang> is set (i18n.js keeps it on the language shown), every
// image has an alt (empty for decoration), every dialog a title, ids that ARIA and
// labels refer to exist, toggles on the meeting's control bar say whether they are on,
// and no aria-label sits on an element without a role, where screen readers ignore it.
func TestPageStructure(t *testing.T) {
	refs := []string{"aria-labelledby", "aria-describedby", "aria-controls", "for"}
	generic := map[string]bool{"span": true, "div": true, "p": true, "strong": true, "b": true, "i": true, "em": true}
	for name, doc := range parsePages(t) {
		ids := map[string]bool{}
		walk(doc, func(n *a11yNode) {
			if id, ok := attr(n, "id"); ok {
				if ids[id] {
					t.Errorf("%s: id %q twice", name, id)
				}
				ids[id] = true
			}
		})
		walk(doc, func(n *a11yNode) {
			switch n.Data {
			case "html":
				if v, _ := attr(n, "lang"); v == "" {
					t.Errorf("%s: <html> has no lang", name)
				}
			case "img":
				if !hasAttr(n, "alt") {
					t.Errorf("%s: %s has no alt", name, describe(n))
				}
			case "dialog":
				if !hasAttr(n, "aria-labelledby") && i18nAttrs(n)["aria-label"] == "" {
					t.Errorf("%s: %s has no title (aria-labelledby)", name, describe(n))
				}
			}
			for _, r := range refs {
				if n.Data != "label" && r == "for" {
					continue
				}
				v, _ := attr(n, r)
				for id := range strings.FieldsSeq(v) {
					if !ids[id] {
						t.Errorf("%s: %s %s=%q names no element of the page", name, describe(n), r, id)
					}
				}
			}
			role, _ := attr(n, "role")
			footer := (n.Data == "footer" || n.Data == "header") && n.Parent != nil && n.Parent.Data != "body"
			if (generic[n.Data] || footer) && role == "" && (hasAttr(n, "aria-label") || i18nAttrs(n)["aria-label"] != "") {
				t.Errorf("%s: %s has an aria-label but no role: screen readers do not read it", name, describe(n))
			}
			class, _ := attr(n, "class")
			if n.Data == "button" && (strings.Contains(" "+class+" ", " ctrl ") || strings.Contains(" "+class+" ", " round-btn ")) &&
				!strings.Contains(class, "ctrl-leave") && !hasAttr(n, "aria-pressed") && !hasAttr(n, "aria-expanded") {
				t.Errorf("%s: %s is a toggle without aria-pressed", name, describe(n))
			}
		})
	}
}

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
