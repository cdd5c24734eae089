package signaling

import (
	"errors"
	"time"

	"conclave/lobby"
)

// A session's way into a meeting and out of it: its knock, which the access policy
// judges (effects.go), its welcome as a member once it is let in and its media is
// ready, and its leave. A member's later connection comes back by a resume or a
// knock's takeover instead (handover.go).

// errPasswordChanged: the meeting's password changed while a join's was checked
// against the last one; the join's password is checked again.
var errPasswordChanged = &Error{Code: CodeWrongPassword, Message: "the password changed"}

// errRoomChanged: the meeting a join opened was dropped, with nobody in it, for a
// change of its room (Meeting.dropIfNobodyLocked); the join starts over.
var errRoomChanged = &Error{Code: CodeUnknownMeeting, Message: "the room changed"}

// knock attaches s under id and asks the policy to let it in. What happens next reaches
// s as events (admitted, refused) and lobby messages. pwHash is the password hash the
// join's password was checked against ("" for none): unless s gave the moderator secret,
// a knock whose check is out of date (a moderator changed the password meanwhile, so
// that whoever knew the old one is kept out) gets errPasswordChanged. A knock that
// replaces another (cred.Replaces, found by its replaceKnock secret) replaces the knock
// that secret stands for now, under this lock: the one found may have been replaced
// meanwhile by a knock that keeps its secret.
func (m *Meeting) knock(s *Session, id, name string, cred lobby.Credentials, pwHash, replaceKnock string, now time.Time) *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dropped {
		return errRoomChanged
	}
	if m.ended {
		return errorf(CodeUnknownMeeting, "no such meeting")
	}
	if cred.Replaces != "" {
		if cred.Replaces = m.standingKnockLocked(replaceKnock); cred.Replaces == "" {
			return errKnockGone
		}
	}
	if !cred.Moderator && cred.Replaces == "" && m.pwHash != pwHash {
		return errPasswordChanged
	}
	if set := m.lob.Settings(); !cred.Moderator && cred.Replaces == "" && set.Lobby && !set.Locked && m.waitingFromLocked(s.group) >= m.maxWait {
		// This knock would wait, and its address already fills its share of the room.
		m.conns[lobby.ID(id)] = s
		m.applyLocked([]lobby.Effect{lobby.Refuse{ID: lobby.ID(id), Reason: lobby.ReasonLobbyFull}})
		return nil
	}
	var budget tokenBucket
	var replaced []lobby.ID
	if cred.Replaces != "" {
		// The knock it replaces hands on its budget of replacements (reknock.go); one
		// spent makes this join a new knock, as one whose knock went.
		old := m.conns[cred.Replaces] // there: standingKnockLocked found it among them
		budget = old.reknocks
		if !budget.allow(now) {
			return errKnockGone
		}
		replaced = withReplaced(old.knocksReplaced, cred.Replaces)
	}
	effects, err := m.lob.Knock(lobby.ID(id), name, cred, now)
	if cred.Replaces != "" && errors.Is(err, lobby.ErrUnknownTarget) {
		return errKnockGone
	}
	if cred.Replaces != "" && err == nil {
		// The page knows the old knock's secret and may not get this knock's lobby
		// message (its path dying again): the secret goes on with the knock.
		s.knockSecret, s.reknocks = replaceKnock, budget
		s.knocksReplaced = replaced // the moderators' pages know the request by its first
	}
	if errors.Is(err, lobby.ErrFull) {
		return errorf(CodeMeetingFull, "the meeting has reached its participant limit")
	}
	if err != nil {
		return errorf(CodeUnknownMeeting, "no such meeting")
	}
	m.conns[lobby.ID(id)] = s
	m.applyLocked(effects)
	return nil
}

// waitingFromLocked counts the knocks from an address group waiting in this meeting.
func (m *Meeting) waitingFromLocked(group string) int {
	n := 0
	for id, s := range m.conns {
		if s.group == group && m.lob.IsWaiting(id) {
			n++
		}
	}
	return n
}

// completeJoin makes an admitted session a member that receives the meeting: welcome
// first, then everything else. It reports false when the session lost its admission in
// the meantime (removed before its media was ready).
func (m *Meeting) completeJoin(s *Session, ice []ICEServer) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := lobby.ID(s.id)
	role, ok := m.lob.Role(id)
	if !ok || m.conns[id] != s {
		m.discardICELocked(ice)
		return false
	}
	others := m.membersInJoinOrderLocked(id) // the order pages number namesakes in (joinorder.go)
	m.clampMediaLocked(s)
	info := &ParticipantInfo{ID: s.id, Name: s.name, Role: string(role), Media: s.media}
	m.members[id] = info
	m.joinOrder.add(id)
	m.joined = true
	s.member = true
	m.holdICELocked(id, ice)
	if m.e2ee {
		s.widenReadLimit()
	}
	s.send(encode(TypeWelcome, s.joinRef, m.welcomeLocked(s, role, others, ice, m.issueResumeLocked(id, s))))
	// Until its page speaks, the page that knocked may take the membership over with
	// its knock's secret: the welcome may never reach it (takeover.go).
	m.resumable[id].knock, m.resumable[id].knocks = s.knockSecret, s.reknocks
	m.broadcastLocked(id, encode(TypeParticipantJoined, "", ParticipantPayload{Participant: *info}))
	m.afterWelcomeLocked(s, role)
	return true
}

// stillHolds reports whether s still holds the admission (a knock the policy let in)
// or the membership (a resume's, a knock's takeover: takeMembership) it waits to set
// up media for: nobody ejected it or took its place, and the meeting goes on.
func (m *Meeting) stillHolds(s *Session) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := lobby.ID(s.id)
	_, ok := m.lob.Role(id)
	return ok && !m.ended && m.conns[id] == s
}

// leave detaches a session, waiting or member; nothing when s is no longer the one
// attached under its id (a resume took the membership over).
func (m *Meeting) leave(s *Session, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	lid := lobby.ID(s.id)
	if m.conns[lid] != s {
		return
	}
	delete(m.conns, lid)
	m.dropResumeLocked(lid)
	m.removeMemberLocked(lid, now)
}
