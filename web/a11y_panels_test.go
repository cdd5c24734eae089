package web

import (
	"strings"
	"testing"
)

// TestPanelsNamedAsTheirButtons: a button that opens a panel (aria-controls) is named as
// the panel it opens, in every language, so that a person who pressed "Meeting settings"
// finds "Meeting settings" ("Einstellungen des Meetings"), not another name: the gear
// was named "Devices, view and shortcuts" and opened "Devices and view" ("Geräte,
// Ansicht und Tastenkürzel", "Geräte und Ansicht"). The names are those the page gives
// before its scripts run (a button whose name only a script gives, the encryption chip,
// is left out; the people button's count is added by people-count.js).
func TestPanelsNamedAsTheirButtons(t *testing.T) {
	cats := map[string]map[string]any{}
	for _, lang := range catalogueNames(t) {
		cats[lang] = loadCatalogue(t, lang)
	}
	checked := 0
	for page, doc := range parsePages(t) {
		ids := map[string]*a11yNode{}
		walk(doc, func(n *a11yNode) {
			if id, ok := attr(n, "id"); ok {
				ids[id] = n
			}
		})
		// nameKeys are the catalogue keys n is named by: its translated aria-label, or
		// the texts of the elements its aria-labelledby names.
		nameKeys := func(n *a11yNode) []string {
			if k := i18nAttrs(n)["aria-label"]; k != "" {
				return []string{k}
			}
			var out []string
			v, _ := attr(n, "aria-labelledby")
			for id := range strings.FieldsSeq(v) {
				if ids[id] == nil {
					continue
				}
				walk(ids[id], func(c *a11yNode) {
					if k, ok := attr(c, "data-i18n"); ok && k != "" {
						out = append(out, k)
					}
				})
			}
			return out
		}
		walk(doc, func(b *a11yNode) {
			target, ok := attr(b, "aria-controls")
			if b.Data != "button" || !ok || ids[target] == nil || ids[target].Data != "aside" {
				return
			}
			button, panel := nameKeys(b), nameKeys(ids[target])
			if len(button) == 0 {
				return // named by a script
			}
			checked++
			for lang, cat := range cats {
				said := func(keys []string) string {
					var parts []string
					for _, k := range keys {
						s, ok := cat[k].(string)
						if !ok {
							t.Errorf("%s: %s: no text %q in %s.json", page, describe(b), k, lang)
						}
						parts = append(parts, s)
					}
					return strings.Join(parts, " ")
				}
				if got, want := said(button), said(panel); got != want {
					t.Errorf("%s (%s): %s is named %q (%v) and opens #%s, named %q (%v)", page, lang, describe(b), got, button, target, want, panel)
				}
			}
		})
	}
	if checked < 5 {
		t.Fatalf("only %d panel buttons checked: is the scan broken?", checked)
	}
}
