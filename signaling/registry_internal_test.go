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
	r := newRegistry(nil, clock, 10, 10, lobby.Config{}, time.Minute)

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

// TestOnlyTheJanitorEndsMeetings: Get, Len and create look at meetings but never end
// one (that would close its media under the registry lock); tick ends them, outside it.
func TestOnlyTheJanitorEndsMeetings(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newRegistry(nil, func() time.Time { return now }, 10, 5, lobby.Config{}, time.Minute)
	old, _ := r.create(meetingSpec{settings: lobby.DefaultSettings()})
	now = now.Add(11 * time.Minute)
	fresh, _ := r.create(meetingSpec{settings: lobby.DefaultSettings()})
	if r.Get(old.id) != nil || r.Get(fresh.id) == nil || r.Len() != 1 {
		t.Fatal("Get or Len counts an expired meeting as live")
	}
	r.mu.Lock()
	kept := len(r.meetings)
	r.mu.Unlock()
	if kept != 2 || old.isEnded() {
		t.Fatal("a meeting was ended outside the janitor")
	}
	r.tick()
	r.mu.Lock()
	kept = len(r.meetings)
	r.mu.Unlock()
	if kept != 1 || !old.isEnded() || fresh.isEnded() {
		t.Fatalf("tick kept %d meetings; old ended %v, fresh ended %v", kept, old.isEnded(), fresh.isEnded())
	}
}

func (m *Meeting) isEnded() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ended
}
