package signaling

import (
	"context"
	"encoding/base64"
	"sync/atomic"
	"time"

	"conclave/lobby"
)

// Resuming a membership after the websocket dropped (PROTOCOL.md, "Reconnecting").
//
// Every welcome carries a fresh resumption secret. When an admitted member's connection
// ends without a goodbye (the socket dropped, or the watchdog cut it), the member is
// parked instead of removed: it stays in the roster and the policy, marked as
// reconnecting, for the grace period. A new connection that presents the secret within
// that time takes the membership over (same id, role and name) and gets a new secret; the
// old one is spent. A member is never parked twice at once, and only its own secret, for
// its own meeting, brings it back.

// DefaultResumeGrace is how long a member whose connection dropped may come back without
// knocking: a 20 s outage plus the client's backoff, and a page reload, fit well inside.
const DefaultResumeGrace = time.Minute

// A membership's resumes are rate-limited: each one tells every member
// (participant_resumed), renegotiates every subscriber's connection twice (the tracks go
// at the drop and come back) and, in an encrypted meeting, makes every browser key the
// new identity. Unlimited, a member resuming on new connections in a loop kept the
// whole meeting renegotiating. Beyond the burst a resume is not refused (the client
// would give the membership up): it waits, its secret unspent, until the bucket allows
// it, at most 1/resumeRate, well inside the client's 20 s wait for its welcome.
const (
	resumeRate  = 0.1 // resumes per second, sustained: one every 10 s
	resumeBurst = 5   // and in a burst: a page reloaded a few times, a network that flaps
)

// resumeSecretBytes is the size of a resumption secret (256 random bits).
const resumeSecretBytes = 32

// resumeSecretChars is its length as unpadded base64url.
var resumeSecretChars = base64.RawURLEncoding.EncodedLen(resumeSecretBytes)

// ResumePayload is the first message of a connection that takes a membership back.
type ResumePayload struct {
	Version       int         `json:"version"`
	MeetingID     string      `json:"meetingId"`
	ParticipantID string      `json:"participantId"`
	Secret        string      `json:"secret"`
	Media         *MediaState `json:"media,omitempty"`
}

// ParticipantResumedPayload tells the other members that a reconnecting member is back
// on a new connection (with new media connections and, in an encrypted meeting, a new
// identity key: e2ee/FORMAT.md, "Resumed members").
type ParticipantResumedPayload struct {
	Participant ParticipantInfo `json:"participant"`
}

// parseResume checks a resume payload's fields; the secret is only compared later.
func parseResume(env Envelope) (ResumePayload, *Error) {
	p, err := decodePayload[ResumePayload](env)
	if err != nil {
		return p, err
	}
	if p.Version != ProtocolVersion {
		return p, errorf(CodeUnsupportedVersion, "this server speaks protocol version %d", ProtocolVersion)
	}
	if !validID(p.MeetingID) || !validID(p.ParticipantID) {
		return p, errorf(CodeInvalidField, "meetingId and participantId are required")
	}
	if len(p.Secret) != resumeSecretChars {
		// Refused before anything is looked up, uncounted (it cannot be anyone's), after
		// waiting its turn like a guess (resume).
		return p, errorf(CodeResumeFailed, "this session cannot be resumed")
	}
	return p, nil
}

// resumeHashes are the keyed hashes of member pid's current resumption secret and of
// the one its last resume claimed with while its welcome is not known to have arrived
// (parking.prev) or, while that resume is under way, has not gone out (parking.claiming),
// "" for none.
func (m *Meeting) resumeHashes(pid string) (cur, prev string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := lobby.ID(pid)
	if rec := m.resumable[id]; rec != nil && !m.ended && m.members[id] != nil {
		if rec.claimed {
			return "", rec.claiming
		}
		return rec.hash, rec.prev
	}
	return "", ""
}

// confirmWelcome: s, a welcomed connection, sent its first message, so its page got the
// welcome and holds the new secret; the one it resumed with is spent for good, and so
// is the secret of the knock the membership came from (takeover.go): a live page has
// the membership.
func (m *Meeting) confirmWelcome(s *Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := lobby.ID(s.id)
	if rec := m.resumable[id]; rec != nil && m.conns[id] == s {
		rec.prev, rec.knock = "", ""
	}
}

// claim takes member pid's membership for s if its secret's hash is still hash (checked
// by the caller against the secret given), and spends that secret at once: two resumes
// with one secret cannot both win. One whose welcome has not gone out yet is taken over
// by a resume with the same secret on a connection taken after its own (retriesLocked),
// whose page can hold no other: the later wins, and the earlier is told it was
// replaced. It returns the member's last connection, whose end
// the caller waits for before it sets up media under the same id. A connection the server
// still had (it had not noticed the drop) is told that it was replaced. When the
// membership has resumed too often lately, nothing changes and wait says how long until
// it may (the caller claims again then).
func (m *Meeting) claim(s *Session, pid, hash string) (prev *Session, wait time.Duration, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := lobby.ID(pid)
	rec := m.resumable[id]
	if m.ended || rec == nil || m.members[id] == nil || hash == "" || (rec.hash != hash && rec.prev != hash && !m.retriesLocked(s, rec, hash)) {
		return nil, 0, false
	}
	if now := m.now(); !rec.resumes.allow(now) {
		return nil, max(rec.resumes.until(now), time.Millisecond), true
	}
	// The resume secret came in a welcome: a page got it, and the knock's secret is
	// spent too (takeover.go).
	rec.knock = ""
	prev = m.takeLocked(s, id, rec)
	rec.claiming = hash
	return prev, 0, true
}

// retriesLocked reports whether s, resuming with the secret whose keyed hash is hash,
// is the page trying again while its last resume with that secret is under way
// (parking.claiming): only a connection taken after that resume's may, so that a resume
// the page sent on a connection it has since given up, read late, never takes the
// membership from the one it tries on now.
func (m *Meeting) retriesLocked(s *Session, rec *parking, hash string) bool {
	return rec.claimed && rec.claiming == hash && rec.last != nil && s.serial > rec.last.serial
}

// resume handles the first message of a connection that takes a membership back.
func (s *Session) resume(env Envelope) *Error {
	s.joining.Store(true)
	defer s.joining.Store(false)
	p, perr := parseResume(env)
	if perr != nil && perr.Code != CodeResumeFailed {
		return perr
	}
	scope := "resume/" + p.MeetingID + "/" + p.ParticipantID
	var m *Meeting
	var prev *Session
	var hash string
	var wait time.Duration
	claim := func(context.Context) (bool, error) {
		if perr != nil {
			return false, nil
		}
		if m = s.srv.registry.resumable(context.Background(), p.MeetingID); m == nil {
			return false, nil
		}
		cur, claimedLast := m.resumeHashes(p.ParticipantID)
		if hash = cur; !rightRandomSecret(s.srv.hasher, p.Secret, hash) {
			// The secret the last resume claimed with, its welcome perhaps lost.
			if hash = claimedLast; !rightRandomSecret(s.srv.hasher, p.Secret, hash) {
				hash = cur
				return false, nil
			}
		}
		var ok bool
		prev, wait, ok = m.claim(s, p.ParticipantID, hash)
		return ok, nil
	}
	// A right secret claims at once, however its address stands (rightRandomSecret): a
	// member behind a neighbour's wrong guesses still comes back. Any other is refused
	// after waiting its turn like a guess, and not counted: a resumption secret is
	// random (256 bits), so counting wrong ones protects nothing, while it let a class
	// behind one address (and its IPv6 /48) throttle itself, its moderator's secret with
	// it, with the resumes every page makes after a restart, and told an address below
	// its budget whether an id is in a meeting (a wrong secret at a member counted, at
	// nobody not). A throttled address is refused alike either way.
	if ok, _ := claim(context.Background()); ok {
		s.srv.attempts.Forgive(s.addr, scope)
	} else {
		if hash != "" && rightRandomSecret(s.srv.hasher, p.Secret, hash) {
			// Right, but spent or gone meanwhile (another resume won): not a guess.
			return errorf(CodeResumeFailed, "this session cannot be resumed")
		}
		err := s.checkSecret(scope, CodeResumeFailed, func(context.Context) (bool, error) { return false, errNotAGuess })
		return goneIsNil(err) // never nil: refused, or the connection is gone
	}
	// Too soon after the membership's last resumes: wait (outside the address's turn
	// at guessing, which others behind the address share) and claim again. The secret
	// was right; if it is spent or gone meanwhile (another resume won, the grace ran
	// out), this one fails as a spent secret does, not counted as a guess.
	for wait > 0 {
		if !s.sleep(wait, &s.srv.stats.resumesDelayed) {
			return nil
		}
		var ok bool
		if s.srv.registry.resumable(context.Background(), p.MeetingID) != m {
			return errorf(CodeResumeFailed, "this session cannot be resumed") // its room expired meanwhile
		}
		if prev, wait, ok = m.claim(s, p.ParticipantID, hash); !ok {
			return errorf(CodeResumeFailed, "this session cannot be resumed")
		}
	}
	s.takeMembership(m, p.ParticipantID, env.ID, p.Media, memberClaim{hash: hash, from: prev})
	return nil
}

// sleep waits d on the server's clock, counting the wait in n once its timer is armed
// (a test that sees the count may move the clock); false when the connection ended
// meanwhile: the peer closed it (readDone: nothing closes s.closing while the owner
// sleeps), the server cut it, or the server is shutting down.
func (s *Session) sleep(d time.Duration, n *atomic.Uint64) bool {
	done := make(chan struct{})
	stop := s.srv.clock.AfterFunc(d, func() { close(done) })
	defer stop()
	n.Add(1)
	select {
	case <-done:
		return true
	case <-s.closing:
	case <-s.readDone:
	case <-s.shutdown:
	}
	return false
}
