package signaling

import (
	"fmt"
	"time"

	"conclave/e2ee"
	"conclave/lobby"
)

// What the members send each other through the meeting: their media state, chat and
// key messages. Only members that got their welcome take part, and only a connection
// that can hear the meeting now is sent anything (hearsLocked).

// clampMediaLocked drops a screen share that s's join or resume said it has without the
// permission to share (a media_state saying so is refused): the roster would show others
// a share that is never forwarded. Under m.mu, on s's goroutine, once s is a member.
func (m *Meeting) clampMediaLocked(s *Session) {
	if s.media.Screen && !m.lob.Can(lobby.ID(s.id), lobby.PermShareScreen) {
		s.media.Screen = false
	}
}

// setMedia records a member's media state and tells everyone.
func (m *Meeting) setMedia(id string, media MediaState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info, ok := m.members[lobby.ID(id)]
	if !ok {
		return
	}
	info.Media = media
	m.broadcastLocked(lobby.ID(id), encode(TypeParticipantUpdated, "", ParticipantPayload{Participant: *info}))
}

// chat relays a message to every member present, the sender included. Nothing is kept.
func (m *Meeting) chat(from, ref, text string, now time.Time) *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	info, ok := m.members[lobby.ID(from)]
	if !ok {
		return errorf(CodeNotAllowedInState, "not a member")
	}
	if !m.lob.Can(lobby.ID(from), lobby.PermChat) {
		return errorf(CodeNotAllowed, "chat is turned off in this meeting")
	}
	m.chatSeq++
	msg := ChatOutPayload{
		MessageID: fmt.Sprintf("m-%d", m.chatSeq),
		From:      from,
		Name:      info.Name,
		Text:      text,
		SentAt:    now.UTC().Format(time.RFC3339),
	}
	for id := range m.members {
		r := ""
		if string(id) == from {
			r = ref
		}
		m.hearsLocked(id).send(encode(TypeChat, r, msg))
	}
	return nil
}

// relayKey passes an opaque key message on to one member or all of them; never logged.
func (s *Session) relayKey(env Envelope) *Error {
	if !s.meeting.e2ee {
		// Not a channel of its own: chat has its setting and its budget.
		return errorf(CodeNotAllowed, "this meeting is not end-to-end encrypted")
	}
	p, err := decodePayload[E2EEPayload](env)
	if err != nil {
		return err
	}
	if cerr := e2ee.CheckEnvelope(p.Data); cerr != nil {
		return errorf(CodeInvalidField, "%v", cerr)
	}
	return s.meeting.relay(s.id, p.To, p.Data, s.allowKeyMessage)
}

// relay passes a key message from a member to another member, or to all others when
// to is empty. Only members that got their welcome take part: never the lobby. A message
// for a member that left a moment ago is dropped, not refused (its sender had not yet
// heard of the leave); allow takes it from the sender's budget (batch.go).
func (m *Meeting) relay(from, to, data string, allow func(members int) bool) *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.members[lobby.ID(from)]; !ok {
		return errorf(CodeNotAllowedInState, "not a member")
	}
	_, present := m.members[lobby.ID(to)]
	if to != "" && (to == from || !present && !m.departed.has(to)) {
		return errorf(CodeUnknownParticipant, "no member with that id")
	}
	if !allow(len(m.members)) {
		return errorf(CodeRateLimited, "too many key messages; slow down")
	}
	msg := encode(TypeE2EE, "", E2EEOutPayload{From: from, Data: data})
	switch {
	case to == "":
		for id := range m.members {
			if id != lobby.ID(from) {
				m.hearsLocked(id).sendSpare(msg)
			}
		}
	case present:
		m.hearsLocked(lobby.ID(to)).sendSpare(msg)
	}
	return nil
}

// broadcastLocked sends msg to every member that got its welcome, except one (and
// except members that cannot hear it now: hearsLocked).
func (m *Meeting) broadcastLocked(except lobby.ID, msg []byte) {
	for id := range m.members {
		if id != except {
			m.hearsLocked(id).send(msg)
		}
	}
}

// hearsLocked returns the connection of member id that is told what happens in the
// meeting: nil while the member is parked, and while a resume or a knock's takeover
// has claimed its membership and not yet been welcomed (parking.claimed). Nothing
// reaches a connection before its welcome: the welcome carries the meeting as it is
// then (settings, roster, role), and what it does not carry (the waiting list, hands,
// who speaks, wrong passwords, moderators' commands) is sent right after it
// (completeHandover).
func (m *Meeting) hearsLocked(id lobby.ID) *Session {
	if rec := m.resumable[id]; rec != nil && rec.claimed {
		return nil
	}
	return m.conns[id]
}
