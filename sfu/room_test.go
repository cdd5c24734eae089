package sfu

import "testing"

// TestRefusedJoinLeavesNothing: a join the room refuses (a duplicate id, a room
// closed meanwhile) leaves no send queue registered with the engine.
func TestRefusedJoinLeavesNothing(t *testing.T) {
	_, eng, room := newClockedRoom(t, false)
	a, err := room.Join("a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for range 5 {
		if _, err := room.Join("a"); err != ErrDuplicateID {
			t.Fatalf("a duplicate join: %v", err)
		}
	}
	eng.queues.mu.Lock()
	n := len(eng.queues.live)
	eng.queues.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d send queues registered for 1 participant after 5 refused joins", n)
	}
}
