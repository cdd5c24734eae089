package signaling

// HeldAddressGroups is how many address groups the server's limiters remember: the
// password throttle's and the knock limit's (tests of how long addresses are kept).
func HeldAddressGroups(s *Server) int {
	s.knocks.mu.Lock()
	n := len(s.knocks.buckets)
	s.knocks.mu.Unlock()
	return n + s.attempts.Len()
}

// WaitingToResume is how many memberships of m wait to resume (parked or not).
func WaitingToResume(m *Meeting) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.resumable)
}
