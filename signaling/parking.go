package signaling

import (
	"slices"
	"time"

	"conclave/lobby"
	"conclave/secret"
)

// Parking a membership whose connection dropped (PROTOCOL.md, "Reconnecting"): its
// resumption state, the grace it waits for a resume in, and its end (resume.go).

// parking is a member's resumption state, kept by the meeting under its lock.
type parking struct {
	hash string // keyed hash of the current secret: never the secret itself
	// prev is the keyed hash of the secret the last resume claimed with, still good
	// (once, instead of hash) until that resume's connection sends its first message:
	// a welcome lost as the link went again took the new secret with it, and the page
	// tries the one it holds (issueResumeLocked's caller completeHandover, confirmWelcome).
	prev     string
	last     *Session        // the member's last connection (its done tells when it let go)
	stop     func() bool     // cancels the grace timer; nil while a connection is attached
	commands []parkedCommand // moderator commands that arrived while it was parked
	resumes  tokenBucket     // the membership's resumes, carried from secret to secret
	// claimed: a resume or a knock's takeover claimed the membership (takeLocked) and
	// has not been welcomed yet. The moderators' commands for the member wait in
	// commands meanwhile, as for a parked member: told to a connection that may still
	// drop before its welcome, they were lost with it. Nothing else of the meeting
	// reaches that connection either (hearsLocked), and the waiting people are not told
	// of a moderator back before its welcome.
	claimed bool
	// claiming is the keyed hash of the secret a resume claimed with while it is
	// claimed and not yet welcomed (""; a knock's takeover spends none). A page whose
	// resume's connection went before its welcome holds that secret still, no other,
	// and tries it again on a new connection, which may come before the server notices
	// the old one's end: it takes the membership over from that resume (claim), as a
	// resume takes it from a connection the server still holds.
	claiming string
	// knock is the secret of the knock the membership was let in from ("": none, or
	// spent), and knocks that knock's budget of replacements: until a page has spoken
	// on the membership after a welcome, the page that knocked may take it over with
	// it (takeover.go). Spent at the first message after a welcome (confirmWelcome) and
	// by a resume (its secret came in a welcome the page got).
	knock  string
	knocks tokenBucket
	// keyWithdrawn: the member's lobby key went with a connection that dropped or was
	// taken over (park, takeLocked), and no key has been set since: the next one, its
	// resumed page's, costs nothing of the lobby_key limit (setLobbyKey).
	keyWithdrawn bool
}

// issueResumeLocked makes a fresh secret for member id, spending the last one.
func (m *Meeting) issueResumeLocked(id lobby.ID, s *Session) string {
	sec := secret.Random(resumeSecretBytes)
	rec := &parking{hash: secret.KeyedHash(sec), last: s, resumes: newTokenBucket(resumeRate, resumeBurst)}
	if old := m.resumable[id]; old != nil {
		if old.stop != nil {
			old.stop()
		}
		rec.resumes, rec.knock, rec.knocks = old.resumes, old.knock, old.knocks
		rec.keyWithdrawn = old.keyWithdrawn
	}
	m.resumable[id] = rec
	return sec
}

// endLocked marks the meeting ended and drops every membership waiting to resume:
// nothing of the meeting (a parked member's name, its grace timer holding the meeting)
// outlives it. Its media goes as a whole (sfu.Room.End): each member's session closes
// its own, and none of them renegotiates the others' subscribe connections.
func (m *Meeting) endLocked() {
	m.ended = true
	m.room.End()
	for id := range m.resumable {
		m.dropResumeLocked(id)
	}
	for id := range m.iceHeld {
		m.revokeICELocked(id)
	}
}

// dropResumeLocked forgets id's resumption state (it left, or was removed).
func (m *Meeting) dropResumeLocked(id lobby.ID) {
	if p := m.resumable[id]; p != nil {
		if p.stop != nil {
			p.stop()
		}
		delete(m.resumable, id)
	}
}

// park keeps s's membership for grace after its connection dropped, and tells the
// others that it is reconnecting. It reports false when s is not (or no longer) the
// member's connection: then it has left or was taken over, and nothing is kept.
func (m *Meeting) park(s *Session, clock Clock, grace time.Duration, expired func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := lobby.ID(s.id)
	rec, info := m.resumable[id], m.members[id]
	if m.ended || m.conns[id] != s || rec == nil || info == nil {
		return false
	}
	delete(m.conns, id)
	rec.last = s
	rec.claimed, rec.claiming = false, ""
	if c := s.claimed; c.hash != "" || c.knock {
		// s claimed the membership with its secret and went before its welcome, with
		// the next secret, was sent: that secret was spent for nothing, and the member
		// could not come back until the grace ran out. It is good again; the next
		// resume waits for the connection that still holds the member's media, unless
		// s had taken its place. (A knock's secret claims without spending itself: it
		// is spent only once a page speaks after its welcome.)
		if c.hash != "" {
			rec.hash = c.hash
		}
		if c.from != nil {
			rec.last = c.from
		}
	}
	rec.stop = clock.AfterFunc(grace, func() {
		if m.expireParked(id, rec) {
			expired()
		}
	})
	info.Reconnecting = true
	m.broadcastLocked(id, encode(TypeParticipantUpdated, "", ParticipantPayload{Participant: *info}))
	// Its lobby key goes at once: the key is its page's session identity, and the page
	// that resumes is a new session with a new one (e2ee/FORMAT.md, "Lobby keys"), so a
	// knock's name sealed to it meanwhile could be opened by nobody.
	if m.dropLobbyKeyLocked(id) {
		rec.keyWithdrawn = true
	}
	m.tellPresenceLocked() // a moderator away lets nobody in
	return true
}

// expireParked ends a parked membership whose grace period is over, as a leave; false
// when it came back (or went) in the meantime.
func (m *Meeting) expireParked(id lobby.ID, rec *parking) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.resumable[id] != rec || m.conns[id] != nil {
		return false
	}
	delete(m.resumable, id)
	m.removeMemberLocked(id, m.now())
	return true
}

// removeMemberLocked takes a member out of the meeting as a leave: the policy's effects,
// participant_left to everyone.
func (m *Meeting) removeMemberLocked(id lobby.ID, now time.Time) {
	if len(m.conns) == 0 {
		m.idle = now
	}
	// Its lobby key first: the waiting people's next lobby message (that no moderator
	// is here, when it was the last) must not list it.
	m.dropLobbyKeyLocked(id)
	m.applyLocked(m.lob.Leave(id))
	m.revokeICELocked(id)
	delete(m.modTerms, id)
	if _, ok := m.members[id]; ok {
		delete(m.members, id)
		m.joinOrder.remove(id)
		m.departed.add(string(id))
		m.broadcastLocked("", encode(TypeParticipantLeft, "", ParticipantLeftPayload{ParticipantID: string(id)}))
	}
}

// parkCommand adds c to the moderator commands kept for a parked member, once: an
// earlier one of the same kind goes, so each is kept at most once, in the order they
// last came (the last of a mute and an ask to unmute is the one that holds). Kept
// all, a moderator's stream of mutes grew the server's memory without bound and, on
// the resume, overflowed the member's event queue before its welcome (with its next
// resume secret) went out.
func parkCommand(cs []parkedCommand, c parkedCommand) []parkedCommand {
	cs = slices.DeleteFunc(cs, func(x parkedCommand) bool { return x.command == c.command })
	return append(cs, c)
}

// parkedCommand is a moderator's command kept for a parked member: told on its resume
// as it would have been told at once, with who gave it and whether it was part of an
// action on everyone (so a client can say "everyone was muted").
type parkedCommand struct {
	command lobby.Command
	by      string
	all     bool
}

// keepBlocks notes which of the member's sources the server stops forwarding (a
// moderator's mute), for a resume to hold them too (carry).
func (s *Session) keepBlocks() {
	if s.peer != nil {
		for i, src := range carriedSources {
			s.carry.blocked[i] = s.peer.Blocked(src)
		}
	}
}

// releaseMedia closes the member's media on this connection, whose membership a
// resume has taken over while its password change goes on (takeEvent), keeping its
// blocks for the resume.
func (s *Session) releaseMedia() {
	s.keepBlocks()
	s.dropPeer()
}

// letGo ends s's hold on its membership when the connection ends: an admitted member
// whose connection dropped (no goodbye was said) is parked for the grace period;
// otherwise it leaves. The media closes either way.
func (s *Session) letGo() {
	s.keepBlocks()
	parked := false
	if s.meeting != nil && s.member && !s.saidBye && s.srv.resumeGrace > 0 {
		m, srv := s.meeting, s.srv
		parked = m.park(s, srv.clock, srv.resumeGrace, func() { srv.registry.endIfEmpty(m) })
	}
	if s.meeting != nil && !parked {
		s.meeting.leave(s, s.srv.now())
	}
	if s.peer != nil {
		s.peer.Close()
	}
	if s.meeting != nil {
		s.srv.registry.endIfEmpty(s.meeting)
	}
}
