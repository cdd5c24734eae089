package main

// The environment's CONCLAVE_* variables that no setting reads: each is named as
// ignored, with the setting's variable it is nearest to (strayEnv).

import (
	"flag"
	"slices"
	"strings"
)

// testEnv are the CONCLAVE_* variables the test suite and the bench scripts read
// (internal/browsertest, internal/e2e, the store's and this package's tests,
// bench/sidebyside.sh), not the server: no warning for them. TestStrayEnvKnowsTheTree
// finds every such name in the tree.
var testEnv = []string{
	"CONCLAVE_BIN", "CONCLAVE_BROWSER_LOG", "CONCLAVE_CHROMIUM", "CONCLAVE_FIREFOX", "CONCLAVE_PULSEAUDIO",
	"CONCLAVE_SCREENSHOTS", "CONCLAVE_STORE_CRASH_DIR", "CONCLAVE_STORE_HOST", "CONCLAVE_STORE_OPEN_AS_SERVICE",
	"CONCLAVE_TEST_RUN_MAIN", "CONCLAVE_XVFB",
}

// strayEnv says, for each CONCLAVE_* variable of environ that no setting reads, that it
// is ignored, with the setting's variable it is nearest to: a misspelt
// CONCLAVE_MAX_PARTICIPANT would otherwise leave the server on the default the operator
// meant to change, without a word. Only names are said, never values.
func strayEnv(fs *flag.FlagSet, environ []string) []string {
	var known []string
	fs.VisitAll(func(f *flag.Flag) { known = append(known, envName(f.Name)) })
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "CONCLAVE_") || slices.Contains(known, name) || slices.Contains(testEnv, name) {
			continue
		}
		msg := name + " is no setting of conclave and is ignored"
		best, bestDist := "", 4 // suggest only a name a few letters away
		for _, k := range known {
			if d := editDistance(name, k); d < bestDist {
				best, bestDist = k, d
			}
		}
		if best != "" {
			msg += " (did you mean " + best + "?)"
		}
		out = append(out, msg)
	}
	slices.Sort(out)
	return out
}

// editDistance is the Levenshtein distance of a and b, in bytes (the names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
