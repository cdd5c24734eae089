package signaling

import (
	"context"
	"encoding/base64"
	"errors"

	"conclave/lobby"
	"conclave/secret"
)

// Scopes of secret.Attempts: what a right guess forgives. The budget itself is one per
// address across all of them.
const (
	scopeHostKey = "host-key"
)

func scopePassword(meetingID string) string  { return "password/" + meetingID }
func scopeModerator(meetingID string) string { return "moderator/" + meetingID }

// errNotAGuess, from a check, refuses what guessed at nothing (no secret is there to be
// right) with the wrong code, uncounted, after it waited its turn like a guess: a
// throttled address is answered alike whether or not there was something to guess at.
var errNotAGuess = errors.New("signaling: nothing to guess at")

// errNoLongerGuessed, from a check, ends the turn without a verdict and lets the caller
// go on: the secret it was to check is gone meanwhile (a meeting's password cleared
// while a join's waited its turn), so there is nothing to be right or wrong about.
var errNoLongerGuessed = errors.New("signaling: the secret is gone")

// errGone means the connection ended while a guess waited its turn: there is nobody to
// answer.
var errGone = &Error{Code: CodeInternal, Message: "the connection ended"}

// goneIsNil drops errGone: nobody is left to tell, and the session loop notices the end.
func goneIsNil(err *Error) *Error {
	if err == errGone {
		return nil
	}
	return err
}

// checkSecret checks one guess at a secret, throttled per source address: it waits its
// turn behind the address's earlier guesses (for as long as the connection lives, never
// a fixed timeout that would turn a busy server into a refusal), then check compares.
// A wrong guess is refused with the code wrong.
func (s *Session) checkSecret(scope string, wrong Code, check func(context.Context) (bool, error)) *Error {
	ctx, cancel := s.liveContext()
	defer cancel()
	turn, err := s.srv.attempts.Begin(ctx, s.addr, scope)
	if err != nil {
		if r, ok := errors.AsType[*secret.Refused](err); ok {
			s.srv.stats.throttled.Add(1)
			e := errorf(CodeTooManyAttempts, "too many wrong attempts; try again later")
			e.RetryAfter, e.LockedOut = r.RetryAfter, r.LockedOut
			return e
		}
		return errGone
	}
	ok, herr := check(ctx)
	if errors.Is(herr, errNotAGuess) {
		turn.Release()
		return errorf(wrong, "wrong password or secret")
	}
	if errors.Is(herr, errNoLongerGuessed) {
		turn.Release()
		return nil
	}
	if herr != nil {
		turn.Release()
		if ctx.Err() != nil {
			return errGone
		}
		s.log.Warn("session: secret check failed", "err", herr)
		return errorf(CodeInternal, "could not check the password")
	}
	if !ok {
		turn.Failed()
		s.srv.stats.countWrong(wrong)
		return errorf(wrong, "wrong password or secret")
	}
	turn.Succeeded()
	return nil
}

// rightRandomSecret reports whether sec is the random secret whose keyed hash is hash:
// for a host key's secret, a resumption secret or a moderator secret the server (or
// `conclave host`) made, or a room's derived one (derivedShape), never for a shorter one
// a host chose (store.Room.ModeratorMade). Such a secret cannot be guessed, and checking it costs one HMAC, so a right one is let through
// without asking the address's budget: otherwise anyone behind the same address (a
// school's NAT, a carrier's CGNAT) could lock a host or a member out with wrong guesses.
// A wrong one is then checked, and counted, as every guess is (checkSecret). argon2id
// hashes are never checked here.
func rightRandomSecret(h *secret.Hasher, sec, hash string) bool {
	if sec == "" || !secret.IsKeyedHash(hash) {
		return false
	}
	ok, err := h.Verify(context.Background(), sec, hash)
	return err == nil && ok
}

// derivedSecretLen is the length of a moderator secret a host's client derives for a
// room (32 bytes, web/static/js/rooms-keys.js and e2ee.RoomKeys), as unpadded base64url.
const derivedSecretLen = 43

// derivedShape reports whether a moderator secret a host's client chose has the form of
// a derived one: exactly 32 bytes in canonical unpadded base64url. The Rooms API asks
// for random chosen secrets (signaling/PROTOCOL.md); at 256 bits a right one is let
// through at once, as one the server made is, so that a neighbour behind the same
// address (a school's NAT) cannot keep a prepared room's moderator out. Shorter chosen
// secrets (22 to 42 characters, 128 bits or more by their length alone) still wait
// their turn: a person may have typed them.
func derivedShape(sec string) bool {
	if len(sec) != derivedSecretLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(sec)
	return err == nil && len(b) == 32
}

// liveContext ends when the connection does: the peer went away, the session was
// closed, or the server is shutting down.
func (s *Session) liveContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-s.closing:
		case <-s.readDone:
		case <-s.shutdown:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}

// wrongPasswords counts wrong passwords tried at a meeting, for its moderators. The
// count is reported from the janitor's tick, so a flood of guesses makes one message
// per tick, never one per guess. Guarded by the meeting's lock.
type wrongPasswords struct {
	count    int
	reported int
}

// countWrongPassword notes one wrong password.
func (m *Meeting) countWrongPassword() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.wrong.count++
}

// welcomeLocked tells a moderator who just joined the count so far, if there is one.
func (w *wrongPasswords) welcomeLocked(s *Session) {
	if w.count > 0 {
		s.send(encode(TypeAccessAttempts, "", AccessAttemptsPayload{WrongPasswords: w.count}))
	}
}

// reportWrongLocked tells the moderators when the count has changed since last time.
func (m *Meeting) reportWrongLocked() {
	if m.wrong.count == m.wrong.reported {
		return
	}
	m.wrong.reported = m.wrong.count
	msg := encode(TypeAccessAttempts, "", AccessAttemptsPayload{WrongPasswords: m.wrong.count})
	for id, info := range m.members {
		if info.Role == string(lobby.RoleModerator) {
			m.hearsLocked(id).send(msg)
		}
	}
}
