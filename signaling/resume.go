package signaling

import (
	"context"
	"encoding/base64"
	"slices"
	"sync/atomic"
	"time"

	"conclave/lobby"
	"conclave/secret"
	"conclave/sfu"
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

// parking is a member's resumption state, kept by the meeting under its lock.
type parking struct {
	hash string // keyed hash of the current secret: never the secret itself
	// prev is the keyed hash of the secret the last resume claimed with, still good
	// (once, instead of hash) until that resume's connection sends its first message:
	// a welcome lost as the link went again took the new secret with it, and the page
	// tries the one it holds (issueResumeLocked's caller completeResume, confirmResume).
	prev     string
	last     *Session        // the member's last connection (its done tells when it let go)
	stop     func() bool     // cancels the grace timer; nil while a connection is attached
	commands []parkedCommand // moderator commands that arrived while it was parked
	resumes  tokenBucket     // the membership's resumes, carried from secret to secret
	// claimed: a resume spent the secret and has not been welcomed yet. The moderators'
	// commands for the member wait in commands meanwhile, as for a parked member: told
	// to a connection that may still drop before its welcome, they were lost with it.
	// Nothing else of the meeting reaches that connection either (hearsLocked), and
	// the waiting people are not told of a moderator back before its welcome.
	claimed bool
	// knock is the secret of the knock the membership was let in from ("": none, or
	// spent), and knocks that knock's budget of replacements: until a page has spoken
	// on the membership after a welcome, the page that knocked may take it over with
	// it (takeover.go). Spent at the first message after a welcome (confirmWelcome) and
	// by a resume (its secret came in a welcome the page got).
	knock  string
	knocks tokenBucket
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

// issueResumeLocked makes a fresh secret for member id, spending the last one.
func (m *Meeting) issueResumeLocked(id lobby.ID, s *Session) string {
	sec := secret.Random(resumeSecretBytes)
	rec := &parking{hash: secret.KeyedHash(sec), last: s, resumes: newTokenBucket(resumeRate, resumeBurst)}
	if old := m.resumable[id]; old != nil {
		if old.stop != nil {
			old.stop()
		}
		rec.resumes, rec.knock, rec.knocks = old.resumes, old.knock, old.knocks
	}
	m.resumable[id] = rec
	return sec
}

// dropResumeLocked forgets id's resumption state (it left, or was removed).
// endLocked marks the meeting ended and drops every membership waiting to resume:
// nothing of the meeting (a parked member's name, its grace timer holding the meeting)
// outlives it.
func (m *Meeting) endLocked() {
	m.ended = true
	for id := range m.resumable {
		m.dropResumeLocked(id)
	}
	for id := range m.iceHeld {
		m.revokeICELocked(id)
	}
}

func (m *Meeting) dropResumeLocked(id lobby.ID) {
	if p := m.resumable[id]; p != nil {
		if p.stop != nil {
			p.stop()
		}
		delete(m.resumable, id)
	}
}

// park keeps s's membership for grace after its connection dropped, and tells the
// others that it is reconnecting. It reports false when s is not (or no longer) the
// member's connection: then it has left or was taken over, and nothing is kept.
func (m *Meeting) park(s *Session, clock Clock, grace time.Duration, expired func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := lobby.ID(s.id)
	rec, info := m.resumable[id], m.members[id]
	if m.ended || m.conns[id] != s || rec == nil || info == nil {
		return false
	}
	delete(m.conns, id)
	rec.last = s
	rec.claimed = false
	if c := s.claimed; c.hash != "" || c.knock {
		// s claimed the membership with its secret and went before its welcome, with
		// the next secret, was sent: that secret was spent for nothing, and the member
		// could not come back until the grace ran out. It is good again; the next
		// resume waits for the connection that still holds the member's media, unless
		// s had taken its place. (A knock's secret claims without spending itself: it
		// is spent only once a page speaks after its welcome.)
		if c.hash != "" {
			rec.hash = c.hash
		}
		if c.from != nil {
			rec.last = c.from
		}
	}
	rec.stop = clock.AfterFunc(grace, func() {
		if m.expireParked(id, rec) {
			expired()
		}
	})
	info.Reconnecting = true
	m.broadcastLocked(id, encode(TypeParticipantUpdated, "", ParticipantPayload{Participant: *info}))
	m.tellPresenceLocked() // a moderator away lets nobody in
	return true
}

// expireParked ends a parked membership whose grace period is over, as a leave; false
// when it came back (or went) in the meantime.
func (m *Meeting) expireParked(id lobby.ID, rec *parking) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.resumable[id] != rec || m.conns[id] != nil {
		return false
	}
	delete(m.resumable, id)
	m.removeMemberLocked(id, m.now())
	return true
}

// resumeHashes are the keyed hashes of member pid's current resumption secret and of
// the one its last resume claimed with while its welcome is not known to have arrived
// (parking.prev), "" for none (gone, or a resume is under way).
func (m *Meeting) resumeHashes(pid string) (cur, prev string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := lobby.ID(pid)
	if rec := m.resumable[id]; rec != nil && !m.ended && m.members[id] != nil {
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
// with one secret cannot both win. It returns the member's last connection, whose end
// the caller waits for before it sets up media under the same id. A connection the server
// still had (it had not noticed the drop) is told that it was replaced. When the
// membership has resumed too often lately, nothing changes and wait says how long until
// it may (the caller claims again then).
func (m *Meeting) claim(s *Session, pid, hash string) (prev *Session, wait time.Duration, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := lobby.ID(pid)
	rec := m.resumable[id]
	if m.ended || rec == nil || m.members[id] == nil || hash == "" || (rec.hash != hash && rec.prev != hash) {
		return nil, 0, false
	}
	if now := m.now(); !rec.resumes.allow(now) {
		return nil, max(rec.resumes.until(now), time.Millisecond), true
	}
	// The resume secret came in a welcome: a page got it, and the knock's secret is
	// spent too (takeover.go).
	rec.knock = ""
	return m.takeLocked(s, id, rec), 0, true
}

// takeLocked gives member id's membership to s, whose claim the caller checked: the
// member's secrets are spent (completeResume issues the next), its grace timer stops,
// and a connection the server still had is told that it was replaced. It returns the
// member's last connection, whose end s waits for before it sets up media under the
// same id.
func (m *Meeting) takeLocked(s *Session, id lobby.ID, rec *parking) (prev *Session) {
	rec.hash, rec.prev = "", "" // spent, both; completeResume issues the next one
	rec.claimed = true
	if rec.stop != nil {
		rec.stop()
		rec.stop = nil
	}
	prev = rec.last
	if live := m.conns[id]; live != nil && live != s {
		live.deliver(event{kind: evReplaced})
	}
	m.conns[id] = s
	rec.last = s
	// Nothing reaches s before its welcome (hearsLocked), and a moderator lets nobody in
	// until then: the waiting people are told it is back only with its welcome
	// (completeResume), and that none is here when this takes over a live connection.
	m.tellPresenceLocked()
	return prev
}

// completeResume makes s the member again: a welcome (resumed, with a new secret and
// the member's own wire name) to s, participant_resumed to everyone else; it returns
// the moderator commands that arrived while it was away, for s to apply. False when it
// lost the membership in the meantime. claimed is the keyed hash of the secret the
// resume claimed with: good again until s sends its first message (parking.prev).
// resumed is false for a page that took over the membership its knock was let in to
// (takeover.go): to that page it is its first welcome.
func (m *Meeting) completeResume(s *Session, ice []ICEServer, claimed string, resumed bool) ([]parkedCommand, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := lobby.ID(s.id)
	role, ok := m.lob.Role(id)
	info := m.members[id]
	rec := m.resumable[id]
	if !ok || m.conns[id] != s || info == nil || rec == nil {
		return nil, false
	}
	info.Reconnecting = false
	m.clampMediaLocked(s)
	info.Media = s.media
	info.Role = string(role)
	others := make([]ParticipantInfo, 0, len(m.members))
	for oid, o := range m.members {
		if oid != id {
			others = append(others, *o)
		}
	}
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
	s.send(encode(TypeWelcome, s.joinRef, WelcomePayload{
		Version:       ProtocolVersion,
		ParticipantID: s.id,
		MeetingID:     m.id,
		Role:          string(role),
		Settings:      m.lob.Settings(),
		SettingsRev:   m.settingsRev.rev,
		E2EE:          m.e2ee,
		Participants:  others,
		Limits:        Limits{MaxMessageBytes: MaxMessageBytes, MaxChatChars: MaxChatChars},
		ICEServers:    ice,
		ResumeSecret:  sec,
		Resumed:       resumed,
		Name:          resumedName(resumed, info.Name),
		PasswordRev:   m.missedPasswordLocked(id, role, resumed),
		Speakers:      m.speakerDetection,
	}))
	m.broadcastLocked(id, encode(TypeParticipantResumed, "", ParticipantResumedPayload{Participant: *info}))
	if role == lobby.RoleModerator {
		s.sendSnapshot(m.waitingListMessageLocked(m.lob.Waiting(), id), snapshotWaitingList)
		m.wrong.welcomeLocked(s)
	}
	m.welcomeHandsLocked(s) // the queue may have changed while it was away
	m.welcomeSpeakersLocked(s)
	m.tellPresenceLocked() // a moderator back may let people in again
	return commands, true
}

// removeMemberLocked takes a member out of the meeting as a leave: the policy's effects,
// participant_left to everyone.
func (m *Meeting) removeMemberLocked(id lobby.ID, now time.Time) {
	if len(m.conns) == 0 {
		m.idle = now
	}
	// Its lobby key first: the waiting people's next lobby message (that no moderator
	// is here, when it was the last) must not list it.
	m.dropLobbyKeyLocked(id)
	m.applyLocked(m.lob.Leave(id))
	m.revokeICELocked(id)
	if _, ok := m.members[id]; ok {
		delete(m.members, id)
		m.departed.add(string(id))
		m.broadcastLocked("", encode(TypeParticipantLeft, "", ParticipantLeftPayload{ParticipantID: string(id)}))
	}
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
	s.takeMembership(m, p.ParticipantID, env.ID, p.Media, resumeClaim{hash: hash, from: prev})
	return nil
}

// takeMembership makes s member pid of m, whose membership s claimed (claim: a resume;
// claimByKnock: a knock's page taking over the membership it was let in to): it waits
// for the member's last connection (c.from) to let go of the member's media, sets up
// its own, and is welcomed. ref is the id of the message that claimed, media what it
// said it sends (nil: what the last connection sent).
func (s *Session) takeMembership(m *Meeting, pid, ref string, media *MediaState, c resumeClaim) {
	prev := c.from
	s.meeting, s.id, s.joinRef = m, pid, ref
	s.member = true // from here a drop parks the membership again
	// Until its welcome (with the next secret) is out, a drop gives the membership back
	// to the secret this connection came with (park).
	s.claimed = c
	s.knocked.Store(true)
	// The last connection lets go of the member's media before this one takes it.
	if prev != nil {
		select {
		case <-prev.done:
		case <-s.closing:
			return
		case <-s.readDone:
			return
		case <-s.shutdown:
			return
		}
		s.name, s.media = prev.name, prev.media
		s.askedUnmute, s.askedCamera = prev.askedUnmute, prev.askedCamera
		s.carry = prev.carry
		s.takeLimits(prev)
		s.claimed.from = nil // this connection holds what prev held
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
	parked, ok := m.completeResume(s, s.srv.iceServers(s.addr), c.hash, !c.knock)
	s.claimed = resumeClaim{} // the welcome carries the next secret (and parking.prev this one)
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

// parkCommand adds c to the moderator commands kept for a parked member, once: an
// earlier one of the same kind goes, so each is kept at most once, in the order they
// last came (the last of a mute and an ask to unmute is the one that holds). Kept
// all, a moderator's stream of mutes grew the server's memory without bound and, on
// the resume, overflowed the member's event queue before its welcome (with its next
// resume secret) went out.
func parkCommand(cs []parkedCommand, c parkedCommand) []parkedCommand {
	cs = slices.DeleteFunc(cs, func(x parkedCommand) bool { return x.command == c.command })
	return append(cs, c)
}

// resumeClaim is a resume this connection claimed (Meeting.claim) and has not yet
// completed: the keyed hash of the secret it came with, and the connection it waits
// to take over from (nil once it has).
type resumeClaim struct {
	hash  string
	from  *Session
	knock bool // claimed with the secret of the knock the membership came from (takeover.go)
}

// parkedCommand is a moderator's command kept for a parked member: told on its resume
// as it would have been told at once, with who gave it and whether it was part of an
// action on everyone (so a client can say "everyone was muted").
type parkedCommand struct {
	command lobby.Command
	by      string
	all     bool
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

// ICERestartPayload asks for an ICE restart of a connection the server offers.
type ICERestartPayload struct {
	PC string `json:"pc"`
}

// iceRestart answers a client whose subscribe connection failed while the websocket
// still works: the next subscribe offer restarts ICE. The publish connection needs no
// help (its client is the offerer and restarts ICE in a new publish_offer).
func (s *Session) iceRestart(env Envelope) *Error {
	p, err := decodePayload[ICERestartPayload](env)
	if err != nil {
		return err
	}
	if p.PC != "subscribe" {
		return errorf(CodeInvalidField, `pc must be "subscribe"`)
	}
	if !s.neg.ice.allow(s.srv.now()) {
		return errorf(CodeRateLimited, "too many ICE requests; slow down")
	}
	s.peer.RestartSubscribeICE()
	return nil
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

// letGo ends s's hold on its membership when the connection ends: an admitted member
// whose connection dropped (no goodbye was said) is parked for the grace period;
// otherwise it leaves. The media closes either way.
func (s *Session) letGo() {
	if s.peer != nil {
		for i, src := range carriedSources {
			s.carry.blocked[i] = s.peer.Blocked(src)
		}
	}
	parked := false
	if s.meeting != nil && s.member && !s.saidBye && s.srv.resumeGrace > 0 {
		m, srv := s.meeting, s.srv
		parked = m.park(s, srv.clock, srv.resumeGrace, func() { srv.registry.endIfEmpty(m) })
	}
	if s.meeting != nil && !parked {
		s.meeting.leave(s, s.srv.now())
	}
	if s.peer != nil {
		s.peer.Close()
	}
	if s.meeting != nil {
		s.srv.registry.endIfEmpty(s.meeting)
	}
}
