package signaling

// HeldAddressGroups is how many address groups the server's limiters remember: the
// password throttle's and the knock limit's (tests of how long addresses are kept).
func HeldAddressGroups(s *Server) int {
	s.knocks.mu.Lock()
	n := len(s.knocks.buckets)
	s.knocks.mu.Unlock()
	return n + s.attempts.Len()
}
