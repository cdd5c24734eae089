package signaling

import (
	"crypto/rand"
	"encoding/hex"
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
	// joinOrder is the order the members joined in, which welcomes list them in.
	joinOrder joinOrder
	joined    bool      // someone has been a member at least once
	idle      time.Time // since when no session is attached
	ended     bool
	// dropped: ended with nobody in it because its host changed the room
	// (dropIfNobodyLocked); a join on its way to it starts over (errRoomChanged).
	dropped bool
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
	// hasher every meeting shares (startPasswordHash).
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
	// settingsEpoch names this meeting's revisions in its welcomes (newSettingsEpoch).
	settingsEpoch string
	// pwTurn is the change of the password under way, from its check to its end, which
	// another change of the password waits for (settingsturn.go); nil for none.
	pwTurn *passwordTurn
	// modTerms counts, for each member made a moderator in this meeting, how many times
	// it was (none: a moderator since its join, or never one): its term as a moderator,
	// which a change of the password it sends is bound to (inTermLocked).
	modTerms map[lobby.ID]uint64
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

// discardICELocked ends TURN credentials made for a welcome that does not go out (its
// session lost the membership meanwhile): handed to nobody, they open no relay, but
// the TURN server counts a member at the address they were made for until they are
// revoked (turn.Server.ICEServersFor).
func (m *Meeting) discardICELocked(ice []ICEServer) {
	if m.revokeICE != nil && len(ice) > 0 {
		m.revokeICE(ice)
	}
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

// dropIfNobodyLocked ends the meeting if nobody is in it, connected, waiting or
// reconnecting (as for its first minutes when nobody was let in yet, or its minute
// after the last person left), and reports whether it did: its host changed the room,
// and a meeting nobody is in is not one going on, which the change would leave alone.
// Kept, it was still made from the room as it was, and let the next person in by the
// old settings and password (and, once anyone was in it, for as long as it lasted).
func (m *Meeting) dropIfNobodyLocked() bool {
	if m.ended || len(m.conns) > 0 || len(m.members) > 0 {
		return false
	}
	m.dropped = true
	m.endLocked()
	return true
}

// passwordHash returns the current password hash ("" when there is none).
func (m *Meeting) passwordHash() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pwHash
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
