package signaling

import (
	"time"

	"conclave/lobby"
)

// Carrying out the access policy (lobby.Lobby): a moderator's action and the clock's
// tick go to the policy, and its effects (admissions, refusals, ejections, the waiting
// list, roles, settings, moderators' media commands, hands) are applied under the
// meeting's lock; then the waiting are told whether a moderator is here.

// act applies a moderator action. An admit or a deny names the knocks the moderator's
// page showed: one its page has replaced since stands for the knock in its place
// (knockNowLocked).
func (m *Meeting) act(by string, a lobby.Action) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	effects, err := m.lob.Act(lobby.ID(by), m.knocksNowLocked(a))
	if err != nil {
		return err
	}
	m.applyLocked(effects)
	if m.lob.Ended() {
		m.endLocked()
	}
	return nil
}

// tick expires old knocks.
func (m *Meeting) tick(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applyLocked(m.lob.Tick(now))
	m.reportWrongLocked()
}

// waitingListMessageLocked lists the knocks for moderator to, each with its nonce, proof
// and ephemeral key as the knocker's session holds them, and the name sealed to to's
// lobby key only (knock.go).
func (m *Meeting) waitingListMessageLocked(waiting []lobby.Knock, to lobby.ID) []byte {
	now := m.now()
	list := make([]WaitingEntry, 0, len(waiting))
	for _, k := range waiting {
		e := WaitingEntry{ParticipantID: string(k.ID), Name: k.Name, Since: k.Since.UTC().Format(time.RFC3339), WaitingMs: now.Sub(k.Since).Milliseconds()}
		if s := m.conns[k.ID]; s != nil {
			e.KnockNonce, e.KnockProof, e.KnockEph, e.KnockName = s.knock.nonce, s.knock.proof, s.knock.eph, s.knock.names[to]
			e.Continues = string(s.knockContinues())
		}
		list = append(list, e)
	}
	return encode(TypeWaitingList, "", WaitingListPayload{Waiting: list})
}

// applyLocked carries out the policy's effects.
func (m *Meeting) applyLocked(effects []lobby.Effect) {
	for _, e := range effects {
		switch e := e.(type) {
		case lobby.Admit:
			if s := m.conns[e.ID]; s != nil {
				s.deliver(event{kind: evAdmitted, role: e.Role})
			}
		case lobby.Wait:
			// The policy counts a moderator whose connection dropped (parked, parking.go);
			// the knocker is told whether one can let it in now.
			if s := m.conns[e.ID]; s != nil {
				s.send(m.lobbyMessage(s, s.joinRef, m.moderatorHereLocked()))
			}
		case lobby.ModeratorPresence:
			// Told below (tellPresenceLocked), as the connections say.
		case lobby.Refuse:
			if s := m.conns[e.ID]; s != nil {
				delete(m.conns, e.ID)
				s.deliver(event{kind: evRefused, reason: string(e.Reason)})
			}
		case lobby.Eject:
			s := m.conns[e.ID]
			delete(m.conns, e.ID)
			m.dropResumeLocked(e.ID)
			m.dropLobbyKeyLocked(e.ID)
			m.revokeICELocked(e.ID)
			delete(m.modTerms, e.ID)
			if _, ok := m.members[e.ID]; ok {
				delete(m.members, e.ID)
				m.joinOrder.remove(e.ID)
				m.departed.add(string(e.ID))
				// At the meeting's end every member is ejected and told `bye` `ended`,
				// which is all it is told: each one's participant_left to all the
				// others still in it was n²/2 messages for n (19,900 for 200), and
				// pages that are being ended showed everyone leaving.
				if e.Reason != lobby.ReasonEnded {
					m.broadcastLocked("", encode(TypeParticipantLeft, "", ParticipantLeftPayload{ParticipantID: string(e.ID)}))
				}
			}
			if s != nil {
				// A list the budget holds (waitingpace.go) is not for someone no longer
				// in the meeting: its timer could send it in the moment before the bye.
				s.forgetWaitingList()
				s.deliver(event{kind: evEjected, reason: string(e.Reason)})
			}
		case lobby.WaitingList:
			for _, id := range e.To {
				if _, ok := m.members[id]; ok {
					// Each moderator gets only the names sealed to it.
					m.hearsLocked(id).sendWaitingList(m.waitingListMessageLocked(e.Waiting, id))
				}
			}
		case lobby.RoleChanged:
			if e.Role != lobby.RoleModerator {
				m.dropLobbyKeyLocked(e.ID)
				m.conns[e.ID].forgetWaitingList()
			} else {
				m.newModTermLocked(e.ID)
			}
			if info, ok := m.members[e.ID]; ok {
				info.Role = string(e.Role)
				m.broadcastLocked("", encode(TypeParticipantUpdated, "", ParticipantPayload{Participant: *info}))
			}
			if s := m.conns[e.ID]; s != nil {
				s.recheckPermissions()
			}
		case lobby.SettingsChanged:
			m.tellSettingsLocked(e.Settings)
			for id := range m.members {
				m.conns[id].recheckPermissions()
			}
		case lobby.MediaCommand:
			if s := m.hearsLocked(e.Target); s != nil {
				s.deliver(event{kind: evMedia, command: e.Command, by: string(e.By), all: e.All})
			} else if rec := m.resumable[e.Target]; rec != nil && m.members[e.Target] != nil {
				// parked, or its resume not yet welcomed: applied on its resume
				rec.commands = parkCommand(rec.commands, parkedCommand{command: e.Command, by: string(e.By), all: e.All})
			}
		case lobby.HandsChanged:
			m.broadcastLocked("", handsMessage(e.Hands, e.By, m.now()))
		}
	}
	m.tellPresenceLocked()
	// A removal, a demotion, the meeting's end or a switch changed may leave the
	// password change under way one that would be refused: its hash is given up.
	m.givePasswordUpLocked()
}

// moderatorHereLocked reports whether a moderator can let someone in now: one with a
// connection that got its welcome. A moderator whose connection dropped stays one while
// it may resume (parking.go), but lets nobody in meanwhile, nor while its resume waits
// for its welcome (it may never get it: the old connection may take seconds to let go,
// the new one may drop).
func (m *Meeting) moderatorHereLocked() bool {
	for _, id := range m.lob.Moderators() {
		if m.hearsLocked(id) != nil {
			return true
		}
	}
	return false
}

// tellPresenceLocked tells every waiting person when whether a moderator is here has
// changed since they were last told: a moderator came, left, lost the role, or its
// connection dropped or came back.
func (m *Meeting) tellPresenceLocked() {
	here := m.moderatorHereLocked()
	if here == m.present {
		return
	}
	m.present = here
	for _, k := range m.lob.Waiting() {
		if s := m.conns[k.ID]; s != nil {
			s.send(m.lobbyMessage(s, "", here))
		}
	}
}
