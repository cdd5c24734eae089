package web

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
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
	preload := regexp.MustCompile(`<link rel="modulepreload" href="/(static/[^"]+)">`)
	pages := 0
	for name, text := range files {
		if !strings.HasSuffix(name, ".html") {
			continue
		}
		m := script.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		pages++
		want := moduleClosure(files, m[1])
		var got []string
		for _, p := range preload.FindAllStringSubmatch(text, -1) {
			got = append(got, p[1])
		}
		listed := slices.Clone(got)
		sort.Strings(listed)
		if slices.Equal(listed, sortedCopy(want)) && len(slices.Compact(listed)) == len(got) {
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
func moduleClosure(files map[string]string, entry string) []string {
	seen := map[string]bool{entry: true}
	var order []string
	queue := []string{entry}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		for _, spec := range moduleImports(files[f]) {
			dep := path.Join(path.Dir(f), spec)
			if seen[dep] || !strings.HasSuffix(dep, ".js") {
				continue
			}
			seen[dep] = true
			order = append(order, dep)
			queue = append(queue, dep)
		}
	}
	return order
}

// importRE matches a module's static imports and re-exports (`import … from '…'`, over
// lines too) and its imports for effect alone (`import '…'`).
var importRE = regexp.MustCompile(`(?m)^\s*(?:(?:import|export)\s[^'"]*?from\s+|import\s*)['"]([^'"]+)['"]`)

// moduleImports is what the module text imports, as written.
func moduleImports(text string) []string {
	var specs []string
	for _, m := range importRE.FindAllStringSubmatch(text, -1) {
		specs = append(specs, m[1])
	}
	return specs
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
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
