package signaling

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"conclave/e2ee"
	"conclave/lobby"
)

// TestPagesBoundsAreTheServers keeps the bounds the page applies to what others send equal
// to the server's: name-text.js cuts a name of someone else to the characters cleanName
// takes (a lying server's longer name is read whole by a screen reader otherwise), and the
// ids the server takes from a client are the ids the E2EE format takes (e2ee.ValidID,
// which knock proofs and key messages are checked with here and in the page), and a
// moderator's page keeps as many knockers of a waiting list (session-roster.js
// MAX_WAITING) as any waiting room may hold (lobby.MaxWaitingCeiling), so that it hides
// no honest knocker and holds no more than a lying server's list.
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
	src, err = os.ReadFile("../web/static/js/session-roster.js")
	if err != nil {
		t.Fatal(err)
	}
	m = regexp.MustCompile(`(?m)^export const MAX_WAITING = ([0-9]+);`).FindSubmatch(src)
	if m == nil {
		t.Fatal("session-roster.js: no export const MAX_WAITING = <number>;")
	}
	if n, _ := strconv.Atoi(string(m[1])); n != lobby.MaxWaitingCeiling {
		t.Errorf("session-roster.js: MAX_WAITING = %d, want lobby.MaxWaitingCeiling (%d)", n, lobby.MaxWaitingCeiling)
	}
	if maxIDBytes != e2ee.MaxIDBytes {
		t.Errorf("maxIDBytes = %d, want e2ee.MaxIDBytes (%d)", maxIDBytes, e2ee.MaxIDBytes)
	}
}

// TestNameRuleIsThePages keeps the characters cleanName drops from a name
// (droppedFromName) those name-text.js's plainName drops from a name of someone else
// (BIDI_CONTROLS and INVISIBLE): a character only the page dropped was sent by the server
// to every member inside a name that every page showed as another one ("An\u200Bna"
// beside Anna).
func TestNameRuleIsThePages(t *testing.T) {
	src, err := os.ReadFile("../web/static/js/name-text.js")
	if err != nil {
		t.Fatal(err)
	}
	page := map[rune]bool{}
	for _, name := range []string{"BIDI_CONTROLS", "INVISIBLE"} {
		m := regexp.MustCompile(`(?m)^const ` + name + ` = /\[((?:\\u[0-9a-f]{4}(?:-\\u[0-9a-f]{4})?)+)\]/gu;`).FindSubmatch(src)
		if m == nil {
			t.Fatalf("name-text.js: no const %s = /[\\uXXXX-\\uXXXX…]/gu;", name)
		}
		for _, part := range regexp.MustCompile(`\\u([0-9a-f]{4})(?:-\\u([0-9a-f]{4}))?`).FindAllSubmatch(m[1], -1) {
			lo, _ := strconv.ParseUint(string(part[1]), 16, 32)
			hi := lo
			if len(part[2]) > 0 {
				hi, _ = strconv.ParseUint(string(part[2]), 16, 32)
			}
			for r := lo; r <= hi; r++ {
				page[rune(r)] = true
			}
		}
	}
	for r := rune(0); r <= 0x10ffff; r++ {
		if droppedFromName(r) != page[r] {
			t.Errorf("U+%04X: the server drops it %v, name-text.js %v", r, droppedFromName(r), page[r])
		}
	}
}
