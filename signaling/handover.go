package signaling

import (
	"slices"

	"conclave/lobby"
	"conclave/sfu"
)

// Handing a membership to a new connection: a resume's (resume.go) or a knock's page
// taking over the membership it was let in to (takeover.go). The claim is checked
// under the meeting's lock; the new connection then waits for the last one to let go
// of the member's media, takes what it carried, and is welcomed.

// takeLocked gives member id's membership to s, whose claim the caller checked: the
// member's secrets are spent (completeHandover issues the next), its grace timer
// stops, and a connection the server still had is told that it was replaced. It
// returns the member's last connection, whose end s waits for before it sets up media
// under the same id; s keeps it (tookFrom), so that a connection that takes the
// membership from s in turn waits for it too when s goes first.
func (m *Meeting) takeLocked(s *Session, id lobby.ID, rec *parking) (prev *Session) {
	rec.hash, rec.prev = "", ""          // spent, both; completeHandover issues the next one
	rec.claimed, rec.claiming = true, "" // claim sets claiming for a resume
	if rec.stop != nil {
		rec.stop()
		rec.stop = nil
	}
	prev = rec.last
	// That connection may itself be waiting for the one before it to let go of the
	// media (the page knocked again twice before a welcome); should it go first, its
	// done closed at once, having held nothing, and s set up its media while the one
	// before still held the id's: refused, and the member left the meeting with it.
	s.tookFrom = prev
	if live := m.conns[id]; live != nil && live != s {
		live.deliver(event{kind: evReplaced})
	}
	m.conns[id] = s
	rec.last = s
	// The key of the connection taken over (one still live: a takeover, or a resume
	// before the drop was noticed) belongs to a session that is gone (park).
	if m.dropLobbyKeyLocked(id) {
		rec.keyWithdrawn = true
	}
	// Nothing reaches s before its welcome (hearsLocked), and a moderator lets nobody in
	// until then: the waiting people are told it is back only with its welcome
	// (completeHandover), and that none is here when this takes over a live connection.
	m.tellPresenceLocked()
	return prev
}

// completeHandover makes s the member again, on the connection its membership was
// handed to (a resume, or a knock's takeover): a welcome (resumed, with a new secret
// and the member's own wire name) to s, participant_resumed to everyone else; it
// returns the moderator commands that arrived while it was away, for s to apply. False
// when it lost the membership in the meantime. claimed is the keyed hash of the secret
// the resume claimed with: good again until s sends its first message (parking.prev).
// resumed is false for a page that took over the membership its knock was let in to
// (takeover.go): to that page it is its first welcome.
func (m *Meeting) completeHandover(s *Session, ice []ICEServer, claimed string, resumed bool) ([]parkedCommand, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := lobby.ID(s.id)
	role, ok := m.lob.Role(id)
	info := m.members[id]
	rec := m.resumable[id]
	if !ok || m.conns[id] != s || info == nil || rec == nil {
		m.discardICELocked(ice)
		return nil, false
	}
	info.Reconnecting = false
	m.clampMediaLocked(s)
	info.Media = s.media
	info.Role = string(role)
	others := m.membersInJoinOrderLocked(id)
	commands := rec.commands
	rec.commands = nil
	if m.e2ee {
		s.widenReadLimit()
	}
	sec := m.issueResumeLocked(id, s)
	m.resumable[id].prev = claimed
	// The TURN credentials of the connections before this one end: their media went with
	// them (claim waited for the last to let go). Kept, each resume added a welcome's
	// relays, refreshed for as long as the member stayed.
	m.revokeICELocked(id)
	m.holdICELocked(id, ice)
	welcome := m.welcomeLocked(s, role, others, ice, sec)
	welcome.Resumed = resumed
	welcome.Name = resumedName(resumed, info.Name)
	welcome.PasswordRev = m.missedPasswordLocked(id, role, resumed)
	s.send(encode(TypeWelcome, s.joinRef, welcome))
	m.broadcastLocked(id, encode(TypeParticipantResumed, "", ParticipantResumedPayload{Participant: *info}))
	m.afterWelcomeLocked(s, role) // the queue of hands may have changed while it was away
	m.tellPresenceLocked()        // a moderator back may let people in again
	return commands, true
}

// memberClaim is a membership this connection claimed and has not yet completed
// (takeMembership): by a resume (Meeting.claim), with the keyed hash of the secret it
// came with, or by the page of the knock the membership was let in from (claimByKnock:
// knock, no hash); from is the connection it waits to take over from (nil once it has).
type memberClaim struct {
	hash  string
	from  *Session
	knock bool // claimed with the secret of the knock the membership came from (takeover.go)
}

// takeMembership makes s member pid of m, whose membership s claimed (claim: a resume;
// claimByKnock: a knock's page taking over the membership it was let in to): it waits
// for the member's last connection (c.from) to let go of the member's media, sets up
// its own, and is welcomed. ref is the id of the message that claimed, media what it
// said it sends (nil: what the last connection sent).
func (s *Session) takeMembership(m *Meeting, pid, ref string, media *MediaState, c memberClaim) {
	prev := c.from
	s.meeting, s.id, s.joinRef = m, pid, ref
	s.member = true // from here a drop parks the membership again
	// Until its welcome (with the next secret) is out, a drop gives the membership back
	// to the secret this connection came with (park).
	s.claimed = c
	s.knocked.Store(true)
	// The last connection lets go of the member's media before this one takes it.
	if prev != nil {
		if !s.awaitLetGo(m, prev) {
			return
		}
		s.name, s.media = prev.name, prev.media
		s.askedUnmute, s.askedCamera = prev.askedUnmute, prev.askedCamera
		s.carry = prev.carry
		s.takeLimits(prev)
		s.claimed.from = nil // this connection holds what prev held
	}
	if !m.stillHolds(s) {
		// That event follows (replaced, removed, the meeting's end). No media is set up
		// first: a connection that took the membership from this one meanwhile waits
		// for this one to let go, and a meeting that ended meanwhile may have closed its
		// media, so its page was told of a server error instead of the end.
		return
	}
	if media != nil {
		s.media = *media
	}
	remute := s.holdCarriedMutes(m)
	peer, jerr := m.room.Join(s.id)
	if jerr != nil {
		s.log.Warn("session: media join on resume failed", "err", jerr)
		s.refuse(s.joinRef, errorf(CodeInternal, "could not set up media"))
		s.finish("", nil, CloseGoingAway, "internal error")
		return
	}
	s.peer = peer
	for i, src := range carriedSources {
		if s.carry.blocked[i] {
			peer.Block(src, true)
		}
	}
	parked, ok := m.completeHandover(s, s.srv.iceServers(s.addr), c.hash, !c.knock)
	s.claimed = memberClaim{} // the welcome carries the next secret (and parking.prev this one)
	s.unconfirmed = true      // its first message confirms the welcome (confirmWelcome)
	if !ok {
		s.dropPeer() // removed in the meantime; that event follows
		return
	}
	// A stop that still holds, told again (a reload forgets it), then the moderator's
	// commands that came while the member was away, in the order they came (the last
	// holds: an ask to unmute after the mute lifts it): applied here, before the
	// member's next message is read. Queued as events, a mute could come after the
	// client's media_state, which then unmuted past it unrefused.
	for _, cmd := range remute {
		// A command of the same kind sent while it was away says it with who and why
		// (a client tells a command it already knows of once: the unlabelled one
		// first, the other's "everyone was muted" would not show).
		if !slices.ContainsFunc(parked, func(pc parkedCommand) bool { return pc.command == cmd }) {
			s.handleEvent(event{kind: evMedia, command: cmd})
		}
	}
	for _, pc := range parked {
		s.handleEvent(event{kind: evMedia, command: pc.command, by: pc.by, all: pc.all})
	}
	s.state = stateJoined
	// So are the events that came for the member since this connection claimed it (its
	// moderators' commands meanwhile were kept with the parking, and are in parked).
drain:
	for s.state != stateClosed {
		select {
		case ev := <-s.events:
			s.handleEvent(*ev)
		default:
			break drain
		}
	}
	s.log.Debug("session: resumed", "participant", s.id)
}

// takeLimits carries prev's rate limits over to s, the connection that resumed its
// membership: started full, a resume on a new connection (one every few
// milliseconds, the old one simply replaced) would have given a member a fresh burst
// of chat, key messages, reactions and offers each time, and so no limit at all.
// prev's goroutines are done (resume waits for prev.done).
func (s *Session) takeLimits(prev *Session) {
	s.fanout, s.keys, s.reactions = prev.fanout, prev.keys, prev.reactions
	s.lobbyKeys, s.views, s.pings = prev.lobbyKeys, prev.views, prev.pings
	s.neg.offers, s.neg.ice = prev.neg.offers, prev.neg.ice
}

// holdCarriedMutes keeps a moderator's mute over a resume. A stop the member may lift
// (the settings, its role, or an ask_unmute) is lifted when the resume's media says that
// source is on, as a media_state would; otherwise the source is recorded as off and the
// commands returned are sent again once the member is back, so that a reloaded page,
// which forgot the mute, shows it (and does not offer an unmute the server refuses).
func (s *Session) holdCarriedMutes(m *Meeting) []lobby.Command {
	may := m.can(s.id, lobby.PermUnmute)
	var remute []lobby.Command
	switch mic := &s.carry.blocked[0]; { // carriedSources[0]: the microphone
	case *mic && !may && !s.askedUnmute:
		s.media.Mic = false
		remute = append(remute, lobby.CommandMuteMic)
	case *mic && s.media.Mic:
		*mic, s.askedUnmute = false, false
	}
	switch cam := &s.carry.blocked[1]; { // carriedSources[1]: the camera
	case *cam && !may && !s.askedCamera:
		s.media.Camera = false
		remute = append(remute, lobby.CommandMuteCamera)
	case *cam && s.media.Camera:
		*cam, s.askedCamera = false, false
	}
	// A stopped screen share is lifted as a media_state lifts it: by saying it is on,
	// with the permission to share; otherwise it stays stopped and is shown so (a
	// resume's media must not show a share the server does not forward).
	if scr := &s.carry.blocked[2]; *scr && s.media.Screen { // carriedSources[2]: the screen
		if m.can(s.id, lobby.PermShareScreen) {
			*scr = false
		} else {
			s.media.Screen = false
		}
	}
	return remute
}

// carriedSources are the sources whose moderator blocks a resume keeps.
var carriedSources = [3]sfu.Source{sfu.SourceMicrophone, sfu.SourceCamera, sfu.SourceScreen}

// carried is what a member's media had from moderators, handed from one connection to
// the next on a resume (a reconnect must not lift a mute).
type carried struct {
	blocked [3]bool
}

// awaitLetGo waits until prev, the connection s took the admission or the membership
// from (s.tookFrom), has let go of the member's media; false when s ended first. The
// wait over, s forgets prev (waitedFor).
func (s *Session) awaitLetGo(m *Meeting, prev *Session) bool {
	select {
	case <-prev.done:
	case <-s.closing:
		return false
	case <-s.readDone:
		return false
	case <-s.shutdown:
		return false
	}
	m.waitedFor(s)
	return true
}

// waitedFor: s's wait for the connection it took the admission or the membership from
// is over, and so for every one before it (each one's done closes after theirs): s
// forgets it. Kept, a member that resumed on one connection after another held all of
// them, their closed media included, for as long as it stayed.
func (m *Meeting) waitedFor(s *Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.tookFrom = nil
}
