package web

import (
	"fmt"
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
// app.css keep their contrast (a11y_css_test.go). What only a running page shows (focus moved into and
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
