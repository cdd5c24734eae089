package web

import (
	"slices"
	"strings"
	"testing"
)

// TestSwitchesNamedWithoutTheirHint: a switch or radio of a .switch-row (the meeting's
// settings, the view in the devices panel, the shortcuts' switch, a new room's choices)
// is named by its title alone, "Lock meeting", and described by the hint below it. The
// label around both named it by all its text, so a screen reader read "Lock meeting
// Nobody new can ask to join. Moderator links still work., switch, off", the hint in the
// name of every switch. The name is taken as the accname rules take it: aria-labelledby
// if there is one, else the text of the label around the control.
func TestSwitchesNamedWithoutTheirHint(t *testing.T) {
	checked := 0
	for page, doc := range parsePages(t) {
		ids := map[string]*a11yNode{}
		walk(doc, func(n *a11yNode) {
			if id, ok := attr(n, "id"); ok {
				ids[id] = n
			}
		})
		// keys lists the catalogue keys of the texts in n, in order.
		keys := func(n *a11yNode) []string {
			var out []string
			walk(n, func(c *a11yNode) {
				if k, ok := attr(c, "data-i18n"); ok {
					out = append(out, k)
				}
			})
			return out
		}
		referenced := func(n *a11yNode, name string) []string {
			var out []string
			v, _ := attr(n, name)
			for id := range strings.FieldsSeq(v) {
				if ids[id] != nil {
					out = append(out, keys(ids[id])...)
				}
			}
			return out
		}
		walk(doc, func(row *a11yNode) {
			if class, _ := attr(row, "class"); row.Data != "label" || !slices.Contains(strings.Fields(class), "switch-row") {
				return
			}
			var title, hint []string
			walk(row, func(n *a11yNode) {
				if class, _ := attr(n, "class"); n.Data == "span" && class == "switch-text" {
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						if k, ok := attr(c, "data-i18n"); ok && c.Data == "strong" {
							title = append(title, k)
						} else if ok {
							hint = append(hint, k)
						}
					}
				}
			})
			walk(row, func(in *a11yNode) {
				if in.Data != "input" {
					return
				}
				checked++
				name := keys(row)
				if hasAttr(in, "aria-labelledby") {
					name = referenced(in, "aria-labelledby")
				}
				description := referenced(in, "aria-describedby")
				if !slices.Equal(name, title) || !slices.Equal(description, hint) {
					t.Errorf("%s: %s is named by %q and described by %q, want named by its title %q and described by its hint %q",
						page, describe(in), name, description, title, hint)
				}
			})
		})
	}
	if checked < 10 {
		t.Fatalf("only %d switches checked: is the scan broken?", checked)
	}
}
