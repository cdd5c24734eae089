package web

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestPagesPreloadTheirModules: every page names, as <link rel="modulepreload">, each
// JavaScript module its script imports, directly or through others. Without the list
// a browser learns of a module only once the one importing it has arrived and been
// parsed: the meeting page's modules are five levels deep, five round trips before the
// page can run (half a second more on a 100 ms path, on every load, as the modules are
// revalidated each time). With it every module is asked for at once. The JSON
// catalogues are left out: a modulepreload fetches a script, and an import of JSON
// asks for the file again as JSON.
func TestPagesPreloadTheirModules(t *testing.T) {
	files := embedded(t)
	script := regexp.MustCompile(`<script type="module" src="/(static/js/[^"]+)"></script>`)
	anyPreload := regexp.MustCompile(`<link\b[^>]*\bmodulepreload\b[^>]*>`)
	preload := regexp.MustCompile(`^<link rel="modulepreload" href="/(static/[^"]+)">$`)
	comment := regexp.MustCompile(`(?s)<!--.*?-->`)
	pages := 0
	for name, page := range files {
		if !strings.HasSuffix(name, ".html") {
			continue
		}
		text := comment.ReplaceAllString(page, "") // a link in a comment is not there
		m := script.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		pages++
		want, err := moduleClosure(files, m[1])
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, link := range anyPreload.FindAllString(text, -1) {
			p := preload.FindStringSubmatch(link)
			if p == nil {
				t.Errorf("%s: %s is not of the form <link rel=\"modulepreload\" href=\"/static/…\">", name, link)
				continue
			}
			got = append(got, p[1])
		}
		if slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
			continue
		}
		var lines strings.Builder
		for _, f := range want {
			fmt.Fprintf(&lines, "<link rel=\"modulepreload\" href=\"/%s\">\n", f)
		}
		t.Errorf("%s preloads %d modules (%v), not the %d its script %s imports: put these lines after its <script>:\n%s",
			name, len(got), missingAndExtra(want, got), len(want), m[1], lines.String())
	}
	if pages < 4 {
		t.Errorf("%d pages with a module script, want the 4 (index, meeting, notfound, privacy)", pages)
	}
}

// moduleClosure is every JavaScript module that entry imports, directly or through
// others, entry itself left out: in the order a browser finds them (level by level,
// each level's in the order of the imports), so the list reads as the page loads.
func moduleClosure(files map[string]string, entry string) ([]string, error) {
	seen := map[string]bool{entry: true}
	var order []string
	queue := []string{entry}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		specs, err := moduleImports(files[f])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, spec := range specs {
			dep := path.Join(path.Dir(f), spec)
			if seen[dep] || !strings.HasSuffix(dep, ".js") {
				continue
			}
			seen[dep] = true
			order = append(order, dep)
			queue = append(queue, dep)
		}
	}
	return order, nil
}

// moduleImports is what a module's static imports and re-exports name, as written:
// `import … from '…'`, `import '…'` (for effect alone), `export {…} from '…'` and
// `export * [as x] from '…'`. It reads tokens (jsTokens), so neither a comment nor a
// string that looks like an import counts, and none written over several lines or
// with a quote in a comment among its names is missed; `import(…)`, `import.meta` and
// a property named import are not imports.
func moduleImports(text string) ([]string, error) {
	toks, err := jsTokens(text)
	if err != nil {
		return nil, err
	}
	var specs []string
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		if tok.kind != 'w' || (tok.text != "import" && tok.text != "export") || i+1 >= len(toks) {
			continue
		}
		if i > 0 && toks[i-1].kind == 'p' && (toks[i-1].text == "." || toks[i-1].text == "?.") {
			continue // a property named import or export
		}
		next := toks[i+1]
		if tok.text == "import" {
			if next.kind == 'p' && (next.text == "(" || next.text == "." || next.text == ":") {
				continue // import(…), import.meta, a key named import
			}
			// The first string after a static import is what it names: no other
			// string comes before it (`with { type: 'json' }` comes after).
			for j := i + 1; j < len(toks); j++ {
				if toks[j].kind == 's' {
					specs = append(specs, literalText(toks[j]))
					i = j
					break
				}
			}
			continue
		}
		// export: only `export {…} from '…'` and `export * [as x] from '…'` import.
		j := i + 1
		switch {
		case next.kind == 'p' && next.text == "{":
			for j < len(toks) && !(toks[j].kind == 'p' && toks[j].text == "}") {
				j++
			}
			j++
		case next.kind == 'p' && next.text == "*":
			j++
			if j+1 < len(toks) && toks[j].kind == 'w' && toks[j].text == "as" {
				j += 2
			}
		default:
			continue
		}
		if j+1 < len(toks) && toks[j].kind == 'w' && toks[j].text == "from" && toks[j+1].kind == 's' {
			specs = append(specs, literalText(toks[j+1]))
			i = j + 1
		}
	}
	return specs, nil
}

// missingAndExtra says which of want got lacks and which of got want does not have.
func missingAndExtra(want, got []string) string {
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	return fmt.Sprintf("missing %v, not imported %v", missing, extra)
}

// TestModuleImports: what moduleImports finds, and what it must not take for an import.
func TestModuleImports(t *testing.T) {
	src := "import a from './a.js';\n" +
		"import {\n  b, // the page's leaf\n  c,\n} from './b.js';\n" +
		"import './c.js';\n" +
		"import en from '../i18n/en.json' with { type: 'json' };\n" +
		"export { x } from './d.js';\n" +
		"export * as ns from './e.js';\n" +
		"export * from './f.js';\n" +
		"import{j}from'./j.js'\n" +
		"// import g from './g.js'\n" +
		"/* export { g } from './g2.js' */\n" +
		"const s = `import h from './h.js'`;\n" +
		"await import('./i.js'); const u = import.meta.url; obj.import('./k.js'); const o = { import: './l.js' };\n" +
		"export const m = 1; // taken from './m.js'\n" +
		"export function n() { return 'from'; }\n"
	got, err := moduleImports(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"./a.js", "./b.js", "./c.js", "../i18n/en.json", "./d.js", "./e.js", "./f.js", "./j.js"}
	if !slices.Equal(got, want) {
		t.Errorf("moduleImports = %q, want %q", got, want)
	}
}
