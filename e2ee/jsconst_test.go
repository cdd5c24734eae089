package e2ee

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestJavaScriptIDBoundIsTheReferences keeps the page's bounds on a participant id equal
// to ValidID's: keys.js refuses a longer id in every key message (so that the ids a
// page remembers for its stay cost a bounded memory, FORMAT.md "Participant ids"), and
// view-report.js leaves a longer one out of a `view`. A bound changed on one side only
// would have the page and the Go reference disagree on which messages are malformed.
func TestJavaScriptIDBoundIsTheReferences(t *testing.T) {
	for _, file := range []string{"../web/static/js/e2ee/keys.js", "../web/static/js/view-report.js"} {
		if got := jsConst(t, file, "MAX_ID_BYTES"); got != MaxIDBytes {
			t.Errorf("%s: MAX_ID_BYTES = %d, want MaxIDBytes (%d)", file, got, MaxIDBytes)
		}
	}
}

// jsConst reads the integer constant name from a browser module's source.
func jsConst(t *testing.T, file, name string) int {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^(?:export )?const ` + name + ` = ([0-9_]+);`).FindSubmatch(src)
	if m == nil {
		t.Fatalf("%s: no const %s = <number>;", file, name)
	}
	n, err := strconv.Atoi(strings.ReplaceAll(string(m[1]), "_", ""))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
