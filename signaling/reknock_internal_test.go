package signaling

import (
	"strings"
	"testing"
)

// FuzzValidKnockSecret: a join's replaceKnock is taken only as 32 bytes in canonical
// unpadded base64url, the form the server draws; anything else is refused before the
// meeting is looked at.
func FuzzValidKnockSecret(f *testing.F) {
	for _, s := range []string{newKnockSecret(), strings.Repeat("A", 43), strings.Repeat("B", 43), strings.Repeat("A", 42) + "=", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ok := validKnockSecret(v)
		b, err := b64.DecodeString(v)
		want := err == nil && len(b) == 32 && b64.EncodeToString(b) == v
		if ok != want {
			t.Fatalf("validKnockSecret(%q) = %v, want %v", v, ok, want)
		}
	})
}

func TestKnockSecretsDiffer(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := newKnockSecret()
		if !validKnockSecret(s) || seen[s] {
			t.Fatalf("knock secret %q: malformed or drawn twice", s)
		}
		seen[s] = true
	}
}
