package signaling

import (
	"context"
	"errors"

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
// A change is its sender's as the moderator it was when it began: one whose sender is
// made a moderator no more is refused, also when it is made one again before the change
// is checked next (modTerms). It was checked against the role in force then, so that
// whether a demotion undone at once refused it depended on whether its connection had
// handled the demotion first.
//
// The meeting gives up the holder's hash, while it is still in the hasher's line, as
// soon as anything carried out under its lock means the change would be refused where
// it is applied (givePasswordUpLocked): its sender removed or made a participant (also
// on a connection a resume has replaced, which no event reaches any more), the meeting
// ended, or another moderator's change of a switch the message names since the
// revision it was based on (switches never wait). A hash given up in line ran nothing:
// its place in the meeting's password budget is given back (returnPasswordChange), as
// for one whose connection went, before the turn goes to the next change
// (endPasswordChange). The change is checked again then and refused, or, if the clash
// is gone again (the switch set back), hashed anew.
//
// Nothing of this waits on the session's goroutine: the hash runs on a goroutine of its
// own and its result comes back to run as the other events do (passwordchange.go).

// passwordTurn is the password change under way.
type passwordTurn struct {
	done    chan struct{} // closed when the turn is given back
	waiters int           // the changes that waited for it (a test's hook)
	by      lobby.ID      // its sender
	term    uint64        // its sender's term as a moderator when the change began (moderatorTerm)
	p       UpdateSettingsPayload
	// giveUp gives up the holder's hash if it is still in the hasher's line (nil while
	// none is asked for, or once it was given up).
	giveUp context.CancelFunc
}

// errPasswordChangesTooFast: the meeting's password budget is spent (pwChanges).
var errPasswordChangesTooFast = errors.New("too many password changes")

// passwordRefusalLocked is why by's change p of the password, begun in by's term as a
// moderator term, would be refused where it is applied, or nil: the meeting ended, by
// may change the settings no more (made a participant or removed, and made a moderator
// again or not since: inTermLocked), or p is stale (staleLocked).
func (m *Meeting) passwordRefusalLocked(by lobby.ID, term uint64, p UpdateSettingsPayload) error {
	if m.lob.Ended() {
		return lobby.ErrEnded
	}
	if !m.inTermLocked(by, term) {
		return lobby.ErrNotModerator
	}
	return m.staleLocked(string(by), p)
}

// moderatorTerm returns which of its terms as a moderator id is in (the count of
// promotions, modTerms), and false when id is not a moderator: a change of the password
// takes its role and its term at once.
func (m *Meeting) moderatorTerm(id string) (term uint64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if role, _ := m.lob.Role(lobby.ID(id)); role != lobby.RoleModerator {
		return 0, false
	}
	return m.modTerms[lobby.ID(id)], true
}

// newModTermLocked begins a new term of id as a moderator: id was made one. A change of
// the password begun before, when id was one and then not, stays refused.
func (m *Meeting) newModTermLocked(id lobby.ID) {
	if m.modTerms == nil {
		m.modTerms = make(map[lobby.ID]uint64)
	}
	m.modTerms[id]++
}

// inTermLocked reports whether id is a moderator and has been one without a break
// since its term term began.
func (m *Meeting) inTermLocked(id lobby.ID, term uint64) bool {
	role, _ := m.lob.Role(id)
	return role == lobby.RoleModerator && m.modTerms[id] == term
}

// inTerm is inTermLocked under the meeting's lock.
func (m *Meeting) inTerm(id string, term uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inTermLocked(lobby.ID(id), term)
}

// takePasswordTurn checks by's change p, begun in its term as a moderator term, and
// takes the meeting's password turn for it (give it back with givePasswordTurnBack),
// or, while another change of the password holds the turn, returns that turn's end to
// wait for (then ask again). err is passwordRefusalLocked's: a turn taken by a change
// refused after it spent a hash and a place of the meeting's password budget, and held
// every other change of the password meanwhile.
func (m *Meeting) takePasswordTurn(by string, term uint64, p UpdateSettingsPayload) (wait <-chan struct{}, turn *passwordTurn, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if held := m.pwTurn; held != nil {
		held.waiters++
		return held.done, nil, nil
	}
	if err := m.passwordRefusalLocked(lobby.ID(by), term, p); err != nil {
		return nil, nil, err
	}
	turn = &passwordTurn{done: make(chan struct{}), by: lobby.ID(by), term: term, p: p}
	m.pwTurn = turn
	return nil, turn, nil
}

// givePasswordTurnBack ends turn: the changes that wait for it go on.
func (m *Meeting) givePasswordTurnBack(turn *passwordTurn) {
	m.mu.Lock()
	if m.pwTurn == turn {
		m.pwTurn = nil
	}
	m.mu.Unlock()
	close(turn.done)
}

// startPasswordHash checks turn's change again and takes a place of the meeting's
// password budget for its hash, which giveUp gives up while it is in line: nil when
// the hash may begin.
func (m *Meeting) startPasswordHash(turn *passwordTurn, giveUp context.CancelFunc) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.passwordRefusalLocked(turn.by, turn.term, turn.p); err != nil {
		return err
	}
	if !m.pwChanges.allow(m.now()) {
		return errPasswordChangesTooFast
	}
	turn.giveUp = giveUp
	return nil
}

// returnPasswordChange gives back a place of the meeting's password budget taken for a
// hash that was given up in the hasher's line: it ran nothing. Kept, a change given up
// (its sender removed, demoted or gone, or another's change made it stale) cost its
// meeting's moderators a password change they could not make.
func (m *Meeting) returnPasswordChange() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pwChanges.giveBack(m.now())
}

// givePasswordUpLocked gives up the hash of the password change under way, while it is
// in the hasher's line, when it would be refused where it is applied: called whenever
// the policy's effects were carried out (applyLocked), by whatever action or tick. Its
// session learns it from the hash's result and checks the change again.
func (m *Meeting) givePasswordUpLocked() {
	t := m.pwTurn
	if t == nil || t.giveUp == nil || m.passwordRefusalLocked(t.by, t.term, t.p) == nil {
		return
	}
	t.giveUp()
	t.giveUp = nil
}
