package signaling

import (
	"testing"
	"time"
)

func TestTokenBucket(t *testing.T) {
	b := newTokenBucket(5, 10)
	now := time.Unix(100, 0)
	for i := 0; i < 10; i++ {
		if !b.allow(now) {
			t.Fatalf("burst message %d refused", i)
		}
	}
	if b.allow(now) {
		t.Fatal("11th message in the same instant allowed")
	}
	now = now.Add(200 * time.Millisecond) // one token back
	if !b.allow(now) || b.allow(now) {
		t.Fatal("refill is not 5 per second")
	}
	now = now.Add(time.Hour)
	n := 0
	for b.allow(now) {
		n++
	}
	if n != 10 {
		t.Fatalf("after a long pause %d allowed, want the burst of 10", n)
	}
	now = now.Add(-time.Minute) // a clock that goes back grants nothing
	if b.allow(now) {
		t.Fatal("clock going backwards granted a token")
	}
}
