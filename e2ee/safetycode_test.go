package e2ee

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const safetyVectorsPath = "testdata/safetycode.json"

// safetyVectors are the safety-code vectors both implementations check: this
// package (TestSafetyCodeVectors) and web/jstest/safety-code.test.mjs.
// Regenerate with go test ./e2ee -run TestSafetyCodeVectors -update.
type safetyVectors struct {
	Comment    string `json:"comment"`
	Label      string `json:"label"`
	Iterations int    `json:"iterations"`
	// WordList is the SHA-256 of the 1024 words (words.go, words.js) joined by "\n",
	// so that a third party can check its copy of the list (index for index).
	WordList bin               `json:"wordListSha256"`
	Codes    []safetyVector    `json:"codes"`
	Bad      []badSafetyRoster `json:"bad"`
}

type safetyEntry struct {
	ID  string `json:"id"`
	Pub bin    `json:"pub"`
}

type safetyVector struct {
	Name    string        `json:"name"`
	Entries []safetyEntry `json:"entries"` // in the order given, not sorted
	Digest  bin           `json:"digest"`  // D
	Code    bin           `json:"code"`    // the 13 PBKDF2 bytes
	Indices []int         `json:"indices"`
	Words   []string      `json:"words"`
}

type badSafetyRoster struct {
	Name    string        `json:"name"`
	Entries []safetyEntry `json:"entries"`
	Error   string        `json:"error"` // the JavaScript E2EEError code
}

// wordListDigest is SHA-256(words joined by "\n"), no newline at the end.
func wordListDigest() []byte {
	d := sha256.Sum256([]byte(strings.Join(safetyWords[:], "\n")))
	return d[:]
}

func filledPub(b byte) []byte { return bytes.Repeat([]byte{b}, pubSize) }

func countingPub(start byte) []byte {
	p := make([]byte, pubSize)
	for i := range p {
		p[i] = start + byte(i)*7
	}
	return p
}

func toRoster(es []safetyEntry) []RosterEntry {
	out := make([]RosterEntry, len(es))
	for i, e := range es {
		out[i] = RosterEntry{ID: e.ID, Pub: e.Pub}
	}
	return out
}

func generateSafety(t *testing.T) safetyVectors {
	t.Helper()
	v := safetyVectors{
		Comment: "Safety code v2 (e2ee/safetycode.go, web/static/js/e2ee/safety-code.js): entries as given " +
			"(unsorted), D, the 13 PBKDF2 bytes, the ten word indexes and words. Byte strings are unpadded " +
			"base64url. Regenerate: go test ./e2ee -run TestSafetyCodeVectors -update",
		Label:      safetyLabel,
		Iterations: SafetyCodeIterations,
		WordList:   wordListDigest(),
	}
	for _, x := range []struct {
		name    string
		entries []safetyEntry
	}{
		{"one entry", []safetyEntry{{"a", filledPub(1)}}},
		{"two entries, given out of order", []safetyEntry{{"b", filledPub(2)}, {"a", filledPub(1)}}},
		{"two entries, one key bit flipped", []safetyEntry{{"b", append(filledPub(2)[:31:31], 3)}, {"a", filledPub(1)}}},
		// UTF-8 byte order: "P-Z" < "p-z" < "p-é" < "p-ﬁ" (EF) < "p-😀" (F0); UTF-16
		// order would put the emoji (D83D) before the ligature (FB01).
		{"five entries, non-ASCII ids", []safetyEntry{
			{"p-😀", countingPub(5)}, {"p-ﬁ", countingPub(4)}, {"p-é", countingPub(3)},
			{"p-z", countingPub(2)}, {"P-Z", countingPub(1)},
		}},
	} {
		r := toRoster(x.entries)
		d, err := RosterDigest(r)
		if err != nil {
			t.Fatal(err)
		}
		c, err := SafetyCodeBytes(r)
		if err != nil {
			t.Fatal(err)
		}
		words, err := SafetyCode(r)
		if err != nil {
			t.Fatal(err)
		}
		v.Codes = append(v.Codes, safetyVector{Name: x.name, Entries: x.entries, Digest: d, Code: c, Indices: codeIndices(c), Words: words})
	}
	v.Bad = []badSafetyRoster{
		{"no entries", []safetyEntry{}, "bad-input"},
		{"empty id", []safetyEntry{{"", filledPub(1)}}, "bad-id"},
		{"id with NUL", []safetyEntry{{"a\x00b", filledPub(1)}}, "bad-id"},
		{"31-byte key", []safetyEntry{{"a", filledPub(1)[:31]}}, "bad-input"},
		{"33-byte key", []safetyEntry{{"a", append(filledPub(1), 1)}}, "bad-input"},
		{"an id twice", []safetyEntry{{"a", filledPub(1)}, {"b", filledPub(2)}, {"a", filledPub(3)}}, "bad-input"},
	}
	return v
}

// TestSafetyCodeVectors: an answer computed independently (Python hashlib),
// the vector file is what the generator makes, and every vector and bad roster in
// it gives what it says, in any entry order.
func TestSafetyCodeVectors(t *testing.T) {
	// python3: d = sha256(b"conclave/v2 safety code\0" + b"a\0" + b"\x01"*32 + b"\0");
	// pbkdf2_hmac("sha256", d, b"conclave/v2 safety code", 1<<17, 13).
	c, err := SafetyCodeBytes([]RosterEntry{{"a", filledPub(1)}})
	if err != nil || hex.EncodeToString(c) != "182d8ca933820f60e806612cd8" {
		t.Fatalf("known answer: %x %v", c, err)
	}
	if got := codeIndices(c); !slices.Equal(got, []int{96, 728, 810, 307, 520, 246, 58, 6, 388, 717}) {
		t.Fatalf("indices %v", got)
	}

	gen := generateSafety(t)
	file := golden(t, safetyVectorsPath, "TestSafetyCodeVectors", gen)
	seen := map[string]string{}
	for _, v := range file.Codes {
		r := toRoster(v.Entries)
		slices.Reverse(r)
		words, err := SafetyCode(r)
		if err != nil || !slices.Equal(words, v.Words) || len(words) != SafetyCodeWords {
			t.Errorf("%s reversed: %v %v", v.Name, words, err)
		}
		key := strings.Join(v.Words, " ")
		if other, dup := seen[key]; dup {
			t.Errorf("%s and %s have the same code", v.Name, other)
		}
		seen[key] = v.Name
	}
	for _, b := range file.Bad {
		_, err := SafetyCode(toRoster(b.Entries))
		if !errors.Is(err, ErrRoster) || errors.Is(err, ErrBadID) != (b.Error == "bad-id") {
			t.Errorf("%s: %v", b.Name, err)
		}
	}
}

// TestSafetyCodeWordList: the Go list is the browser's list, word for word, and
// both have 1024 distinct words of a–z.
func TestSafetyCodeWordList(t *testing.T) {
	src, err := os.ReadFile("../web/static/js/e2ee/words.js")
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(src, []byte("export const WORDS"))
	end := bytes.Index(src, []byte("]);"))
	if start < 0 || end < start {
		t.Fatal("words.js: no WORDS array")
	}
	var js []string
	for _, m := range regexp.MustCompile(`'([^']*)'`).FindAllSubmatch(src[start:end], -1) {
		js = append(js, string(m[1]))
	}
	if !slices.Equal(js, safetyWords[:]) {
		t.Fatalf("words.js has %d words that differ from safetyWords", len(js))
	}
	seen := map[string]bool{}
	for _, w := range safetyWords {
		if seen[w] || !regexp.MustCompile(`^[a-z]{2,6}$`).MatchString(w) {
			t.Fatalf("word %q repeated or not 2–6 letters a–z", w)
		}
		seen[w] = true
	}
}

// TestCodeIndicesBitOrder: the bits are read big-endian, 10 per word.
func TestCodeIndicesBitOrder(t *testing.T) {
	c := make([]byte, safetyCodeBytes)
	c[0] = 0xff
	c[1] = 0xc0  // word 0 = 1023
	c[12] = 0x10 // the last bit of word 9; the low 4 bits are unused
	c[12] |= 0x0f
	got := codeIndices(c)
	want := []int{1023, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	if !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}

// FuzzRosterDigest: any roster gives a digest or ErrRoster, never a panic, and
// the digest does not depend on the order of the entries.
func FuzzRosterDigest(f *testing.F) {
	f.Add("a", "b", filledPub(1), filledPub(2))
	f.Add("p-😀", "p-ﬁ", countingPub(1), countingPub(2))
	f.Add("a", "a", filledPub(1), filledPub(1))
	f.Add("", "\x00", []byte{1}, []byte{})
	f.Fuzz(func(t *testing.T, idA, idB string, pubA, pubB []byte) {
		r := []RosterEntry{{idA, pubA}, {idB, pubB}}
		d1, err1 := RosterDigest(r)
		d2, err2 := RosterDigest([]RosterEntry{r[1], r[0]})
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(d1, d2) {
			t.Fatalf("order matters: %x %v / %x %v", d1, err1, d2, err2)
		}
		if err1 != nil && !errors.Is(err1, ErrRoster) {
			t.Fatalf("error %v is not ErrRoster", err1)
		}
	})
}
