package web

import (
	"encoding/json"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The web client's texts come from the catalogues static/i18n/<lang>.json (issue 13).
// These tests read the embedded files as the server serves them: every key the pages
// and scripts name is in the catalogues, every catalogue key is named somewhere, and
// no HTML text or attribute a person sees is written into a page around the catalogue.
// (web/jstest/i18n.test.mjs checks that the catalogues agree with each other; the
// pseudo-language browser test in internal/e2e catches text that code writes directly.)

// dynamicKeys are key prefixes code builds at run time (none so far): a key starting
// with one of them is neither reported as unused nor needs a literal.
var dynamicKeys = []string{}

// allowedText is text that may stand in a page as it is: the product's name.
var allowedText = map[string]bool{"Conclave": true}

// keyLiteral is a catalogue key written as a string literal: 'area.name' or "area.name".
var keyLiteral = regexp.MustCompile(`['"` + "`" + `]([a-z0-9]+(?:\.[A-Za-z0-9_-]+)+)['"` + "`" + `]`)

// catalogueNames lists the languages of static/i18n (every <lang>.json there).
func catalogueNames(t *testing.T) []string {
	t.Helper()
	files, err := fs.Glob(staticFS, "static/i18n/*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("catalogues: %v %v", files, err)
	}
	var out []string
	for _, f := range files {
		out = append(out, strings.TrimSuffix(path.Base(f), ".json"))
	}
	return out
}

func loadCatalogue(t *testing.T, lang string) map[string]any {
	t.Helper()
	b, err := fs.ReadFile(staticFS, "static/i18n/"+lang+".json")
	if err != nil {
		t.Fatal(err)
	}
	var cat map[string]any
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	return cat
}

// staticFiles returns the embedded files below static/ whose names end in ext.
func staticFiles(t *testing.T, ext string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ext {
			return err
		}
		b, err := fs.ReadFile(staticFS, p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	dataI18n     = regexp.MustCompile(`data-i18n="([^"]*)"`)
	dataI18nAttr = regexp.MustCompile(`data-i18n-attr="([^"]*)"`)
)

// usedKeys collects the keys the pages and scripts name: data-i18n and data-i18n-attr
// in HTML, and in JavaScript every string literal shaped like a key of a catalogue
// area (keys are often kept in tables, e.g. status.js, before t() is called).
func usedKeys(t *testing.T, areas map[string]bool) map[string][]string {
	used := map[string][]string{}
	for name, src := range staticFiles(t, ".html") {
		for _, m := range dataI18n.FindAllStringSubmatch(src, -1) {
			used[m[1]] = append(used[m[1]], name)
		}
		for _, m := range dataI18nAttr.FindAllStringSubmatch(src, -1) {
			for pair := range strings.SplitSeq(m[1], ",") {
				_, key, ok := strings.Cut(pair, "=")
				if !ok {
					t.Errorf("%s: data-i18n-attr %q is not attribute=key,…", name, m[1])
					continue
				}
				used[key] = append(used[key], name)
			}
		}
	}
	for name, src := range staticFiles(t, ".js") {
		for _, m := range keyLiteral.FindAllStringSubmatch(code(src), -1) {
			key := m[1]
			area, _, _ := strings.Cut(key, ".")
			if !areas[area] || strings.HasSuffix(key, ".js") || strings.HasSuffix(key, ".json") {
				continue
			}
			used[key] = append(used[key], name)
		}
	}
	return used
}

// code drops the comment lines of a script (examples in comments are not uses).
func code(src string) string {
	var b strings.Builder
	for line := range strings.Lines(src) {
		s := strings.TrimSpace(line)
		if !strings.HasPrefix(s, "//") && !strings.HasPrefix(s, "*") && !strings.HasPrefix(s, "/*") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func dynamic(key string) bool {
	return slices.ContainsFunc(dynamicKeys, func(p string) bool { return strings.HasPrefix(key, p) })
}

func TestEveryKeyUsedIsInTheCatalogues(t *testing.T) {
	cats := map[string]map[string]any{}
	areas := map[string]bool{}
	catalogueLanguages := catalogueNames(t)
	for _, lang := range catalogueLanguages {
		cats[lang] = loadCatalogue(t, lang)
		for key := range cats[lang] {
			area, _, _ := strings.Cut(key, ".")
			areas[area] = true
		}
	}
	used := usedKeys(t, areas)
	if len(used) < 100 {
		t.Fatalf("only %d keys found in the pages and scripts: is the scan broken?", len(used))
	}
	for key, where := range used {
		for _, lang := range catalogueLanguages {
			if _, ok := cats[lang][key]; !ok {
				t.Errorf("%q (used in %s) is not in %s.json", key, strings.Join(slices.Compact(slices.Sorted(slices.Values(where))), ", "), lang)
			}
		}
	}
	for key := range cats["en"] {
		if _, ok := used[key]; !ok && !dynamic(key) {
			t.Errorf("%q is in the catalogues but no page or script uses it", key)
		}
	}
}

var (
	htmlTag    = regexp.MustCompile(`(?s)<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>`)
	htmlAttr   = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9_:-]*)(?:\s*=\s*"([^"]*)")?`)
	htmlSkip   = regexp.MustCompile(`(?s)<!--.*?-->|<!doctype[^>]*>|<script\b.*?</script>|<style\b.*?</style>`)
	shownAttrs = []string{"aria-label", "title", "placeholder", "alt", "aria-description", "aria-roledescription", "aria-valuetext", "aria-placeholder", "label"}
)

func hasLetter(s string) bool { return strings.IndexFunc(s, unicode.IsLetter) >= 0 }

// TestPagesHaveNoBareText: the static pages hold no text a person reads except through
// the catalogues. Text between tags must be empty (data-i18n fills it) or the brand
// name; aria-label, title, placeholder, alt (and the other attributes of shownAttrs, and
// a button input's value) with letters must be translated attributes (named in
// data-i18n-attr).
func TestPagesHaveNoBareText(t *testing.T) {
	pages := staticFiles(t, ".html")
	if len(pages) < 4 {
		t.Fatalf("only %d pages found", len(pages))
	}
	for name, src := range pages {
		src = htmlSkip.ReplaceAllString(src, "")
		last := 0
		open := ""
		for _, m := range htmlTag.FindAllStringSubmatchIndex(src, -1) {
			text := strings.TrimSpace(src[last:m[0]])
			if hasLetter(text) && !allowedText[text] {
				t.Errorf("%s: text %q outside the catalogues (inside <%s>)", name, text, open)
			}
			last = m[1]
			closing, tag, attrs := src[m[2]:m[3]], strings.ToLower(src[m[4]:m[5]]), src[m[6]:m[7]]
			if closing == "" {
				open = tag
			}
			values := map[string]string{}
			for _, a := range htmlAttr.FindAllStringSubmatch(attrs, -1) {
				values[strings.ToLower(a[1])] = a[2]
			}
			translated := map[string]bool{}
			for pair := range strings.SplitSeq(values["data-i18n-attr"], ",") {
				if attr, _, ok := strings.Cut(pair, "="); ok {
					translated[attr] = true
				}
			}
			for _, attr := range shownAttrs {
				if v, ok := values[attr]; ok && hasLetter(v) && !translated[attr] {
					t.Errorf("%s: <%s %s=%q> is not translated (data-i18n-attr)", name, tag, attr, v)
				}
			}
			// A button's text may stand in its value (<input type="submit" value="Join">).
			if tag == "input" && slices.Contains([]string{"button", "submit", "reset"}, strings.ToLower(values["type"])) && hasLetter(values["value"]) && !translated["value"] {
				t.Errorf("%s: <input type=%q value=%q> is not translated (data-i18n-attr)", name, values["type"], values["value"])
			}
			if tag == "meta" && values["name"] == "description" && hasLetter(values["content"]) && !translated["content"] {
				t.Errorf("%s: the description is not translated", name)
			}
		}
	}
}

// TestEveryPageLoadsTheTranslations: every page runs i18n.js (directly or through its
// module), which sets <html lang> and fills the texts; a page without a script would
// stay empty.
func TestEveryPageLoadsTheTranslations(t *testing.T) {
	scripts := regexp.MustCompile(`<script type="module" src="/static/(js/[a-z0-9-]+\.js)"></script>`)
	js := staticFiles(t, ".js")
	importsI18n := func(file string) bool {
		seen := map[string]bool{}
		var walk func(f string) bool
		walk = func(f string) bool {
			if seen[f] {
				return false
			}
			seen[f] = true
			src := js[f]
			if strings.Contains(src, "'./i18n.js'") {
				return true
			}
			for _, m := range regexp.MustCompile(`from '\./([a-z0-9-]+\.js)'|import '\./([a-z0-9-]+\.js)'`).FindAllStringSubmatch(src, -1) {
				dep := m[1] + m[2]
				if walk(path.Join(path.Dir(f), dep)) {
					return true
				}
			}
			return false
		}
		return walk(file)
	}
	for name, src := range staticFiles(t, ".html") {
		m := scripts.FindStringSubmatch(src)
		if m == nil {
			t.Errorf("%s loads no module script, so nothing translates it", name)
			continue
		}
		if !importsI18n("static/" + m[1]) {
			t.Errorf("%s: %s does not load i18n.js", name, m[1])
		}
	}
}
