package lobby

// FuzzLobby's model: the driver's record of the lobby, the error and the first effect
// the rules demand for an event, and one step (the event, then its effects checked).

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// session is the driver's record of one id since its latest knock.
type session struct {
	cred        Credentials
	pwRequired  bool // a password was required when it knocked
	lobbyOn     bool // the lobby was on when it knocked
	admitted    bool
	byModerator bool // admitted by AdmitOne or AdmitAll
}

type waiter struct {
	since time.Time
	told  bool // what it was last told about a moderator's presence
}

// model is what the driver knows from its own events and the effects it got back.
type model struct {
	t        *testing.T
	l        *Lobby
	max      int
	maxMem   int
	now      time.Time
	settings Settings
	members  map[ID]Role
	waiting  map[ID]*waiter
	sessions map[ID]*session
	gone     map[ID]bool // out since its last knock
	replaced *waiter     // the knock the knock being applied continues
	ended    bool
	log      []logEntry // formatted only on failure: formatting every step is slow
}

type logEntry struct {
	ev      event
	effects []Effect
	err     error
}

func newModel(t *testing.T, maxWaiting, maxMembers int, s Settings) *model {
	return &model{
		t: t, l: New(Config{MaxWaiting: maxWaiting, KnockTTL: fuzzTTL, MaxMembers: maxMembers}, s), max: maxWaiting, maxMem: maxMembers,
		now: t0, settings: s,
		members: map[ID]Role{}, waiting: map[ID]*waiter{}, sessions: map[ID]*session{}, gone: map[ID]bool{},
	}
}

func (m *model) fail(format string, args ...any) {
	var b strings.Builder
	for _, e := range m.log {
		fmt.Fprintf(&b, "\n  %v -> %s %v", e.ev, fmtEffects(e.effects), e.err)
	}
	m.t.Fatalf("%s\nafter:%s", fmt.Sprintf(format, args...), b.String())
}

func (m *model) moderators() []ID {
	var out []ID
	for id, r := range m.members {
		if r == RoleModerator {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// predict says which error the rules demand for ev, or nil.
func (m *model) predict(ev event) error {
	switch {
	case ev.kind == "knock" && m.ended:
		return ErrEnded
	case ev.kind == "knock" && (m.waiting[ev.id] != nil || m.members[ev.id] != ""):
		return ErrDuplicateID
	case ev.kind == "knock" && ev.cred.Replaces != "" && ev.cred.Moderator:
		return ErrInvalid
	case ev.kind == "knock" && ev.cred.Replaces != "":
		w := m.waiting[ev.cred.Replaces]
		return unless(w != nil && ev.now.Sub(w.since) < fuzzTTL, ErrUnknownTarget)
	case ev.kind == "knock" && len(m.members) >= m.maxMem:
		return ErrFull
	case ev.kind != "act":
		return nil
	case m.ended:
		return ErrEnded
	case m.members[ev.id] != RoleModerator:
		return ErrNotModerator
	}
	member := func(id ID) bool { return m.members[id] != "" }
	switch a := ev.action.(type) {
	case AdmitOne:
		return first(unless(m.waiting[a.Target] != nil, ErrUnknownTarget), unless(len(m.members) < m.maxMem, ErrFull))
	case DenyOne:
		return unless(m.waiting[a.Target] != nil, ErrUnknownTarget)
	case SendToLobby:
		return first(unless(member(a.Target), ErrUnknownTarget), unless(a.Target != ev.id, ErrInvalid))
	case Remove:
		return first(unless(member(a.Target), ErrUnknownTarget), unless(a.Target != ev.id, ErrInvalid))
	case SetRole:
		if !a.Role.Valid() {
			return ErrInvalid
		}
		if !member(a.Target) {
			return ErrUnknownTarget
		}
		return unless(m.members[a.Target] == a.Role || a.Target != ev.id || len(m.moderators()) > 1, ErrInvalid)
	case Media:
		return first(unless(member(a.Target), ErrUnknownTarget), unless(slices.Contains(fuzzCommands[:4], a.Command), ErrInvalid))
	case AdmitAll, DenyAll, UpdateSettings, End:
		return nil
	}
	return ErrInvalid
}

func unless(ok bool, err error) error {
	if ok {
		return nil
	}
	return err
}

func first(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (m *model) step(ev event) {
	before := snap(m.l)
	modsBefore := m.moderators()
	want := m.predict(ev)
	var effects []Effect
	var err error
	switch ev.kind {
	case "knock":
		effects, err = m.l.Knock(ev.id, "name-"+string(ev.id), ev.cred, ev.now)
	case "leave":
		effects = m.l.Leave(ev.id)
	case "tick":
		effects = m.l.Tick(ev.now)
	default:
		effects, err = m.l.Act(ev.id, ev.action)
	}
	m.log = append(m.log, logEntry{ev, effects, err})
	if !errors.Is(err, want) {
		m.fail("error %v, want %v", err, want)
	}
	if err != nil {
		if len(effects) > 0 || !reflect.DeepEqual(before, snap(m.l)) {
			m.fail("a refused event had effects or changed the state")
		}
		return
	}
	if m.ended && len(effects) > 0 {
		m.fail("effects after the end")
	}
	switch ev.kind {
	case "knock":
		if want := m.knockOutcome(ev); len(effects) == 0 || effects[0] != want {
			m.fail("%v: first effect %s, want %s", ev, fmtEffects(effects), fmtEffects([]Effect{want}))
		}
		delete(m.gone, ev.id)
		m.sessions[ev.id] = &session{cred: ev.cred, pwRequired: m.settings.PasswordRequired, lobbyOn: m.settings.Lobby}
		m.replaced = nil
		if old := ev.cred.Replaces; old != "" {
			// It continues that knock: judged as that one was, waiting from its time.
			was := *m.sessions[old]
			m.sessions[ev.id] = &session{cred: was.cred, pwRequired: was.pwRequired, lobbyOn: was.lobbyOn}
			m.replaced = m.waiting[old]
		}
	case "leave":
		if m.waiting[ev.id] != nil || m.members[ev.id] != "" {
			m.gone[ev.id] = true
		}
		delete(m.waiting, ev.id)
		delete(m.members, ev.id)
	}
	newMods := map[ID]bool{}
	for _, e := range effects {
		m.apply(ev, e, newMods)
	}
	if _, ok := ev.action.(End); ok {
		m.ended = true
	}
	m.check(ev, before, modsBefore, effects, newMods)
}

// knockOutcome is the first effect the join order demands for an accepted knock:
// moderator secret, then password, lock, lobby off, room in the lobby.
func (m *model) knockOutcome(ev event) Effect {
	switch {
	case ev.cred.Replaces != "":
		return Refuse{ID: ev.cred.Replaces, Reason: ReasonReplaced}
	case ev.cred.Moderator:
		return Admit{ID: ev.id, Role: RoleModerator}
	case m.settings.PasswordRequired && !ev.cred.PasswordOK:
		return Refuse{ID: ev.id, Reason: ReasonWrongPassword}
	case m.settings.Locked:
		return Refuse{ID: ev.id, Reason: ReasonLocked}
	case !m.settings.Lobby:
		return Admit{ID: ev.id, Role: RoleParticipant}
	case len(m.waiting) >= m.max:
		return Refuse{ID: ev.id, Reason: ReasonLobbyFull}
	}
	return Wait{ID: ev.id, ModeratorPresent: len(m.moderators()) > 0}
}
