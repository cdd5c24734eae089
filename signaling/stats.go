package signaling

import "sync/atomic"

// Stats is a snapshot of the server's state and counters, for monitoring. It counts,
// and never says who or where: no meeting, participant or address appears in it.
type Stats struct {
	Meetings     int // live meetings
	Participants int // members of live meetings (they got their welcome)
	Waiting      int // people in live meetings' waiting rooms
	Websockets   int // websockets open or being upgraded

	// Websockets refused before the upgrade, since the start, by reason.
	RefusedServerFull   uint64 // MaxConns reached
	RefusedAddressFull  uint64 // MaxConnsPerAddr reached for the client's address
	RefusedShuttingDown uint64

	// Wrong guesses at secrets since the start, by kind, and guesses the throttle
	// refused without looking at them.
	WrongPasswords        uint64
	WrongModeratorSecrets uint64
	WrongHostKeys         uint64
	GuessesThrottled      uint64

	// Resumes that waited because their membership had resumed too often lately.
	ResumesDelayed uint64
	// Knocks refused because their address group knocked too often (knocklimit.go).
	KnocksLimited uint64
}

// counters are the server's monotonic counters; each is bumped where it happens.
type counters struct {
	refusedFull, refusedAddr, refusedStopping atomic.Uint64
	wrongPassword, wrongModerator, wrongHost  atomic.Uint64
	throttled                                 atomic.Uint64
	resumesDelayed, knocksLimited             atomic.Uint64
}

// countWrong notes one wrong guess answered with code.
func (c *counters) countWrong(code Code) {
	switch code {
	case CodeWrongPassword:
		c.wrongPassword.Add(1)
	case CodeWrongModSecret:
		c.wrongModerator.Add(1)
	}
}

// Stats reads the server's state. It takes the registry's lock and then each meeting's
// lock in turn, briefly, never two meetings' at once: cheap enough for a scrape every
// few seconds.
func (s *Server) Stats() Stats {
	st := Stats{
		RefusedServerFull:     s.stats.refusedFull.Load(),
		RefusedAddressFull:    s.stats.refusedAddr.Load(),
		RefusedShuttingDown:   s.stats.refusedStopping.Load(),
		WrongPasswords:        s.stats.wrongPassword.Load(),
		WrongModeratorSecrets: s.stats.wrongModerator.Load(),
		WrongHostKeys:         s.stats.wrongHost.Load(),
		GuessesThrottled:      s.stats.throttled.Load(),
		ResumesDelayed:        s.stats.resumesDelayed.Load(),
		KnocksLimited:         s.stats.knocksLimited.Load(),
	}
	s.mu.Lock()
	st.Websockets = s.conns
	s.mu.Unlock()
	for _, m := range s.registry.live() {
		st.Meetings++
		m.mu.Lock()
		st.Participants += len(m.members)
		st.Waiting += len(m.lob.Waiting())
		m.mu.Unlock()
	}
	return st
}

// live lists the meetings that have not expired.
func (r *Registry) live() []*Meeting {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	out := make([]*Meeting, 0, len(r.meetings))
	for _, m := range r.meetings {
		if !m.expired(now, r.unusedTTL, r.emptyGrace) {
			out = append(out, m)
		}
	}
	return out
}
