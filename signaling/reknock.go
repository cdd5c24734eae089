package signaling

import (
	"crypto/rand"
	"crypto/subtle"
	"slices"

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
// came past. The secret is kept in memory with the knock only, and goes with it. The
// knock that replaces another keeps its secret: the page may never get the new knock's
// lobby message (its path dying again), and knocks again with the secret it has.
//
// A replacement is not a knock from its address (a neighbour's knocks must not cost the
// person its place), but to every moderator's page it is a new knock: a new id in the
// waiting list whose link is checked again. So a knock and the knocks that replace it
// share a budget of their own (reknockBurst at once, then one every minute): a page
// replaces its knock only when its connection died without the server noticing, which
// the page's heartbeat tells it after 35 s; a loop of replacements is then judged as new
// knocks, which its address's knock limit holds back.

// knockSecretChars is a knock secret's length as it travels: 32 bytes, unpadded base64url.
const knockSecretChars = 43

// The budget of replacements a knock and those it replaced share.
const (
	reknockBurst = 3
	reknockRate  = 1.0 / 60 // per second
)

// maxKnocksReplaced bounds the ids a knock keeps of the knocks it took the place of
// (knocksReplaced). The budget of replacements alone bounded them by the knock's time
// (about 18 in the default 15 minutes), which -knock-timeout lengthens without end. The
// first is always kept: the moderators' pages know the request by it (continues); of
// the others the oldest are forgotten first. An admit naming one forgotten is for
// nobody: maxKnocksReplaced-1 replacements have come after it, each in a waiting list
// to every moderator, at least 4 minutes' worth at the budget's rate.
const maxKnocksReplaced = 8

// errKnockGone: the knock a join meant to replace no longer waits (admitted, refused
// or gone meanwhile), or its budget of replacements is spent; the join is judged as a
// new knock.
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

// knockContinues is the first knock of those s's knock took the place of ("": none):
// the moderators' pages know the request by it (waiting_list continues).
func (s *Session) knockContinues() lobby.ID {
	if len(s.knocksReplaced) == 0 {
		return ""
	}
	return s.knocksReplaced[0]
}

// withReplaced is the ids a knock keeps when it takes the place of the knock id, which
// had kept replaced: replaced and id, at most maxKnocksReplaced of them, the first
// kept and the oldest of the others forgotten first. replaced is not changed (the knock
// that kept it may still be read).
func withReplaced(replaced []lobby.ID, id lobby.ID) []lobby.ID {
	out := append(slices.Clip(replaced), id) // a new array: replaced's is full
	if len(out) > maxKnocksReplaced {
		out = slices.Delete(out, 1, len(out)-maxKnocksReplaced+1)
	}
	return out
}

// knockNowLocked is the waiting knock that stands for knock id now: id itself while it
// waits, else the waiting knock that took its place (one of its page's knocks again),
// else id (the policy then finds nobody). A moderator's page shows a knock until the
// waiting list that replaces it arrives: its Admit or Deny, clicked in between, was
// refused as for nobody, and the person waited for a second click on the new entry.
// Only this meeting's knocks are looked at.
func (m *Meeting) knockNowLocked(id lobby.ID) lobby.ID {
	if m.lob.IsWaiting(id) {
		return id
	}
	for wid, s := range m.conns {
		if m.lob.IsWaiting(wid) && slices.Contains(s.knocksReplaced, id) {
			return wid
		}
	}
	return id
}

// knocksNamedNowLocked is ids, each named as it stands now (knockNowLocked).
func (m *Meeting) knocksNamedNowLocked(ids []lobby.ID) []lobby.ID {
	out := make([]lobby.ID, len(ids))
	for i, id := range ids {
		out[i] = m.knockNowLocked(id)
	}
	return out
}

// knocksNowLocked is a, its knocks named as they stand now (knockNowLocked) when it
// admits or denies them.
func (m *Meeting) knocksNowLocked(a lobby.Action) lobby.Action {
	switch a := a.(type) {
	case lobby.AdmitOne:
		return lobby.AdmitOne{Target: m.knockNowLocked(a.Target)}
	case lobby.DenyOne:
		return lobby.DenyOne{Target: m.knockNowLocked(a.Target)}
	case lobby.AdmitAll:
		if a.Only == nil {
			return a
		}
		return lobby.AdmitAll{Only: m.knocksNamedNowLocked(a.Only)}
	case lobby.DenyAll:
		return lobby.DenyAll{Targets: m.knocksNamedNowLocked(a.Targets)}
	}
	return a
}
