package signaling

import (
	"regexp"
	"testing"
)

var idShape = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// FuzzValidID: the id check of GET /api/meetings/{id} accepts exactly 1–64 base64url
// characters, whatever the path holds.
func FuzzValidID(f *testing.F) {
	for _, seed := range []string{"", "q3Vx8yJ2kVx0mL1c7rT9Aw", "abc.def", "a/b", "ä", "\x00", string(make([]byte, 65))} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := validID(id), idShape.MatchString(id); got != want {
			t.Fatalf("validID(%q) = %v, want %v", id, got, want)
		}
	})
}
