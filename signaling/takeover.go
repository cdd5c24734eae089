package signaling

import (
	"crypto/subtle"

	"conclave/lobby"
)

// Taking over an admitted knock (PROTOCOL.md, "Knocking again"). A waiting page whose
// path died without a close knocks again with its knock's secret; a moderator may have
// let the old knock in before that, and the welcome went to the connection nobody is
// behind. That connection became a member (which drops and parks at the server's
// heartbeat timeout) and the knock again was judged as a new knock: the person was let
// in a second time, and everyone saw a member nobody was behind. So while no page has
// spoken on that membership since a welcome, the knock's secret takes it over as a
// resumption secret would: the same id, role and name, a welcome for the new connection
// (its page's first) and participant_resumed for the others.
//
// What the secret grants is held to what its page could have had: only the knocker's
// page ever got it (in its lobby messages, never logged, kept in memory only); it
// counts only in the meeting of its knock, for the membership let in from that knock
// (or from one that replaced it) while it stands; a page that got a welcome spoke, and
// spent it (confirmWelcome: the page holds a resumption secret now), and so did a
// resume; a member removed, sent back, gone or expired is no longer there to take. A
// takeover uses the knock's budget of replacements (reknock.go); beyond it, as when
// nothing is found, the join is judged as a new knock.

// knockClaim is what a knock's secret took over (claimByKnock): the member's id, its
// last connection, and whether that connection was welcomed (a membership) or not yet
// (an admission whose welcome has not gone out).
type knockClaim struct {
	id       lobby.ID
	prev     *Session
	welcomed bool
}

// claimByKnock takes, for s, what was let in from the knock whose secret is secret, as
// claim does for a resume. That is the membership let in from it, or, in the moment
// between a moderator's admit and its welcome (the policy has let the knock in, and its
// connection has yet to set up its media and be welcomed), the admission itself: s is
// attached in that connection's place, which is told that it was replaced and welcomes
// nobody (completeJoin finds s attached). Either is decided here, under the lock the
// admission and the welcome are made under: a knock again finds the knock waiting (it
// replaces it: Meeting.knock), admitted (it takes the admission), or welcomed (it takes
// the membership), and never two of them. ok is false when there is none to take (or
// the knock's budget is spent).
func (m *Meeting) claimByKnock(s *Session, secret string) (c knockClaim, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ended {
		return knockClaim{}, false
	}
	// Every secret is compared, in constant time, as standingKnockLocked does.
	var member, admitted lobby.ID
	for mid, rec := range m.resumable {
		if rec.knock != "" && m.members[mid] != nil &&
			subtle.ConstantTimeCompare([]byte(rec.knock), []byte(secret)) == 1 {
			member = mid
		}
	}
	for cid, conn := range m.conns {
		if conn.knockSecret != "" && m.admittedUnwelcomedLocked(cid) &&
			subtle.ConstantTimeCompare([]byte(conn.knockSecret), []byte(secret)) == 1 {
			admitted = cid
		}
	}
	now := m.now()
	switch {
	case member != "":
		rec := m.resumable[member]
		if !rec.knocks.allow(now) {
			return knockClaim{}, false
		}
		return knockClaim{id: member, prev: m.takeLocked(s, member, rec), welcomed: true}, true
	case admitted != "":
		prev := m.conns[admitted]
		if !prev.reknocks.allow(now) {
			return knockClaim{}, false
		}
		// s is that knock now: its id, its name as the moderator let it in, and its
		// secret, budget and the knocks it replaced, which its membership keeps.
		s.id, s.name = string(admitted), prev.name
		s.knockSecret, s.reknocks, s.knocksReplaced = prev.knockSecret, prev.reknocks, prev.knocksReplaced
		m.conns[admitted] = s
		s.tookFrom = prev
		prev.deliver(event{kind: evReplaced})
		return knockClaim{id: admitted, prev: prev}, true
	}
	return knockClaim{}, false
}

// admittedUnwelcomedLocked reports whether the session attached as id is a knock the
// policy has let in whose welcome has not gone out (its connection has yet to handle
// the admission: completeJoin).
func (m *Meeting) admittedUnwelcomedLocked(id lobby.ID) bool {
	_, member := m.lob.Role(id)
	return member && m.members[id] == nil && m.conns[id] != nil
}

// takeOver is a join whose replaceKnock found no waiting knock: when what that knock
// was let in to is there to take (claimByKnock), s takes it and reports true.
func (s *Session) takeOver(m *Meeting, p JoinPayload, ref string) bool {
	c, ok := m.claimByKnock(s, p.ReplaceKnock)
	if !ok {
		return false
	}
	if c.welcomed {
		s.takeMembership(m, string(c.id), ref, p.Media, memberClaim{from: c.prev, knock: true})
	} else {
		s.takeAdmission(m, ref, p.Media, c.prev)
	}
	return true
}

// takeAdmission makes s the knock a moderator let in, whose admission s took before its
// connection (prev) was welcomed: s waits for prev to let go (it may have set up media
// under the id already), then does what prev would have done, and is welcomed as the
// member: a first welcome, participant_joined to the others. ref is the id of the join,
// media what it said it sends (nil: what prev's join said).
func (s *Session) takeAdmission(m *Meeting, ref string, media *MediaState, prev *Session) {
	s.meeting, s.joinRef = m, ref
	s.knocked.Store(true)
	// A connection that goes before its welcome is not a member: its admission goes
	// with it (letGo), as the admission of a knock whose connection went does.
	if !s.awaitLetGo(m, prev) {
		return
	}
	s.media = prev.media
	if media != nil {
		s.media = *media
	}
	s.state = stateLobby
	if s.enterMeeting() {
		s.log.Debug("session: took over an admitted knock", "participant", s.id)
	}
}

// resumedName is the member's own wire name in a resume's welcome; a page that took
// over the membership its knock was let in to gets its first welcome, without it.
func resumedName(resumed bool, name string) string {
	if !resumed {
		return ""
	}
	return name
}
