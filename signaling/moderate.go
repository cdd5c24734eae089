package signaling

import (
	"errors"
	"unicode/utf8"

	"conclave/lobby"
	"conclave/sfu"
)

// maxSecretChars bounds passwords and secrets in messages.
const maxSecretChars = 256

// moderate handles the moderator messages. The policy (lobby) checks the sender's role;
// this only decodes and maps errors.
func (s *Session) moderate(env Envelope) *Error {
	p, err := decodePayload[TargetPayload](env)
	if err != nil {
		return err
	}
	target := lobby.ID(p.ParticipantID)
	var a lobby.Action
	switch env.Type {
	case TypeAdmit:
		a = lobby.AdmitOne{Target: target}
	case TypeDeny:
		a = lobby.DenyOne{Target: target}
	case TypeAdmitAll:
		all := lobby.AdmitAll{}
		if p.ParticipantIDs != nil {
			only, err := chosenKnocks(p.ParticipantIDs, s.srv.maxWaiting)
			if err != nil {
				return err
			}
			all.Only = only
		}
		a = all
	case TypeDenyAll:
		// Only the knocks named: denying "everyone waiting" would deny the knocks that
		// came after the list its moderator saw, people nobody decided about.
		if p.ParticipantIDs == nil {
			return errorf(CodeInvalidField, "deny_all needs participantIds: the knocks to deny")
		}
		targets, err := chosenKnocks(p.ParticipantIDs, s.srv.maxWaiting)
		if err != nil {
			return err
		}
		a = lobby.DenyAll{Targets: targets}
	case TypeSendToLobby:
		a = lobby.SendToLobby{Target: target}
	case TypeRemove:
		a = lobby.Remove{Target: target}
	case TypeSetRole:
		if !lobby.Role(p.Role).Valid() {
			return errorf(CodeInvalidField, "unknown role")
		}
		a = lobby.SetRole{Target: target, Role: lobby.Role(p.Role)}
	case TypeMute:
		switch p.Source {
		case "microphone":
			a = lobby.Media{Target: target, Command: lobby.CommandMuteMic}
		case "camera":
			a = lobby.Media{Target: target, Command: lobby.CommandMuteCamera}
		default:
			return errorf(CodeInvalidField, `source must be "microphone" or "camera"`)
		}
	case TypeAskUnmute:
		a = lobby.Media{Target: target, Command: lobby.CommandAskUnmute}
	case TypeStopScreenShare:
		a = lobby.Media{Target: target, Command: lobby.CommandStopScreen}
	case TypeEndMeeting:
		a = lobby.End{}
	case TypeLowerHand:
		a = lobby.LowerHand{Target: target}
	case TypeLowerAllHands:
		a = lobby.LowerAllHands{}
	case TypeMuteAll:
		switch p.Source {
		case "microphone":
			a = lobby.MediaAll{Command: lobby.CommandMuteMic}
		case "camera":
			a = lobby.MediaAll{Command: lobby.CommandMuteCamera}
		default:
			return errorf(CodeInvalidField, `source must be "microphone" or "camera"`)
		}
	case TypeUpdateSettings:
		return s.updateSettings(env)
	default:
		return errorf(CodeUnknownType, "unknown message type")
	}
	if err := policyError(s.meeting.act(s.id, a)); err != nil {
		return err
	}
	// The moderator's confirmation, after what the action sent it (a roster change): its
	// page says "Muted Ann" only now. Nothing else answers a mute, an ask_unmute or a
	// role the member had already, and a refusal is an error with the same ref.
	// end_meeting's answer is the goodbye; update_settings' its `settings` (ref).
	if env.ID != "" && env.Type != TypeEndMeeting {
		s.send(encode(TypeDone, env.ID, nil))
	}
	return nil
}

// chosenKnocks is the participantIds of an admit_all or a deny_all: every entry must be
// an id, and there may be no more of them than the waiting room holds (max), or the
// message is refused whole and changes nothing. A page names the knocks of one waiting
// list, which never has more. The bound keeps the work under the meeting's lock small:
// each id that is not waiting is looked for among the meeting's connections
// (knockNowLocked), so a list of thousands of short ids would cost thousands of scans.
func chosenKnocks(ids []string, max int) ([]lobby.ID, *Error) {
	if len(ids) > max {
		return nil, errorf(CodeInvalidField, "participantIds names more knocks than the waiting room holds")
	}
	out := make([]lobby.ID, 0, len(ids))
	for _, id := range ids {
		if !validID(id) {
			return nil, errorf(CodeInvalidField, "participantIds must be participant ids")
		}
		out = append(out, lobby.ID(id))
	}
	return out, nil
}

func policyError(err error) *Error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, lobby.ErrNotModerator):
		return errorf(CodeNotAllowed, "only moderators may do that")
	case errors.Is(err, lobby.ErrUnknownTarget):
		return errorf(CodeUnknownParticipant, "nobody with that id is in the meeting or the waiting room")
	case errors.Is(err, lobby.ErrEnded):
		return errorf(CodeNotAllowed, "the meeting has ended")
	case errors.Is(err, lobby.ErrFull):
		// Told to the moderator, whose connection stays open (unlike a knock's).
		e := errorf(CodeMeetingFull, "the meeting has reached its participant limit")
		e.Close = 0
		return e
	}
	return errorf(CodeInvalidField, "%v", err)
}

func (s *Session) updateSettings(env Envelope) *Error {
	p, err := decodePayload[UpdateSettingsPayload](env)
	if err != nil {
		return err
	}
	// Check the role before spending a hash on the password; a change of the password
	// is bound to the term it was sent in (settingsturn.go).
	term, moderator := s.meeting.moderatorTerm(s.id)
	if !moderator {
		return errorf(CodeNotAllowed, "only moderators may do that")
	}
	// Bad input is told as such, whatever the revision it names; and a connection has
	// one change of the password under way at most (passwordchange.go). Both are
	// refused before the limit below takes a token: neither sends anything to anyone,
	// and no slower pace would have spared the sender them. A client refused
	// change_pending had spent a token of a limit it had not reached.
	if p.Password != nil && passwordTooLong(*p.Password) {
		return errorf(CodeInvalidField, "password too long")
	}
	if p.Password != nil && s.pwChange != nil {
		return errorf(CodeChangePending, "a password change of this connection is still under way; send the next once it is answered")
	}
	// New settings go to every member, as a chat text does: the same limit.
	if !s.fanout.allow(s.srv.now()) {
		return errorf(CodeRateLimited, "too many messages; slow down")
	}
	if p.Password != nil {
		// One change of the password at a time, checked before its hash is made: a
		// stale one spends no hash (settingsturn.go). It goes on as the turn and its
		// hash come, the session's messages and events taken meanwhile
		// (passwordchange.go); updateSettings checks every change, this one again,
		// under the lock where it is applied.
		return s.changePassword(env.ID, p, term)
	}
	return settingsError(s.meeting.updateSettings(s.id, env.ID, p, nil))
}

// A meeting's moderators may set a new password passwordChangeBurst times at once,
// and then passwordChangeRate times a second.
const (
	passwordChangeRate  = 0.1
	passwordChangeBurst = 3
)

// maxPasswordChars bounds a meeting password, in characters (Unicode code points), as
// the pages' fields do: in bytes, a German passphrase of 100 letters with umlauts was
// refused though the field took it.
const maxPasswordChars = 128

// passwordTooLong reports whether a meeting password is longer than maxPasswordChars.
func passwordTooLong(p string) bool {
	return len(p) > maxPasswordChars && utf8.RuneCountInString(p) > maxPasswordChars
}

// mediaState records what the member sends; unmuting after a moderator's mute is
// checked here, and is where the server lifts its own block. A moderator's mute of the
// microphone or the camera is lifted only under the same rule: the unmute setting, a
// presenter or moderator role, or a moderator's ask_unmute since that mute. A refused
// media_state changes nothing.
func (s *Session) mediaState(env Envelope) *Error {
	p, err := decodePayload[MediaState](env)
	if err != nil {
		return err
	}
	if !s.fanout.allow(s.srv.now()) {
		return errorf(CodeRateLimited, "too many messages; slow down")
	}
	liftMic := p.Mic && s.peer.Blocked(sfu.SourceMicrophone)
	liftCamera := p.Camera && s.peer.Blocked(sfu.SourceCamera)
	mayUnmute := s.meeting.can(s.id, lobby.PermUnmute)
	if liftMic && !s.askedUnmute && !mayUnmute {
		return errorf(CodeNotAllowed, "a moderator muted you; you can unmute when asked")
	}
	if liftCamera && !s.askedCamera && !mayUnmute {
		return errorf(CodeNotAllowed, "a moderator turned your camera off; you can turn it on when asked")
	}
	if p.Screen && !s.meeting.can(s.id, lobby.PermShareScreen) {
		return errorf(CodeNotAllowed, "you may not share your screen in this meeting")
	}
	if liftMic {
		s.peer.Block(sfu.SourceMicrophone, false)
		s.askedUnmute = false
	}
	if liftCamera {
		s.peer.Block(sfu.SourceCamera, false)
		s.askedCamera = false
	}
	if p.Screen {
		s.peer.Block(sfu.SourceScreen, false)
	}
	// Unchanged (the answer to a moderator's command the server has already told
	// everyone of, clearMedia): nobody needs telling again.
	changed := p != s.media
	s.media = p
	if changed {
		s.meeting.setMedia(s.id, p)
	}
	return nil
}

// clearMedia records that src no longer goes out because the server stopped it (a
// moderator's command, a permission lost) and, if the roster said it did, tells
// everyone: a client that ignores the command would otherwise be shown sending what
// nobody receives.
func (s *Session) clearMedia(src sfu.Source) {
	m := s.media
	switch src {
	case sfu.SourceMicrophone:
		m.Mic = false
	case sfu.SourceCamera:
		m.Camera = false
	case sfu.SourceScreen:
		m.Screen = false
	}
	if m == s.media {
		return
	}
	s.media = m
	s.meeting.setMedia(s.id, m)
}

// dropPeer closes the media of a session that lost its membership before its welcome
// (completeJoin, completeHandover): no subscribe offer, with every publisher's id and
// track, can go out to it before it handles that event.
func (s *Session) dropPeer() {
	if s.peer != nil {
		s.peer.Close()
		s.peer = nil
	}
}

// enterMeeting makes s, a knock the policy let in, a member: its media, then its
// welcome. False when it lost the admission in the meantime (ejected, the meeting
// ended, or its page's knock again took it: claimByKnock), or its media could not be
// set up.
func (s *Session) enterMeeting() bool {
	if !s.meeting.stillHolds(s) {
		// That event follows. No media is set up first: a knock again that took the
		// admission waited for the old connection to let go, and a meeting that ended
		// meanwhile has closed its media, so its page was told of a server error
		// instead of the end.
		return false
	}
	peer, err := s.meeting.room.Join(s.id)
	if err != nil {
		s.log.Warn("session: media join failed", "err", err)
		s.refuse(s.joinRef, errorf(CodeInternal, "could not set up media"))
		s.finish("", nil, CloseGoingAway, "internal error")
		return false
	}
	s.peer = peer
	if !s.meeting.completeJoin(s, s.srv.iceServers(s.addr)) {
		// Ejected or taken over in the meantime; that event follows. The media goes
		// now: kept, its subscribe offer (every publisher's id and track) could go out
		// first.
		s.dropPeer()
		return false
	}
	s.state = stateJoined
	s.unconfirmed = true // its first message confirms the welcome (confirmWelcome)
	return true
}

// handleEvent carries out what the meeting's policy decided for this session.
func (s *Session) handleEvent(ev event) {
	switch ev.kind {
	case evAdmitted:
		if s.state == stateLobby && s.enterMeeting() {
			s.log.Debug("session: joined", "participant", s.id, "role", ev.role)
		}
	case evRefused:
		code := CloseRefused
		if ev.reason == string(lobby.ReasonEnded) || ev.reason == string(lobby.ReasonReplaced) {
			code = CloseEjected // as a member's: the meeting's end, or a new connection took over
		}
		s.finish(TypeBye, ByePayload{Reason: ev.reason}, code, ev.reason)
	case evEjected:
		if s.peer != nil {
			// Stop the media at once, before the goodbye is even written.
			for _, src := range []sfu.Source{sfu.SourceMicrophone, sfu.SourceCamera, sfu.SourceScreen} {
				s.peer.Block(src, true)
			}
		}
		s.finish(TypeBye, ByePayload{Reason: ev.reason}, CloseEjected, ev.reason)
	case evReplaced:
		// A resume on a new connection has the membership now; this one only goes.
		s.finish(TypeBye, ByePayload{Reason: "replaced"}, CloseEjected, "replaced")
	case evPermissions:
		s.permsDue.Store(false) // a change from here on asks again
		// Whatever the member says it sends: a screen track without the permission stops.
		if s.peer != nil && !s.meeting.can(s.id, lobby.PermShareScreen) {
			s.peer.Block(sfu.SourceScreen, true)
			if s.media.Screen {
				s.send(encode(TypeMediaCommand, "", MediaCommandPayload{Command: string(lobby.CommandStopScreen)}))
				s.clearMedia(sfu.SourceScreen)
			}
		}
	case evOfferTimeout:
		s.offerTimedOut(ev.gen)
	case evMedia:
		if s.peer == nil {
			return
		}
		var stopped sfu.Source
		switch ev.command {
		case lobby.CommandMuteMic:
			s.peer.Block(sfu.SourceMicrophone, true)
			s.askedUnmute = false
			stopped = sfu.SourceMicrophone
		case lobby.CommandMuteCamera:
			s.peer.Block(sfu.SourceCamera, true)
			s.askedCamera = false
			stopped = sfu.SourceCamera
		case lobby.CommandStopScreen:
			s.peer.Block(sfu.SourceScreen, true)
			stopped = sfu.SourceScreen
		case lobby.CommandAskUnmute:
			s.askedUnmute, s.askedCamera = true, true
		}
		s.send(encode(TypeMediaCommand, "", MediaCommandPayload{Command: string(ev.command), By: ev.by, All: ev.all}))
		if stopped != "" {
			s.clearMedia(stopped)
		}
	}
}
