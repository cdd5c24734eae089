package signaling

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"conclave/lobby"
	"conclave/sfu"
)

// Meeting is one meeting: its access state (a lobby.Lobby, the policy), the sessions
// attached to it, and the fan-out of roster, settings and chat; its media lives in room.
// The lock is held only to apply the policy's effects, which means changing maps and
// putting messages and events into sessions' queues, none of which blocks.
type Meeting struct {
	id      string
	room    *sfu.Room
	maxWait int    // knocks waiting per address group
	modHash string // keyed hash of the moderator secret (the room's)
	modMade bool   // the server made the moderator secret: random (store.Room.ModeratorMade)
	e2ee    bool   // the host made it an end-to-end encrypted meeting
	// speakerDetection: the members are told who speaks (watchSpeakers runs), and every
	// welcome says so.
	speakerDetection bool
	now              func() time.Time
	// revokeICE ends TURN credentials (ICESource.Revoke), nil without TURN.
	revokeICE func([]ICEServer)

	mu      sync.Mutex
	expires time.Time // the room's end, zero for a standing room: as its host last set it (setExpires)
	lob     *lobby.Lobby
	pwHash  string                        // argon2id hash of the password, "" for none
	conns   map[lobby.ID]*Session         // every attached session: waiting or member
	members map[lobby.ID]*ParticipantInfo // members that got their welcome
	joined  bool                          // someone has been a member at least once
	idle    time.Time                     // since when no session is attached
	ended   bool
	chatSeq uint64
	wrong   wrongPasswords // for the moderators (guesses.go)
	// resumable holds each member's resumption secret (as a hash) and, while its
	// connection is gone, its parking (parking.go). A member without a session in conns
	// is parked.
	resumable map[lobby.ID]*parking
	departed  departures // the members that left most recently (batch.go)
	// lobbyKeys are the moderators' lobby keys, shown to every knocker (lobbykey.go).
	lobbyKeys map[lobby.ID]LobbyKeyPayload
	// speakers is who speaks, as the members were last told (speakers.go).
	speakers sfu.Speakers
	// pwChanges bounds the moderators' new passwords, each an argon2id run on the
	// hasher every meeting shares (hashPassword).
	pwChanges tokenBucket
	// settingsRef is the id of the update_settings being applied and the moderator who
	// sent it, while its SettingsChanged is applied: that moderator's `settings` carries
	// it as its ref, the server's confirmation (a new password is saved only then).
	// changed are the fields it changed, which the moderators' copies name.
	settingsRef struct {
		to      lobby.ID
		ref     string
		changed []string
	}
	// settingsRev is the settings' revision and who last changed each field when
	// (settings.go): an update_settings based on an older revision is refused where it
	// would undo another moderator's change its sender had not seen.
	settingsRev settingsRevisions
	// pwTurn is the change of the password under way, from its check to its end, which
	// another change of the password waits for (settingsturn.go); nil for none.
	pwTurn *passwordTurn
	// present is what the waiting people were last told of moderatorPresent
	// (tellPresenceLocked).
	present bool
	// iceHeld are the TURN credentials each member's welcomes carried, revoked when it
	// is a member no more (revokeICELocked).
	iceHeld map[lobby.ID][]ICEServer
}

// holdICELocked keeps the TURN credentials of member id's welcome until it is gone.
func (m *Meeting) holdICELocked(id lobby.ID, ice []ICEServer) {
	if m.revokeICE == nil || len(ice) == 0 {
		return
	}
	if m.iceHeld == nil {
		m.iceHeld = make(map[lobby.ID][]ICEServer)
	}
	m.iceHeld[id] = append(m.iceHeld[id], ice...)
}

// revokeICELocked ends the TURN credentials handed to id, which is no longer a member:
// the relays they opened close, and they open none again (a relay otherwise outlived
// its member, refreshed for as long as its client liked).
func (m *Meeting) revokeICELocked(id lobby.ID) {
	if held := m.iceHeld[id]; held != nil {
		delete(m.iceHeld, id)
		m.revokeICE(held)
	}
}

func newParticipantID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "p-" + hex.EncodeToString(b[:])
}

// isEnded reports whether the meeting was ended (by a moderator or the server).
func (m *Meeting) isEnded() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ended
}

// roomExpired reports whether the room this meeting was made from has expired.
func (m *Meeting) roomExpired(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.expires.IsZero() && !now.Before(m.expires)
}

// setExpires takes the room's expiry as its host changed it (PATCH): brought forward,
// the room's links let nobody new in from then on, before the janitor's round too.
func (m *Meeting) setExpires(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expires = t
}

// endByServer ends the meeting for everyone in it, waiting or member (bye ended).
func (m *Meeting) endByServer() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applyLocked(m.lob.EndByServer())
	m.endLocked()
}

// passwordHash returns the current password hash ("" when there is none).
func (m *Meeting) passwordHash() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pwHash
}

// errPasswordChanged: the meeting's password changed while a join's was checked
// against the last one; the join's password is checked again.
var errPasswordChanged = &Error{Code: CodeWrongPassword, Message: "the password changed"}

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

// expired reports whether the meeting should end: nobody is connected to it, since
// emptyGrace when someone was ever let in (so a moderator who reloads the page finds it
// still there), since unusedTTL when nobody ever was (so the host has time to join it).
func (m *Meeting) expired(now time.Time, unusedTTL, emptyGrace time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.conns) > 0 {
		return false // its last session ends it, or the janitor once it has gone
	}
	if len(m.members) > 0 {
		return false // parked members may still come back (parking.go)
	}
	ttl := unusedTTL
	if m.joined {
		ttl = emptyGrace
	}
	return m.ended || now.Sub(m.idle) > ttl
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
		return false
	}
	others := make([]ParticipantInfo, 0, len(m.members))
	for _, info := range m.members {
		others = append(others, *info)
	}
	m.clampMediaLocked(s)
	info := &ParticipantInfo{ID: s.id, Name: s.name, Role: string(role), Media: s.media}
	m.members[id] = info
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

// holdsAdmission reports whether s, a knock the policy let in, still holds its
// admission: nobody ejected it or took its place, and the meeting goes on.
func (m *Meeting) holdsAdmission(s *Session) bool {
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

// allowPasswordChange takes one of the meeting's password changes (pwChanges).
func (m *Meeting) allowPasswordChange() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pwChanges.allow(m.now())
}

// role returns id's role and whether it is a member.
func (m *Meeting) role(id string) (lobby.Role, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lob.Role(lobby.ID(id))
}

// settings returns the current settings.
func (m *Meeting) settings() lobby.Settings {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lob.Settings()
}

// can reports whether member id may do what p governs.
func (m *Meeting) can(id string, p lobby.Permission) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lob.Can(lobby.ID(id), p)
}

// tick expires old knocks.
func (m *Meeting) tick(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applyLocked(m.lob.Tick(now))
	m.reportWrongLocked()
}

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
// meeting: nil while the member is parked, and while a resume has claimed its
// membership and not yet been welcomed (parking.claimed). Nothing reaches a connection
// before its welcome: the welcome carries the meeting as it is then (settings, roster,
// role), and what it does not carry (the waiting list, hands, who speaks, wrong
// passwords, moderators' commands) is sent right after it (completeResume).
func (m *Meeting) hearsLocked(id lobby.ID) *Session {
	if rec := m.resumable[id]; rec != nil && rec.claimed {
		return nil
	}
	return m.conns[id]
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
			if _, ok := m.members[e.ID]; ok {
				delete(m.members, e.ID)
				m.departed.add(string(e.ID))
				m.broadcastLocked("", encode(TypeParticipantLeft, "", ParticipantLeftPayload{ParticipantID: string(e.ID)}))
			}
			if s != nil {
				s.deliver(event{kind: evEjected, reason: string(e.Reason)})
			}
		case lobby.WaitingList:
			for _, id := range e.To {
				if _, ok := m.members[id]; ok {
					// Each moderator gets only the names sealed to it.
					m.hearsLocked(id).sendSnapshot(m.waitingListMessageLocked(e.Waiting, id), snapshotWaitingList)
				}
			}
		case lobby.RoleChanged:
			if e.Role != lobby.RoleModerator {
				m.dropLobbyKeyLocked(e.ID)
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
}

// moderatorHereLocked reports whether a moderator can let someone in now: one with a
// connection that got its welcome. A moderator whose connection dropped stays one while
// it may resume (resume.go), but lets nobody in meanwhile, nor while its resume waits
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
