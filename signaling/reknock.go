package signaling

import (
	"crypto/rand"
	"crypto/subtle"

	"conclave/lobby"
)

// Knocking again (PROTOCOL.md, "Knocking again"). A knock lives as long as its
// connection; a waiting page whose connection dropped knocks again by itself. When the
// path died without a close, the server notices only at its heartbeat's timeout, and
// until then the old knock stood beside the new one: a moderator could admit the old
// one, a connection nobody is behind, while the person's real knock waited. So every
// knock that waits is given a secret in its lobby messages, and a join that presents
// it (joinPayload.ReplaceKnock) while that knock still waits replaces it: the old
// connection is refused with "replaced", and the new knock waits in its place and from
// its time, past the password, a lock and the per-address share the old one already
// came past. The secret is kept in memory with the knock only, and goes with it.

// knockSecretChars is a knock secret's length as it travels: 32 bytes, unpadded base64url.
const knockSecretChars = 43

// errKnockGone: the knock a join meant to replace no longer waits (admitted, refused
// or gone meanwhile); the join is judged as a new knock.
var errKnockGone = &Error{Code: CodeNotAllowedInState, Message: "the knock to replace is gone"}

// newKnockSecret draws a knock's secret, as it travels.
func newKnockSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b64.EncodeToString(b)
}

// validKnockSecret reports whether v has a knock secret's shape.
func validKnockSecret(v string) bool {
	if len(v) != knockSecretChars {
		return false
	}
	b, err := b64.Strict().DecodeString(v)
	return err == nil && len(b) == 32
}

// standingKnockLocked is the waiting session whose knock secret is secret, or "".
// Every waiting knock's secret is compared, in constant time, so the time taken says
// nothing about which bytes matched.
func (m *Meeting) standingKnockLocked(secret string) lobby.ID {
	var found lobby.ID
	for id, s := range m.conns {
		if s.knockSecret != "" && m.lob.IsWaiting(id) &&
			subtle.ConstantTimeCompare([]byte(s.knockSecret), []byte(secret)) == 1 {
			found = id
		}
	}
	return found
}

// standingKnock is standingKnockLocked under the meeting's lock: a hint for the join,
// which the knock checks again under the same lock it knocks under.
func (m *Meeting) standingKnock(secret string) lobby.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.standingKnockLocked(secret)
}
