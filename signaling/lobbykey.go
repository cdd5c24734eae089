package signaling

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"conclave/e2ee"
	"conclave/lobby"
)

// Lobby keys (e2ee/FORMAT.md, "Lobby keys"; PROTOCOL.md, "Lobby keys"): each moderator
// of an end-to-end encrypted meeting publishes a public key tagged under a key from the
// link. The server keeps it while that member is a moderator on the connection that
// sent it (a drop or a resume withdraws it: the resumed page is a new session with a
// new key) and shows every waiting person all of them in its lobby messages, so that a
// knocker's browser can tell its user that its link is probably wrong before anyone
// admits it. As with knock proofs, the server only passes them on: it cannot make or
// judge a tag.

// TypeLobbyKey is a moderator's lobby key (state joined, role moderator).
const TypeLobbyKey = "lobby_key"

// A moderator's browser sends its lobby key once per stretch as moderator, and each
// change reaches every knocker, whose queue holds sendQueueLen messages: a tight limit
// keeps one moderator from flooding the waiting room.
const (
	lobbyKeyBurst = 4
	lobbyKeyRate  = 0.2 // one every 5 s sustained
)

// LobbyKeyPayload is what a moderator sends: a 32-byte public key and its 32-byte tag,
// each as unpadded base64url.
type LobbyKeyPayload struct {
	Pub string `json:"pub"`
	Tag string `json:"tag"`
}

// LobbyKeyInfo is one moderator's lobby key as knockers see it.
type LobbyKeyInfo struct {
	From string `json:"from"`
	Pub  string `json:"pub"`
	Tag  string `json:"tag"`
}

// Errors of ParseLobbyKey; a refused key changes nothing.
var (
	ErrLobbyKeyShape = errors.New("lobby_key: payload is not an object with string pub and tag")
	ErrLobbyKeyField = errors.New("lobby_key: pub and tag must each be 32 bytes of unpadded base64url (43 characters)")
)

// ParseLobbyKey decodes a lobby_key payload and checks its fields' shape. It never
// panics; every refusal wraps one of the ErrLobbyKey errors.
func ParseLobbyKey(payload []byte) (LobbyKeyPayload, error) {
	p, perr := decodePayload[LobbyKeyPayload](Envelope{Type: TypeLobbyKey, Payload: payload})
	if perr != nil {
		return LobbyKeyPayload{}, ErrLobbyKeyShape
	}
	for _, f := range []string{p.Pub, p.Tag} {
		if _, err := e2ee.ParseKnockField(f); err != nil {
			return LobbyKeyPayload{}, fmt.Errorf("%w: %v", ErrLobbyKeyField, err)
		}
	}
	return p, nil
}

// lobbyKey takes a moderator's lobby key.
func (s *Session) lobbyKey(env Envelope) *Error {
	k, err := ParseLobbyKey(env.Payload)
	switch {
	case errors.Is(err, ErrLobbyKeyShape):
		return errorf(CodeBadMessage, "%v", err)
	case err != nil:
		return errorf(CodeInvalidField, "%v", err)
	}
	return s.meeting.setLobbyKey(s, k, func() bool { return s.lobbyKeys.allow(s.srv.now()) })
}

// setLobbyKey keeps the lobby key of s, a moderator's connection (a new one replaces
// its last), and shows the waiting people the new set. Each change costs one token of
// allow (lobbyKeyBurst, lobbyKeyRate), since it reaches every knocker; the same key
// again changes nothing and costs nothing, and neither does the first key after a drop
// or a takeover withdrew the last (parking.keyWithdrawn): the resumed page sends its
// key once, and charged, a moderator whose link blipped a few times in a row (its limit
// carried across resumes) had it refused, and the knockers shown no key for the rest of
// its stay. What withdrew the last key told the knockers itself, and resumes have their
// own limit.
func (m *Meeting) setLobbyKey(s *Session, k LobbyKeyPayload, allow func() bool) *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := lobby.ID(s.id)
	if !m.e2ee {
		return errorf(CodeNotAllowed, "this meeting is not end-to-end encrypted")
	}
	if role, ok := m.lob.Role(id); !ok || role != lobby.RoleModerator {
		return errorf(CodeNotAllowed, "only moderators publish lobby keys")
	}
	if m.hearsLocked(id) != s {
		// A connection a resume took over still handles what it read until it takes
		// its replacement (its bye follows): its key is the session's that is gone,
		// withdrawn by takeLocked, and kept it would take the knocks' names from the
		// resumed page's.
		return nil
	}
	if m.lobbyKeys[id] == k {
		return nil
	}
	rec := m.resumable[id]
	if (rec == nil || !rec.keyWithdrawn) && !allow() {
		return errorf(CodeRateLimited, "too many lobby keys; slow down")
	}
	if rec != nil {
		rec.keyWithdrawn = false
	}
	if m.lobbyKeys == nil {
		m.lobbyKeys = map[lobby.ID]LobbyKeyPayload{}
	}
	m.lobbyKeys[id] = k
	m.tellKnockersLocked()
	return nil
}

// dropLobbyKeyLocked forgets id's lobby key (it left, was removed, is no longer a
// moderator, or the connection that sent it dropped or was taken over) and tells the
// waiting people; false when it had none.
func (m *Meeting) dropLobbyKeyLocked(id lobby.ID) bool {
	if _, ok := m.lobbyKeys[id]; !ok {
		return false
	}
	delete(m.lobbyKeys, id)
	m.tellKnockersLocked()
	return true
}

// tellKnockersLocked sends every waiting person a lobby message with the current keys
// and a fresh knock nonce, so that each proves its link and seals its name to the new
// set of moderators (e2ee/FORMAT.md, "Names"); the moderators see the renewed knocks.
func (m *Meeting) tellKnockersLocked() {
	present := m.moderatorHereLocked()
	m.present = present
	waiting := m.lob.Waiting()
	for _, k := range waiting {
		if s := m.conns[k.ID]; s != nil {
			s.knock.renewLocked()
			s.send(m.lobbyMessage(s, "", present))
		}
	}
	if len(waiting) > 0 {
		m.applyLocked([]lobby.Effect{lobby.WaitingList{To: m.lob.Moderators(), Waiting: waiting}})
	}
}

// lobbyKeysLocked lists the lobby keys, by moderator id.
func (m *Meeting) lobbyKeysLocked() []LobbyKeyInfo {
	if len(m.lobbyKeys) == 0 {
		return nil
	}
	out := make([]LobbyKeyInfo, 0, len(m.lobbyKeys))
	for id, k := range m.lobbyKeys {
		out = append(out, LobbyKeyInfo{From: string(id), Pub: k.Pub, Tag: k.Tag})
	}
	slices.SortFunc(out, func(a, b LobbyKeyInfo) int { return strings.Compare(a.From, b.From) })
	return out
}
