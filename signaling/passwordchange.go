package signaling

import (
	"context"

	"conclave/secret"
)

// A connection's change of the meeting's password, carried out without holding up the
// session's goroutine. An update_settings that names the password waits for the
// meeting's password turn (settingsturn.go) and then for its hash; both ends come back
// to run as events do (the turn's end, the hash's result), so that meanwhile the
// connection's messages are read and handled (a ping answered, a chat sent, a switch
// changed) and what others do to its member is carried out at once (a removal, a mute,
// the meeting's end). It waited on that goroutine, events taken but no message read, as
// long as the hasher's line made it.
//
// A connection has one password change under way at most: a second update_settings
// naming the password before the first is answered is refused (change_pending:
// updateSettings), and changes nothing, not even a token of the connection's limit of
// messages; the web client sends the next only after the answer. Queued, it
// would be checked on settings the sender has not seen yet. It was refused as
// rate_limited, which it is not: the meeting's budget of passwords may be untouched.
//
// The change ends where it is applied or refused, when its sender is made a moderator
// no more (evPermissions; also when it was made one again before this connection took
// the event: settingsturn.go), or with the connection: its hash given up if still in
// line, and its turn given back (once that hash's goroutine has reported, so that a
// place of the budget given up is back first: endPasswordChange). A resume that
// replaces the connection meanwhile waits for the change to be carried out (its welcome
// brings the settings it made), but the media is the resume's at once: the old
// connection lets go of it then (releaseMedia), reads no more of its messages (its page
// speaks on the new one) and is told it was replaced once the change is over
// (replacedLater). No event reaches it then; the meeting gives up its hash when it
// would be refused (givePasswordUpLocked), and refuses it where it is applied.

// passwordChange is the update_settings naming the password under way on a connection.
type passwordChange struct {
	ref     string // the message's id, the ref of its answer
	p       UpdateSettingsPayload
	term    uint64          // its sender's term as a moderator when it began (moderatorTerm)
	turnEnd <-chan struct{} // the end of another's turn it waits for; nil otherwise
	turn    *passwordTurn   // the meeting's password turn, once it holds it
	hashed  chan hashResult // its hash's result, while one is asked for
	cancel  context.CancelFunc
}

// hashResult is what a hash of a new password came to; givenUp: it was given up in the
// hasher's line and ran nothing.
type hashResult struct {
	hash    string
	err     error
	givenUp bool
}

// changePassword begins the change of the password p, sent as message ref by its
// sender in its term as a moderator term, on a connection that has none under way
// (updateSettings refused it change_pending otherwise).
func (s *Session) changePassword(ref string, p UpdateSettingsPayload, term uint64) *Error {
	s.pwChange = &passwordChange{ref: ref, p: p, term: term}
	return s.passwordFailed(s.nextPasswordStep())
}

// nextPasswordStep takes the meeting's password turn, or waits for it, and then asks for
// the new password's hash (a removal needs none and is applied at once).
func (s *Session) nextPasswordStep() *Error {
	c := s.pwChange
	if c.turn == nil {
		wait, turn, err := s.meeting.takePasswordTurn(s.id, c.term, c.p)
		switch {
		case err != nil:
			return settingsError(err)
		case wait != nil:
			c.turnEnd = wait
			return nil
		}
		c.turn, c.turnEnd = turn, nil
	}
	if *c.p.Password == "" {
		return s.applyPassword("")
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.meeting.startPasswordHash(c.turn, cancel); err != nil {
		cancel()
		return settingsError(err)
	}
	c.cancel = cancel
	c.hashed = make(chan hashResult, 1) // the hash's goroutine never waits for run
	go hashNewPassword(ctx, s.srv.hasher, s.meeting, *c.p.Password, c.hashed)
	return nil
}

// hashNewPassword hashes pw for meeting m on the hasher every meeting shares, in its fair
// line, and sends the result to out. It touches nothing of the session. A hash given up
// in line (ctx ended: its change or its connection did) gives back its place of the
// meeting's password budget; one begun runs out, its result unread.
func hashNewPassword(ctx context.Context, h *secret.Hasher, m *Meeting, pw string, out chan<- hashResult) {
	hash, err := h.Hash(ctx, pw)
	givenUp := err != nil && ctx.Err() != nil
	if givenUp {
		m.returnPasswordChange()
	}
	out <- hashResult{hash: hash, err: err, givenUp: givenUp}
}

// passwordHashed takes the result of the change's hash.
func (s *Session) passwordHashed(r hashResult) *Error {
	c := s.pwChange
	c.cancel()
	c.hashed, c.cancel = nil, nil
	switch {
	case r.givenUp:
		// The meeting gave it up (givePasswordUpLocked): checked again, the change is
		// refused (its sender demoted is refused made a moderator again too), or hashed
		// anew where a switch's clash is gone again.
		return s.nextPasswordStep()
	case r.err != nil:
		return errorf(CodeInternal, "could not store the password")
	}
	return s.applyPassword(r.hash)
}

// applyPassword applies the change with its new password's hash ("" clears it), which
// ends it.
func (s *Session) applyPassword(hash string) *Error {
	c := s.pwChange
	err := s.meeting.updateSettings(s.id, c.ref, c.p, &newPassword{hash: hash, term: c.term})
	s.endPasswordChange()
	return settingsError(err)
}

// passwordFailed ends the change under way when e refuses it, and returns what its
// sender is told (nothing when its connection is going).
func (s *Session) passwordFailed(e *Error) *Error {
	if e != nil && s.pwChange != nil {
		s.endPasswordChange()
	}
	return goneIsNil(e)
}

// passwordGoesOn runs step, the change's next step after an event of its own (the
// turn's end, the hash's result), and tells its sender of a refusal. The refusal is an
// answer to a message handled earlier, not counted in the run of refused messages.
func (s *Session) passwordGoesOn(step func() *Error) {
	ref := s.pwChange.ref
	if e := s.passwordFailed(step()); e != nil {
		s.send(encode(TypeError, ref, e.payload()))
	}
}

// passwordRoleLost refuses the change under way when an event carried out made its
// sender a moderator no more (evPermissions): at once, not when its turn or its hash
// came, and its hash is given up if still in line. Made one again before this
// connection took the event, the sender is in another term (inTerm): the change is
// refused all the same, as it is where the meeting checks it.
func (s *Session) passwordRoleLost() {
	if s.pwChange == nil || s.state == stateClosed {
		return
	}
	if !s.meeting.inTerm(s.id, s.pwChange.term) {
		s.passwordGoesOn(func() *Error { return errorf(CodeNotAllowed, "only moderators may do that") })
	}
}

// endPasswordChange ends the change under way: its hash given up if still in line, its
// turn given back. While its hash's goroutine has yet to say whether the hash ran, the
// turn goes back once it has: a hash given up in line gives its place of the budget
// back there (hashNewPassword), and the change that takes the turn next must find it
// back. Given back at once, that change raced the place's return and was refused
// (rate_limited, "too many password changes") when it lost.
func (s *Session) endPasswordChange() {
	c := s.pwChange
	s.pwChange = nil
	if c.cancel != nil {
		c.cancel()
	}
	switch {
	case c.turn == nil:
	case c.hashed != nil:
		// Bounded by the hash: given up in line it ends at once, begun it runs out.
		go func(m *Meeting, turn *passwordTurn, hashed <-chan hashResult) {
			<-hashed
			m.givePasswordTurnBack(turn)
		}(s.meeting, c.turn, c.hashed)
	default:
		s.meeting.givePasswordTurnBack(c.turn)
	}
}

// passwordEvents are the channels of the change under way that run waits on (nil
// channels, never ready, for none).
func (s *Session) passwordEvents() (turnEnd <-chan struct{}, hashed <-chan hashResult) {
	if c := s.pwChange; c != nil {
		return c.turnEnd, c.hashed
	}
	return nil, nil
}

// takeEvent carries out ev, the meeting's word to the session. A hand-over to a resume
// (evReplaced) while a password change is under way waits for the change (see above).
func (s *Session) takeEvent(ev *event) {
	if ev.kind == evReplaced && s.pwChange != nil {
		s.replacedLater = ev
		s.releaseMedia()
		return
	}
	s.handleEvent(*ev)
	if ev.kind == evPermissions {
		s.passwordRoleLost()
	}
}

// replacedNow tells the connection, once its password change is over, of the resume
// that replaced it meanwhile (replacedLater).
func (s *Session) replacedNow() {
	if ev := s.replacedLater; ev != nil && s.pwChange == nil && s.state != stateClosed {
		s.replacedLater = nil
		s.handleEvent(*ev)
	}
}
