package signaling

import (
	"context"

	"conclave/lobby"
)

// One change of a meeting's password at a time. A new password is checked against the
// settings (staleLocked) and then hashed, an argon2id run on the hasher every meeting
// shares, before it is applied: two moderators who set one on the same settings both
// passed the check, both were hashed, and the later was refused only where it was to be
// applied (another moderator's had landed meanwhile), its costly hash spent for
// nothing. A removal that came while a new password was hashed was applied first and
// left that hash to be refused in the same way.
//
// So the change of the password under way holds the meeting's password turn, from its
// check until it is applied or refused, whatever becomes of it (refused, its hash
// failed, its sender removed or made a participant, its connection gone): another
// update_settings that names the password waits for it and is checked only then, when
// a password that landed meanwhile refuses it before any hash of its own. The wait is
// for the holder's hash (which waits in the same fair line of the hasher its own
// would), and for another's after it only where the holder's did not land (one that
// lands makes every change based on an earlier revision stale); it is bounded by the
// holders' connections and the meeting's password budget, and ends when the waiter's
// connection, membership or role as a moderator does. Changes that do not name the
// password never wait: a switch costs no hash.
//
// The session's goroutine is the one that waits, for the turn and then for its own
// hash, but it carries out the session's events meanwhile (awaitTakingEvents): a
// removal, a mute or the meeting's end is not held back behind a hash, and a change
// whose sender is made a participant meanwhile is refused then, its hash given up if
// still in line. A resume that replaces the connection meanwhile waits for the change
// to be carried out (its welcome brings the settings it made), but the media is the
// resume's at once: the old connection lets go of it then (releaseMedia) and is told
// it was replaced after the change (replacedLater). Its messages wait (a ping is
// answered after), as behind any message it handles.

// passwordTurn is the password change under way.
type passwordTurn struct {
	done    chan struct{} // closed when the turn is given back
	waiters int           // the changes that wait for it (a test's hook)
}

// takePasswordTurn checks p and takes the meeting's password turn for it (giveBack ends
// it), or, while another change of the password holds the turn, returns that turn's
// end to wait for (then ask again). err is staleLocked's, or the policy's when by may
// change the settings no more: the meeting ended, or by was made a participant or
// removed while it waited (its role was checked before), and a turn taken then spent
// a hash and a place of the meeting's password budget on a change refused after it.
func (m *Meeting) takePasswordTurn(by string, p UpdateSettingsPayload) (wait <-chan struct{}, giveBack func(), err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if held := m.pwTurn; held != nil {
		held.waiters++
		return held.done, nil, nil
	}
	if m.lob.Ended() {
		return nil, nil, lobby.ErrEnded
	}
	if role, _ := m.lob.Role(lobby.ID(by)); role != lobby.RoleModerator {
		return nil, nil, lobby.ErrNotModerator
	}
	if err := m.staleLocked(by, p); err != nil {
		return nil, nil, err
	}
	turn := &passwordTurn{done: make(chan struct{})}
	m.pwTurn = turn
	return nil, func() {
		m.mu.Lock()
		if m.pwTurn == turn {
			m.pwTurn = nil
		}
		m.mu.Unlock()
		close(turn.done)
	}, nil
}

// passwordTurn waits until no other change of the meeting's password is under way,
// checks p then and takes the turn for it: a password that landed while this one
// waited refuses it before it is hashed. giveBack must be called once p is applied or
// refused.
func (s *Session) passwordTurn(p UpdateSettingsPayload) (giveBack func(), e *Error) {
	ctx, cancel := s.liveContext()
	defer cancel()
	for {
		wait, giveBack, err := s.meeting.takePasswordTurn(s.id, p)
		switch {
		case err != nil:
			return nil, settingsError(err)
		case wait == nil:
			return giveBack, nil
		}
		if e := s.awaitTakingEvents(ctx, wait); e != nil {
			return nil, e
		}
	}
}

// awaitTakingEvents waits until done is closed, carrying out meanwhile the events the
// session's goroutine is given (a removal, a mute, the meeting's end: moderate.go
// handleEvent), as run would. A password change waits on that goroutine, for the turn
// or its hash, as long as another's hash or its own takes in the hasher's line; an
// event left waiting so long was a removed member's media still forwarded, a mute not
// carried out. Only a hand-over to a resume (evReplaced) waits for the message under
// way (run handles it after, replacedLater). The wait is given up with errGone when
// the session is closing or has ended (an event ended it), and with not_allowed when
// an event carried out meanwhile made its sender a moderator no more: its change is
// refused where it would be applied, and a hash still in line for it was run on the
// hasher every meeting shares, with every other change of the meeting's password
// waiting behind it.
func (s *Session) awaitTakingEvents(ctx context.Context, done <-chan struct{}) *Error {
	for {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return errGone
		case ev := <-s.events:
			if ev.kind == evReplaced {
				// A resume on a new connection waits, as it would behind any message, for
				// this change to be carried out: its welcome then brings the settings it
				// made, where giving it up here lost a password its moderator had set.
				// The member's media is the resume's to set up: this connection lets go
				// of it now, not when the hash is done. Kept, it went on sending and
				// getting the meeting's media, and a mute or a removal, told to the
				// resume from here on, was not carried out on it meanwhile.
				s.replacedLater = ev
				s.releaseMedia()
				continue
			}
			s.handleEvent(*ev)
			if s.state == stateClosed {
				return errGone
			}
			if ev.kind == evPermissions {
				if role, _ := s.meeting.role(s.id); role != lobby.RoleModerator {
					return errorf(CodeNotAllowed, "only moderators may do that")
				}
			}
		}
	}
}
