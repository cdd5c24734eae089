package signaling

import (
	"testing"
	"time"

	"conclave/lobby"
)

// TestMeetingLifetime: a meeting that had members outlives its last connection by the
// grace period; one nobody was let into lasts for unusedTTL; both then vanish.
func TestMeetingLifetime(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	r := newRegistry(nil, clock, 10, 10, lobby.Config{}, time.Minute, func(string) {})

	used, _ := r.create(meetingSpec{settings: lobby.DefaultSettings()})
	unused, _ := r.create(meetingSpec{settings: lobby.DefaultSettings()})
	used.mu.Lock()
	used.joined = true // someone was a member; now nobody is connected
	used.mu.Unlock()
	r.endIfEmpty(used)
	if r.Get(used.id) == nil {
		t.Fatal("meeting ended at once despite the grace period")
	}
	now = now.Add(59 * time.Second)
	if r.Get(used.id) == nil || r.Get(unused.id) == nil {
		t.Fatal("meeting ended before its grace period")
	}
	now = now.Add(2 * time.Second)
	if r.Get(used.id) != nil {
		t.Fatal("meeting outlived its grace period")
	}
	if r.Get(unused.id) == nil {
		t.Fatal("a meeting nobody joined yet ended after the short grace period")
	}
	now = now.Add(10 * time.Minute)
	if r.Get(unused.id) != nil || r.Len() != 0 {
		t.Fatal("an unused meeting outlived unusedTTL")
	}
}
