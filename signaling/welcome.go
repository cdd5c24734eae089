package signaling

import "conclave/lobby"

// A member's welcome, which a join (completeJoin) and a hand-over of the membership to
// a new connection (completeHandover) both send: made in one place, so that what one of
// them adds to it is added to both.

// welcomeLocked is the welcome to s, a member in role: the meeting, its settings and
// limits, the others in it, s's relays and its next resumption secret. A hand-over's
// welcome adds what only it says (completeHandover).
func (m *Meeting) welcomeLocked(s *Session, role lobby.Role, others []ParticipantInfo, ice []ICEServer, secret string) WelcomePayload {
	return WelcomePayload{
		Version:       ProtocolVersion,
		ParticipantID: s.id,
		MeetingID:     m.id,
		Role:          string(role),
		Settings:      m.lob.Settings(),
		SettingsRev:   m.settingsRev.rev,
		SettingsEpoch: m.settingsEpoch,
		E2EE:          m.e2ee,
		Participants:  others,
		Limits:        Limits{MaxMessageBytes: MaxMessageBytes, MaxChatChars: MaxChatChars},
		ICEServers:    ice,
		ResumeSecret:  secret,
		Speakers:      m.speakerDetection,
	}
}

// afterWelcomeLocked tells s, just welcomed in role, the state the welcome does not
// carry: a moderator the waiting list and the wrong-password notices, everyone the
// raised hands and who speaks.
func (m *Meeting) afterWelcomeLocked(s *Session, role lobby.Role) {
	if role == lobby.RoleModerator {
		s.sendWaitingList(m.waitingListMessageLocked(m.lob.Waiting(), lobby.ID(s.id)))
		m.wrong.welcomeLocked(s)
	}
	m.welcomeHandsLocked(s)
	m.welcomeSpeakersLocked(s)
}
