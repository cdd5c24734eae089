package turn

import (
	"testing"
	"time"
)

func TestIssuedCredentialsCheck(t *testing.T) {
	c, err := newCredentials(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	user, pass := c.issue(now)
	if got, err := c.check(user, now.Add(59*time.Second)); err != nil || got != pass {
		t.Fatalf("check before expiry = %q, %v", got, err)
	}
	if _, err := c.check(user, now.Add(time.Minute)); err != ErrExpired {
		t.Fatalf("check at expiry: %v", err)
	}
	u2, _ := c.issue(now)
	if u2 == user {
		t.Fatal("two welcomes got the same username")
	}
}

func FuzzParseUsername(f *testing.F) {
	for _, s := range []string{"1800000000:abc", "", ":", "1:", ":x", "-1:x", "99999999999999999999:x", "1e9:x", "１:x", "1800000000:a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		expiry, err := parseUsername(s)
		if err != nil {
			return
		}
		if expiry < 0 || len(s) > maxUsernameLen {
			t.Fatalf("parseUsername(%q) = %d", s, expiry)
		}
	})
}
