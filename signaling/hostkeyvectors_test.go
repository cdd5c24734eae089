package signaling_test

import (
	"encoding/json"
	"os"
	"testing"

	"conclave/signaling"
)

// TestHostKeyVectors: ParseHostKey takes exactly the keys testdata/hostkeys.json says it
// takes. The web client's rooms-keys.test.mjs checks its own rule (validHostKey, and
// the landing page's parseHostFragment) against the same file, so that the page refuses
// a host link's key before any request exactly where the server would refuse it.
func TestHostKeyVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/hostkeys.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []struct {
			Key, Why string
			OK       bool
		}
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) < 10 {
		t.Fatalf("%d cases", len(v.Cases))
	}
	for _, c := range v.Cases {
		id, sec, ok := signaling.ParseHostKey(c.Key)
		if ok != c.OK || ok && id+"."+sec != c.Key {
			t.Errorf("%s: ParseHostKey(%.80q) = %q, %q, %v, want ok %v", c.Why, c.Key, id, sec, ok, c.OK)
		}
	}
}
