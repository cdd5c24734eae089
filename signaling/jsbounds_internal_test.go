package signaling

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"conclave/e2ee"
)

// TestPagesBoundsAreTheServers keeps the bounds the page applies to what others send equal
// to the server's: name-text.js cuts a name of someone else to the characters cleanName
// takes (a lying server's longer name is read whole by a screen reader otherwise), and the
// ids the server takes from a client are the ids the E2EE format takes (e2ee.ValidID,
// which knock proofs and key messages are checked with here and in the page).
func TestPagesBoundsAreTheServers(t *testing.T) {
	src, err := os.ReadFile("../web/static/js/name-text.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^export const MAX_NAME_CHARS = ([0-9]+);`).FindSubmatch(src)
	if m == nil {
		t.Fatal("name-text.js: no export const MAX_NAME_CHARS = <number>;")
	}
	if n, _ := strconv.Atoi(string(m[1])); n != MaxNameChars {
		t.Errorf("name-text.js: MAX_NAME_CHARS = %d, want MaxNameChars (%d)", n, MaxNameChars)
	}
	if maxIDBytes != e2ee.MaxIDBytes {
		t.Errorf("maxIDBytes = %d, want e2ee.MaxIDBytes (%d)", maxIDBytes, e2ee.MaxIDBytes)
	}
}
