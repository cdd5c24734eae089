package signaling

import (
	"context"
	"testing"
	"time"

	"conclave/lobby"
	"conclave/secret"
	"conclave/store"
)

// openNew stores a fresh standing room and opens its meeting.
func openNew(t *testing.T, r *Registry) *Meeting {
	t.Helper()
	id := secret.Random(16)
	if err := r.store.CreateRoom(context.Background(), store.Room{ID: id, HostID: "h", Settings: store.Settings{Lobby: true}}); err != nil {
		t.Fatal(err)
	}
	m, err := r.open(context.Background(), id)
	if err != nil || m == nil {
		t.Fatalf("open: %v, %v", m, err)
	}
	return m
}

// TestMeetingLifetime: a meeting that had members outlives its last connection by the
// grace period; one nobody was let into lasts for unusedTTL; both then vanish.
func TestMeetingLifetime(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	r := newRegistry(nil, store.NewMemory(), clock, 10, 10, lobby.Config{}, time.Minute)

	used := openNew(t, r)
	unused := openNew(t, r)
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

// TestOnlyTheJanitorEndsMeetings: Get, Len and open look at meetings but never end
// one (that would close its media under the registry lock); tick ends them, outside it.
func TestOnlyTheJanitorEndsMeetings(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newRegistry(nil, store.NewMemory(), func() time.Time { return now }, 10, 5, lobby.Config{}, time.Minute)
	old := openNew(t, r)
	now = now.Add(11 * time.Minute)
	fresh := openNew(t, r)
	if r.Get(old.id) != nil || r.Get(fresh.id) == nil || r.Len() != 1 {
		t.Fatal("Get or Len counts an expired meeting as live")
	}
	r.mu.Lock()
	kept := len(r.meetings)
	r.mu.Unlock()
	if kept != 2 || old.isEnded() {
		t.Fatal("a meeting was ended outside the janitor")
	}
	r.tick(context.Background())
	r.mu.Lock()
	kept = len(r.meetings)
	r.mu.Unlock()
	if kept != 1 || !old.isEnded() || fresh.isEnded() {
		t.Fatalf("tick kept %d meetings; old ended %v, fresh ended %v", kept, old.isEnded(), fresh.isEnded())
	}
}

// The in-memory store is a RoomStore (the bolt store is checked where it is wired).
var _ RoomStore = (*store.Memory)(nil)

// TestOpenMakesOneMeetingPerRoom: joins of the same room at once all get one meeting;
// an unknown, malformed or expired id gets none.
func TestOpenMakesOneMeetingPerRoom(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newRegistry(nil, store.NewMemory(), func() time.Time { return now }, 10, 5, lobby.Config{}, time.Minute)
	id := secret.Random(16)
	if err := r.store.CreateRoom(context.Background(), store.Room{ID: id, HostID: "h"}); err != nil {
		t.Fatal(err)
	}
	got := make(chan *Meeting, 8)
	for range cap(got) {
		go func() {
			m, _ := r.open(context.Background(), id)
			got <- m
		}()
	}
	first := <-got
	for range cap(got) - 1 {
		if m := <-got; m != first || m == nil {
			t.Fatal("a second meeting for one room")
		}
	}
	expired := store.Room{ID: secret.Random(16), HostID: "h", Expires: now}
	_ = r.store.CreateRoom(context.Background(), expired)
	for _, id := range []string{secret.Random(16), "short", expired.ID} {
		if m, err := r.open(context.Background(), id); m != nil || err != nil {
			t.Fatalf("open(%q) = %v, %v", id, m, err)
		}
	}
	if r.Len() != 1 {
		t.Fatalf("%d meetings", r.Len())
	}
}
