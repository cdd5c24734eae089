package signaling

// MeetingHolds counts, by name, the entries of every per-meeting structure keyed by a
// person, a track or an event of meeting id, for the tests of a long day (longday_test.go):
// what a meeting holds must come back to what its remaining members hold. "departed"
// is the ring of recent departures, bounded by DepartedMemory, not by the members.
func MeetingHolds(s *Server, id string) map[string]int {
	m := s.registry.Get(id)
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return map[string]int{
		"conns":         len(m.conns),
		"members":       len(m.members),
		"joinOrder":     len(m.joinOrder.of),
		"resumable":     len(m.resumable),
		"lobbyKeys":     len(m.lobbyKeys),
		"modTerms":      len(m.modTerms),
		"iceHeld":       len(m.iceHeld),
		"lobby.waiting": len(m.lob.Waiting()),
		"lobby.members": len(m.lob.Members()),
		"lobby.hands":   len(m.lob.Hands()),
		"room.members":  m.room.Len(),
		"departed":      len(m.departed.set),
		"settingsRef":   len(m.settingsRef.changed),
	}
}

// DepartedMemory is how many departures a meeting remembers (batch.go).
const DepartedMemory = departedMemory
