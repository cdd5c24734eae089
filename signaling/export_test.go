package signaling

import (
	"conclave/lobby"
	"conclave/sfu"
)

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

// SourceBlocked reports whether the server stops forwarding source of member pid of
// meeting id (false when there is no such member with media). Read under the meeting's
// lock: the session sets its peer before it completes a join or resume under it.
func SourceBlocked(s *Server, id, pid, source string) bool {
	m := s.registry.Get(id)
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.conns[lobby.ID(pid)]
	return c != nil && c.peer != nil && c.peer.Blocked(sfu.Source(source))
}

// CloseMedia closes the media of member pid of meeting id, as the meeting's end does
// before the member's session says bye; false when there is no such member with media.
func CloseMedia(s *Server, id, pid string) bool {
	m := s.registry.Get(id)
	if m == nil {
		return false
	}
	m.mu.Lock()
	c := m.conns[lobby.ID(pid)]
	var peer *sfu.Participant
	if c != nil {
		peer = c.peer
	}
	m.mu.Unlock()
	if peer == nil {
		return false
	}
	peer.Close()
	return true
}

// ResumeClaimed reports whether a resume has claimed member pid's membership of meeting
// id (its secret is spent) and not yet completed it.
func ResumeClaimed(s *Server, id, pid string) bool {
	m := s.registry.Get(id)
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.resumable[lobby.ID(pid)]
	return rec != nil && rec.hash == ""
}

// HostTurnUsers is how many requests of host hold or wait for its turn (hostTurns).
func HostTurnUsers(s *Server, host string) int {
	s.hostTurns.mu.Lock()
	defer s.hostTurns.mu.Unlock()
	if t := s.hostTurns.turns[host]; t != nil {
		return t.users
	}
	return 0
}

// ConnsHeld is how many sessions the server holds and how many address groups it
// counts connections of.
func ConnsHeld(s *Server) (sessions, groups int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions), len(s.perAddr)
}

// HoldMeeting takes meeting id's lock and returns what gives it back: a test holds the
// meeting still while several connections' messages pile up behind it.
func HoldMeeting(s *Server, id string) (release func()) {
	m := s.registry.Get(id)
	m.mu.Lock()
	return m.mu.Unlock
}

// AdmissionTakenOver reports whether member pid of meeting id, let in and not yet
// welcomed, is held by a connection whose join is still under way: a knock again that
// took the admission (claimByKnock) and waits for the admitted knock's connection to
// let go.
func AdmissionTakenOver(s *Server, id, pid string) bool {
	m := s.registry.Get(id)
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.conns[lobby.ID(pid)]
	return c != nil && m.members[lobby.ID(pid)] == nil && c.joining.Load()
}

// PasswordTurnWaiters is how many changes of meeting id's password have waited for the
// one under way (settingsturn.go); 0 when none is under way.
func PasswordTurnWaiters(s *Server, id string) int {
	m := s.registry.Get(id)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pwTurn == nil {
		return 0
	}
	return m.pwTurn.waiters
}

// PasswordTurnHeld reports whether a change of meeting id's password holds its
// password turn (settingsturn.go).
func PasswordTurnHeld(s *Server, id string) bool {
	m := s.registry.Get(id)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pwTurn != nil
}

// AdmissionHolder is the address of the connection that holds member pid of meeting
// id, let in and not yet welcomed, while its join is still under way ("": none).
func AdmissionHolder(s *Server, id, pid string) string {
	m := s.registry.Get(id)
	if m == nil {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.conns[lobby.ID(pid)]
	if c == nil || m.members[lobby.ID(pid)] != nil || !c.joining.Load() {
		return ""
	}
	return c.addr
}

// SessionsFrom is how many sessions the server holds from address addr.
func SessionsFrom(s *Server, addr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sess := range s.sessions {
		if sess.addr == addr {
			n++
		}
	}
	return n
}

// WaitsForTheOneItReplaced reports whether the connection from address addr, one that
// took an admission or a membership in meeting id from another (claimByKnock,
// takeLocked), has ended and waits for that other to let go before it is done.
func WaitsForTheOneItReplaced(s *Server, id, addr string) bool {
	m := s.registry.Get(id)
	if m == nil {
		return false
	}
	var from []*Session
	s.mu.Lock()
	for sess := range s.sessions {
		if sess.addr == addr && isClosed(sess.readDone) && !isClosed(sess.done) {
			from = append(from, sess)
		}
	}
	s.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sess := range from {
		if prev := sess.tookFrom; prev != nil && !isClosed(prev.done) {
			return true
		}
	}
	return false
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// MembershipClaimedBy is the address of the connection that claimed member pid's
// membership of meeting id (a resume, or a knock again: takeLocked) and has not yet
// been welcomed on it ("": none).
func MembershipClaimedBy(s *Server, id, pid string) string {
	m := s.registry.Get(id)
	if m == nil {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, c := m.resumable[lobby.ID(pid)], m.conns[lobby.ID(pid)]
	if rec == nil || !rec.claimed || c == nil {
		return ""
	}
	return c.addr
}

// EarlierConnectionsKept is how many connections member pid's connection in meeting id
// keeps of those it took the membership from (tookFrom, and theirs in turn).
func EarlierConnectionsKept(s *Server, id, pid string) int {
	m := s.registry.Get(id)
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	if c := m.conns[lobby.ID(pid)]; c != nil {
		for p := c.tookFrom; p != nil; p = p.tookFrom {
			n++
		}
	}
	return n
}

// MediaHeld is how many connections hold media in meeting id's room (sfu.Room.Len):
// one per member whose media is set up, and one more for a member whose last
// connection still holds it while a resume waits.
func MediaHeld(s *Server, id string) int {
	m := s.registry.Get(id)
	if m == nil {
		return 0
	}
	return m.room.Len()
}

// EndMeeting ends meeting id as the server does when its room is deleted or rotated
// (Registry.end): everyone in it is told, its members' TURN credentials are revoked and
// its media closed, before it returns.
func EndMeeting(s *Server, id string) {
	if m := s.registry.Get(id); m != nil {
		s.registry.end(m)
	}
}

// HoldMeetingToAct takes meeting id's lock, as HoldMeeting does; act carries out
// moderator by's action under it, as the meeting's act does, and release gives the
// lock back. No connection takes the events of the actions, nor anything of the
// meeting, before release: as when its goroutine was busy a moment.
func HoldMeetingToAct(s *Server, id string) (act func(by string, a lobby.Action) error, release func()) {
	m := s.registry.Get(id)
	m.mu.Lock()
	act = func(by string, a lobby.Action) error {
		effects, err := m.lob.Act(lobby.ID(by), m.knocksNowLocked(a))
		if err != nil {
			return err
		}
		m.applyLocked(effects)
		return nil
	}
	return act, m.mu.Unlock
}

// MeetingRoom is the media room of the live meeting id (nil when there is none).
func MeetingRoom(s *Server, id string) *sfu.Room {
	if m := s.registry.Get(id); m != nil {
		return m.room
	}
	return nil
}

// WaitingListBurst and WaitingListRate are a moderator connection's budget of waiting
// lists, in bytes (waitingpace.go).
const (
	WaitingListBurst = waitingListBurst
	WaitingListRate  = waitingListRate
)

// PeopleIn is how many are in m: connected (waiting or members) or members whose
// connection dropped.
func PeopleIn(m *Meeting) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.conns) + len(m.members)
}

// ConnectedMembers are the members of m whose connection is attached, by id.
func ConnectedMembers(m *Meeting) map[string]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	in := make(map[string]bool)
	for id := range m.members {
		if m.conns[id] != nil {
			in[string(id)] = true
		}
	}
	return in
}

// EventsQueued is how many events the server's sessions were handed and have not taken
// yet (Session.deliver). None: every event handed before has been taken by its
// session's owner goroutine, which handles what its connection sends next only once it
// has carried the event out. A session whose owner has ended takes no more; its events
// are not counted.
func EventsQueued(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sess := range s.sessions {
		if !isClosed(sess.done) {
			n += len(sess.events)
		}
	}
	return n
}

// ExpiredRoomRounds is how many janitor rounds in a row a room must have been past its
// expiry before the janitor deletes it.
const ExpiredRoomRounds = expiredRoomRounds

// MaxRoomsPerHost is how many rooms a host may keep.
const MaxRoomsPerHost = maxRoomsPerHost
