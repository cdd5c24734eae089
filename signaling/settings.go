package signaling

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"conclave/lobby"
)

// A meeting's settings have a revision, which every change a moderator makes moves on
// by one, and each field remembers the revision and the moderator of its last change.
// An update_settings says which revision its sender's page showed; a field it names
// that another moderator changed after that revision is a clash, and the whole message
// is refused (settings_changed), changing nothing: two moderators who set a password
// at once were both told "saved" while only the later one held, and a moderator whose
// page still showed the meeting unlocked undid a lock it had never seen. A boolean the
// sender sets to the value already in force is no clash (nothing of the other's is
// lost); a password always is (its value is nobody's to compare, and a moderator must
// never believe a password holds that does not), but for a removal where none is in
// force, whose result holds already.
//
// The sender's own last change of a field is no clash: a page that flips a switch twice
// before the first answer came sends the same revision twice.
//
// A message without a revision (clients older than revisions) is applied as it comes,
// over whatever changed meanwhile: the last one holds.

// firstSettingsRevision is the revision of a meeting's settings as its room gave them.
const firstSettingsRevision = 1

// newSettingsEpoch makes the name of a meeting's revisions, random, told in every
// welcome. Revisions count afresh in each meeting of a room, so a page's new session
// (a join after its resume failed) could not tell whether what it began before (a
// password typed, a removal asked) was based on a revision of the meeting it came
// into: it based it on the first revision, and in the same meeting its own earlier
// password change, made under its old participant id, refused it as another
// moderator's (settings_changed). The same epoch in two welcomes is the same meeting.
// It names no one and no room: 16 random bytes.
func newSettingsEpoch() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// The settings fields an update_settings may name, as on the wire.
const (
	fieldLobby = iota
	fieldLocked
	fieldScreenShare
	fieldUnmute
	fieldChat
	fieldPassword
	settingsFields
)

var settingsFieldNames = [settingsFields]string{"lobby", "locked", "screenShare", "unmute", "chat", "password"}

// settingsRevisions is the settings' revision and each field's last change.
type settingsRevisions struct {
	rev  uint64
	last [settingsFields]struct {
		rev uint64   // 0: not changed in this meeting
		by  lobby.ID // the moderator whose update_settings changed it
	}
}

// staleSettings refuses an update_settings that would undo what another moderator
// changed after the revision it was based on.
type staleSettings struct {
	settings lobby.Settings // in force
	revision uint64
	fields   []string // the message's fields that clashed
}

func (e *staleSettings) Error() string {
	return fmt.Sprintf("settings changed since the revision sent: %v", e.fields)
}

// errFutureRevision: an update_settings based on a revision the meeting has not had.
var errFutureRevision = errors.New("revision is newer than the meeting's settings")

// boolField is a boolean field of an update_settings and its slot in the settings.
type boolField struct{ want, cur *bool }

// boolFields pairs each boolean field of p with its slot in s.
func boolFields(p *UpdateSettingsPayload, s *lobby.Settings) [fieldPassword]boolField {
	return [fieldPassword]boolField{
		fieldLobby:       {p.Lobby, &s.Lobby},
		fieldLocked:      {p.Locked, &s.Locked},
		fieldScreenShare: {p.ScreenShare, &s.ScreenShare},
		fieldUnmute:      {p.Unmute, &s.Unmute},
		fieldChat:        {p.Chat, &s.Chat},
	}
}

// staleLocked checks p against the settings in force: errFutureRevision, a
// *staleSettings, or nil when p may be applied (also when it names no revision).
func (m *Meeting) staleLocked(by string, p UpdateSettingsPayload) error {
	if p.Revision == nil {
		return nil
	}
	base, rev := *p.Revision, &m.settingsRev
	if base > rev.rev {
		return errFutureRevision
	}
	clashes := func(f int) bool {
		last := rev.last[f]
		return last.rev > base && last.by != lobby.ID(by)
	}
	s := m.lob.Settings()
	var fields []string
	for f, b := range boolFields(&p, &s) {
		if b.want != nil && *b.want != *b.cur && clashes(f) {
			fields = append(fields, settingsFieldNames[f])
		}
	}
	// A removal of the password where none is in force loses nothing of another's: its
	// result holds already (another moderator removed it first), as a switch set to the
	// value in force.
	removesNone := p.Password != nil && *p.Password == "" && m.pwHash == ""
	if p.Password != nil && !removesNone && clashes(fieldPassword) {
		fields = append(fields, settingsFieldNames[fieldPassword])
	}
	if fields == nil {
		return nil
	}
	return &staleSettings{settings: s, revision: rev.rev, fields: fields}
}

// newPassword is what a change of the password applies: the new password's hash (""
// clears it), and its sender's term as a moderator when the change began.
type newPassword struct {
	hash string
	term uint64
}

// updateSettings applies new settings and, when pw is not nil, a new password hash, as
// one moderator action, unless p is stale (staleLocked, checked again here: another
// change may have come while the password was hashed) or pw's sender is no longer in
// the term it began the change in (passwordRefusalLocked).
func (m *Meeting) updateSettings(by, ref string, p UpdateSettingsPayload, pw *newPassword) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	if pw != nil {
		err = m.passwordRefusalLocked(lobby.ID(by), pw.term, p) // staleLocked's, and the term's
	} else {
		err = m.staleLocked(by, p)
	}
	if err != nil {
		return err
	}
	// Only the fields the message names change, on the settings as they are now: a
	// change another moderator made while this one's password was hashed stays.
	s := m.lob.Settings()
	var changed []int
	for f, b := range boolFields(&p, &s) {
		if b.want != nil && *b.want != *b.cur {
			*b.cur = *b.want
			changed = append(changed, f)
		}
	}
	newHash := m.pwHash
	if pw != nil {
		newHash = pw.hash
		// A new password is a change even where its text is the old one's; clearing
		// none is not.
		if newHash != "" || m.pwHash != "" {
			changed = append(changed, fieldPassword)
		}
	}
	s.PasswordRequired = newHash != ""
	effects, err := m.lob.Act(lobby.ID(by), lobby.UpdateSettings{Settings: s})
	if err != nil {
		return err
	}
	m.pwHash = newHash
	rev := &m.settingsRev
	rev.rev++
	names := make([]string, 0, len(changed))
	for _, f := range changed {
		rev.last[f].rev, rev.last[f].by = rev.rev, lobby.ID(by)
		names = append(names, settingsFieldNames[f])
	}
	m.settingsRef.to, m.settingsRef.ref, m.settingsRef.changed = lobby.ID(by), ref, names
	m.applyLocked(effects)
	m.settingsRef.to, m.settingsRef.ref, m.settingsRef.changed = "", "", nil
	return nil
}

// tellSettingsLocked sends every member the settings an update_settings made, with
// their revision; the copy to its moderator names the message as its ref. Only the
// moderators' copies name the fields it changed: a participant's shows what the
// settings show, as before revisions, and not that a password was replaced.
func (m *Meeting) tellSettingsLocked(s lobby.Settings) {
	p := SettingsPayload{Settings: s, Revision: m.settingsRev.rev}
	toMembers := encode(TypeSettings, "", p)
	p.Changed = m.settingsRef.changed
	toModerators := encode(TypeSettings, "", p)
	to := m.settingsRef.to
	if m.settingsRef.ref == "" {
		to = ""
	}
	for id := range m.members {
		if id == to {
			continue
		}
		msg := toMembers
		if role, _ := m.lob.Role(id); role == lobby.RoleModerator {
			msg = toModerators
		}
		m.hearsLocked(id).send(msg)
	}
	if c := m.hearsLocked(to); to != "" && m.members[to] != nil && c != nil {
		c.send(encode(TypeSettings, m.settingsRef.ref, p))
	}
}

// missedPasswordLocked is what the welcome of member id's resume says of the password
// (passwordRevision): the revision of its last change in this meeting when another
// moderator made it, for a moderator; 0 otherwise. A moderator's page that reconnected
// missed the `settings` of what changed meanwhile, and a replaced password looks like
// the one before: it compares this with the revision it showed. Its own change it was
// told of, or told that it may not know (and a change it had not seen would have
// clashed with it, so the last change tells all).
func (m *Meeting) missedPasswordLocked(id lobby.ID, role lobby.Role, resumed bool) uint64 {
	last := m.settingsRev.last[fieldPassword]
	if !resumed || role != lobby.RoleModerator || last.by == id {
		return 0
	}
	return last.rev
}

// settingsError maps what updateSettings, takePasswordTurn and startPasswordHash
// return to a protocol error.
func settingsError(err error) *Error {
	var stale *staleSettings
	switch {
	case errors.As(err, &stale):
		e := errorf(CodeSettingsChanged, "another moderator changed %v since the revision this change was based on; nothing was changed", stale.fields)
		e.Stale = stale
		return e
	case errors.Is(err, errFutureRevision):
		return errorf(CodeInvalidField, "revision is not one of this meeting's settings")
	case errors.Is(err, errPasswordChangesTooFast):
		return errorf(CodeRateLimited, "too many password changes; slow down")
	}
	return policyError(err)
}
