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

// claimByKnock takes the membership let in from the knock whose secret is secret for
// s, as claim does for a resume: it returns the member's id and its last connection.
// ok is false when there is none to take (or the knock's budget is spent).
func (m *Meeting) claimByKnock(s *Session, secret string) (id lobby.ID, prev *Session, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ended {
		return "", nil, false
	}
	// Every secret is compared, in constant time, as standingKnockLocked does.
	for mid, rec := range m.resumable {
		if rec.knock != "" && m.members[mid] != nil &&
			subtle.ConstantTimeCompare([]byte(rec.knock), []byte(secret)) == 1 {
			id = mid
		}
	}
	if id == "" {
		return "", nil, false
	}
	rec := m.resumable[id]
	if !rec.knocks.allow(m.now()) {
		return "", nil, false
	}
	return id, m.takeLocked(s, id, rec), true
}

// takeOver is a join whose replaceKnock found no waiting knock: when the membership
// that knock was let in to is there to take (claimByKnock), s takes it and reports
// true.
func (s *Session) takeOver(m *Meeting, p JoinPayload, ref string) bool {
	id, prev, ok := m.claimByKnock(s, p.ReplaceKnock)
	if !ok {
		return false
	}
	s.takeMembership(m, string(id), ref, p.Media, resumeClaim{from: prev, knock: true})
	return true
}

// resumedName is the member's own wire name in a resume's welcome; a page that took
// over the membership its knock was let in to gets its first welcome, without it.
func resumedName(resumed bool, name string) string {
	if !resumed {
		return ""
	}
	return name
}
