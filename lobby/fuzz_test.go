package lobby

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzLobby drives a lobby with random events and keeps its own record of what the
// driver did and what the lobby answered. After every step it checks that the effects
// fully explain the new state and that the access rules held:
//
//	(a) every member was admitted (an Admit effect in its current session);
//	(b) nobody who knocked while the lobby was on got in without AdmitOne/AdmitAll
//	    (moderator secrets aside);
//	(c) nobody got in or waited without the password when one was required;
//	(d) nobody is both waiting and a member;
//	(e) whoever left, was refused, denied, expired, removed or sent back stays out until it
//	    knocks again (no silent readmission);
//	(f) the waiting room never holds more than MaxWaiting;
//	(g) after End nothing is left and every event is refused with ErrEnded;
//	(h) every WaitingList goes to exactly the current moderators (or to one new moderator)
//	    and every change of the waiting list sends one; waiting people always know whether a
//	    moderator is present;
//	(i) members never exceed MaxMembers: a knock or AdmitOne into a full meeting is
//	    refused with ErrFull, and AdmitAll admits the oldest knocks up to the limit and
//	    leaves the rest waiting;
//	(j) DenyAll denies exactly those of its targets that wait, and tells the moderators
//	    in one waiting list.
//
// Refused events must return the predicted error, no effects, and leave the state as it was.
func FuzzLobby(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		b := in.next() // bits 0-1: MaxWaiting-1; the rest: how far below the pool MaxMembers is
		m := newModel(t, 1+int(b%4), len(fuzzPool)-int(b>>2)%len(fuzzPool), fuzzSettings(in.next()))
		for steps := 0; len(in.b) > 0 && steps < 100; steps++ {
			m.step(decode(in, m))
		}
	})
}

// The fuzz ops; each is followed by the bytes listed.
const (
	opKnock     = iota // id, credentials (bit 0 password, bits 1+2 moderator, bits 3+4 time, bit 5: then the id of the knock it replaces)
	opLeave            // id
	opTick             // time step
	opAdmit            // by, target
	opDeny             // by, target
	opAdmitAll         // by
	opSendBack         // by, target
	opRemove           // by, target
	opSetRole          // by, target, role
	opSettings         // by, settings bits
	opMedia            // by, target, command
	opNilAction        // by
	opDenyAll          // by, which of the pool it names (bit i: fuzzPool[i])
	opEnd              // by, guard (ends only if guard%4 == 0)
	opCount
)

// Time moves in quarter minutes, so knocks often expire exactly at the TTL.
const (
	fuzzTTL  = 10 * time.Minute
	fuzzStep = 15 * time.Second
)

var (
	fuzzPool     = []ID{"a", "b", "c", "d", "e", "f"}
	fuzzRoles    = []Role{RoleParticipant, RolePresenter, RoleModerator, "", "owner"}
	fuzzCommands = []Command{CommandAskUnmute, CommandMuteMic, CommandMuteCamera, CommandStopScreen, "unmute", ""}
)

// fuzzSeeds walk through the main flows, so the seed corpus alone covers them.
func fuzzSeeds() [][]byte {
	const a, b, c, d, e = 0, 1, 2, 3, 4
	const pw, mod = 1, 6 // credential bytes: password given; moderator secret
	return [][]byte{
		// Admit, grant presenter, mute, remove, knock again, deny, end.
		seed(3, 0, opKnock, a, mod, opKnock, b, pw, opAdmit, a, b, opSetRole, a, b, 1, opMedia, a, b, 1,
			opRemove, a, b, opMedia, a, b, 0, opKnock, b, pw, opDeny, a, b, opKnock, c, 0, opEnd, a, 0),
		// Lock, a moderator through the lock, send back, unlock, full lobby, admit all.
		seed(2, 0, opKnock, a, mod, opSettings, a, 0x82, opKnock, c, pw, opKnock, d, mod, opSendBack, a, d,
			opSettings, a, 0, opKnock, b, 0, opKnock, c, 0, opKnock, d, 0, opAdmitAll, a),
		// No moderator: wait, a moderator comes and goes, knocks expire.
		seed(4, 0, opKnock, b, 0, opKnock, c, pw, opKnock, a, mod, opLeave, a, opTick, 40, opKnock, d, 0),
		// Two places: a moderator and one admitted; admit and knocks are refused as full,
		// admit all leaves the rest waiting; after a leave, admit all takes the oldest.
		seedCap(4, 2, 0, opKnock, a, mod, opKnock, b, 0, opKnock, c, 8, opKnock, d, 16, opAdmitAll, a,
			opAdmit, a, c, opKnock, e, mod, opLeave, b, opAdmitAll, a),
		// Knocks again on new connections: one continues a knock in its place and time
		// through a lock, past the password and after the lobby went off; one continues
		// a knock that is gone, and a moderator's continues nothing.
		seed(4, 0x20, opKnock, b, pw, opTick, 8, opKnock, c, pw, opKnock, a, mod, opSettings, a, 0xa2,
			opKnock, d, 32, b, opKnock, e, 32, b, opSettings, a, 0x21, opKnock, b, 32, d, opKnock, e, 38, c, opAdmit, a, b),
		// Lobby off with a password: the wrong one is refused, the right one comes straight in;
		// then the lobby goes on and a knock waits again.
		seed(4, 0x21, opKnock, b, 0, opKnock, b, pw, opKnock, a, mod, opSettings, a, 0x20, opKnock, c, pw, opAdmit, a, c),
		// Deny all of some shown (b and d, and e who is not there) while c keeps waiting,
		// then of nobody; a participant's deny all is refused.
		seed(4, 0, opKnock, a, mod, opKnock, b, 0, opKnock, c, 0, opKnock, d, 0, opDenyAll, a, 0x1a,
			opDenyAll, a, 0, opAdmit, a, c, opDenyAll, c, 0x04),
		// Grant and revoke moderator, the last moderator cannot step down, a non-moderator acts, end.
		seed(3, 0, opKnock, a, mod, opKnock, b, 0, opAdmit, a, b, opSetRole, a, b, 2, opSetRole, b, a, 0,
			opSetRole, a, a, 0, opSetRole, b, b, 0, opNilAction, a, opNilAction, b, opEnd, b, 0, opKnock, a, mod),
	}
}

func seed(maxWaiting, settings byte, ops ...byte) []byte {
	return seedCap(maxWaiting, byte(len(fuzzPool)), settings, ops...)
}

// seedCap is seed with a participant limit (1 to the size of the pool).
func seedCap(maxWaiting, maxMembers, settings byte, ops ...byte) []byte {
	return append([]byte{maxWaiting - 1 | (byte(len(fuzzPool))-maxMembers)<<2, settings}, ops...)
}

// fuzzSettings: the lobby is on unless bit 0 is set and bit 6 clear; locked needs bits 1 and 7.
func fuzzSettings(b byte) Settings {
	return Settings{
		Lobby:            b&1 == 0 || b&64 != 0,
		Locked:           b&0x82 == 0x82,
		ScreenShare:      b&4 != 0,
		Unmute:           b&8 != 0,
		Chat:             b&16 != 0,
		PasswordRequired: b&32 != 0,
	}
}

type input struct{ b []byte }

func (in *input) next() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *input) id() ID { return fuzzPool[int(in.next())%len(fuzzPool)] }

// poolPart is the ids of fuzzPool whose bits are set in b (bit i: fuzzPool[i]).
func poolPart(b byte) []ID {
	out := []ID{}
	for i, id := range fuzzPool {
		if b&(1<<i) != 0 {
			out = append(out, id)
		}
	}
	return out
}

type event struct {
	kind   string // knock, leave, tick, act
	id     ID     // who knocks or leaves, or who acts
	cred   Credentials
	action Action
	now    time.Time
}

func (e event) String() string {
	switch e.kind {
	case "knock":
		return fmt.Sprintf("Knock(%s, %+v)", e.id, e.cred)
	case "leave":
		return fmt.Sprintf("Leave(%s)", e.id)
	case "tick":
		return fmt.Sprintf("Tick(+%v)", e.now.Sub(t0))
	}
	return fmt.Sprintf("Act(%s, %T%+v)", e.id, e.action, e.action)
}

func decode(in *input, m *model) event {
	switch op := in.next() % opCount; op {
	case opKnock:
		id, c := in.id(), in.next()
		m.now = m.now.Add(time.Duration(c>>3%4) * fuzzStep)
		cred := Credentials{PasswordOK: c&1 != 0, Moderator: c&6 == 6}
		if c&32 != 0 {
			cred.Replaces = in.id()
		}
		return event{kind: "knock", id: id, cred: cred, now: m.now}
	case opLeave:
		return event{kind: "leave", id: in.id()}
	case opTick:
		m.now = m.now.Add(time.Duration(in.next()%64) * fuzzStep)
		return event{kind: "tick", now: m.now}
	default:
		ev := event{kind: "act", id: in.id()}
		switch op {
		case opAdmit:
			ev.action = AdmitOne{Target: in.id()}
		case opDeny:
			ev.action = DenyOne{Target: in.id()}
		case opAdmitAll:
			ev.action = AdmitAll{}
		case opSendBack:
			ev.action = SendToLobby{Target: in.id()}
		case opRemove:
			ev.action = Remove{Target: in.id()}
		case opSetRole:
			ev.action = SetRole{Target: in.id(), Role: fuzzRoles[int(in.next())%len(fuzzRoles)]}
		case opSettings:
			ev.action = UpdateSettings{Settings: fuzzSettings(in.next())}
		case opMedia:
			ev.action = Media{Target: in.id(), Command: fuzzCommands[int(in.next())%len(fuzzCommands)]}
		case opNilAction:
			ev.action = nil
		case opDenyAll:
			ev.action = DenyAll{Targets: poolPart(in.next())}
		default:
			if in.next()%4 == 0 {
				ev.action = End{}
			} else {
				ev.action = AdmitAll{}
			}
		}
		return ev
	}
}

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

// apply checks that effect e is justified by ev and the record, then records it.
func (m *model) apply(ev event, e Effect, newMods map[ID]bool) {
	knocker := func(id ID) bool { return ev.kind == "knock" && ev.id == id }
	switch e := e.(type) {
	case Admit:
		s := m.sessions[e.ID]
		if s == nil || m.members[e.ID] != "" {
			m.fail("admitted %s: never knocked, or already in", e.ID)
		}
		switch a := ev.action.(type) {
		case AdmitOne, AdmitAll:
			if m.waiting[e.ID] == nil || e.Role != RoleParticipant {
				m.fail("%v admitted %s, who was not waiting, as %s", ev, e.ID, e.Role)
			}
			if one, ok := a.(AdmitOne); ok && one.Target != e.ID {
				m.fail("%v admitted %s", ev, e.ID)
			}
			s.byModerator = true
		default:
			if !knocker(e.ID) || (e.Role == RoleModerator) != ev.cred.Moderator {
				m.fail("%v admitted %s as %s", ev, e.ID, e.Role)
			}
			if !ev.cred.Moderator && (m.settings.Locked || m.settings.Lobby) {
				m.fail("a knock came straight in through a lock or an active lobby") // (b)
			}
		}
		if s.pwRequired && !s.cred.PasswordOK && !s.cred.Moderator {
			m.fail("%s got in without the password", e.ID) // (c)
		}
		if s.lobbyOn && !s.cred.Moderator && !s.byModerator {
			m.fail("%s got past the lobby without a moderator", e.ID) // (b)
		}
		if len(m.members) >= m.maxMem {
			m.fail("%v admitted %s into a full meeting", ev, e.ID) // (i)
		}
		s.admitted = true
		delete(m.waiting, e.ID)
		m.members[e.ID] = e.Role
		if e.Role == RoleModerator {
			newMods[e.ID] = true
		}
	case Wait:
		if ev.cred.Replaces != "" {
			// A knock that continues one (its Refuse came first): in that one's place,
			// whatever the settings say now; it came past them then.
			s := m.sessions[e.ID]
			if !knocker(e.ID) || m.replaced == nil || m.waiting[ev.cred.Replaces] != nil || len(m.waiting) >= m.max {
				m.fail("%v made %s wait", ev, e.ID)
			}
			if s.pwRequired && !s.cred.PasswordOK {
				m.fail("%s waits without the password", e.ID) // (c)
			}
			if e.ModeratorPresent != (len(m.moderators()) > 0) {
				m.fail("%s told ModeratorPresent=%v", e.ID, e.ModeratorPresent)
			}
			m.waiting[e.ID] = &waiter{since: m.replaced.since, told: e.ModeratorPresent}
			break
		}
		if !knocker(e.ID) || ev.cred.Moderator || m.settings.Locked || !m.settings.Lobby || len(m.waiting) >= m.max {
			m.fail("%v made %s wait", ev, e.ID)
		}
		if m.settings.PasswordRequired && !ev.cred.PasswordOK {
			m.fail("%s waits without the password", e.ID) // (c)
		}
		if e.ModeratorPresent != (len(m.moderators()) > 0) {
			m.fail("%s told ModeratorPresent=%v", e.ID, e.ModeratorPresent)
		}
		m.waiting[e.ID] = &waiter{since: ev.now, told: e.ModeratorPresent}
	case Refuse:
		w := m.waiting[e.ID]
		var ok bool
		switch e.Reason {
		case ReasonWrongPassword:
			ok = knocker(e.ID) && m.settings.PasswordRequired && !ev.cred.PasswordOK
		case ReasonLocked:
			ok = knocker(e.ID) && m.settings.Locked
		case ReasonLobbyFull:
			ok = knocker(e.ID) && len(m.waiting) >= m.max
		case ReasonDenied:
			all, isAll := ev.action.(DenyAll)
			ok = w != nil && (ev.action == Action(DenyOne{Target: e.ID}) || isAll && slices.Contains(all.Targets, e.ID))
		case ReasonExpired:
			ok = w != nil && ev.kind == "tick" && ev.now.Sub(w.since) >= fuzzTTL
		case ReasonEnded:
			ok = w != nil && ev.action == Action(End{})
		case ReasonReplaced:
			ok = w != nil && ev.kind == "knock" && ev.cred.Replaces == e.ID
		}
		if !ok {
			m.fail("%v refused %s (%s)", ev, e.ID, e.Reason)
		}
		delete(m.waiting, e.ID)
		m.gone[e.ID] = true
	case Eject:
		var ok bool
		switch e.Reason {
		case ReasonRemoved:
			ok = ev.action == Action(Remove{Target: e.ID})
		case ReasonSentToLobby:
			ok = ev.action == Action(SendToLobby{Target: e.ID})
		case ReasonEnded:
			ok = ev.action == Action(End{})
		}
		if !ok || m.members[e.ID] == "" {
			m.fail("%v ejected %s (%s)", ev, e.ID, e.Reason)
		}
		delete(m.members, e.ID)
		m.gone[e.ID] = true
	case RoleChanged:
		if ev.action != Action(SetRole{Target: e.ID, Role: e.Role}) || m.members[e.ID] == "" {
			m.fail("%v changed the role of %s to %s", ev, e.ID, e.Role)
		}
		m.members[e.ID] = e.Role
		if e.Role == RoleModerator {
			newMods[e.ID] = true
		}
	case SettingsChanged:
		if ev.action != Action(UpdateSettings{Settings: e.Settings}) {
			m.fail("%v changed the settings to %+v", ev, e.Settings)
		}
		m.settings = e.Settings
	case MediaCommand:
		if ev.action != Action(Media{Target: e.Target, Command: e.Command}) || e.By != ev.id || m.members[e.Target] == "" {
			m.fail("%v gave media command %+v", ev, e)
		}
	case ModeratorPresence:
		for _, id := range e.To {
			if w := m.waiting[id]; w != nil {
				w.told = e.Present
			}
		}
	case WaitingList: // checked against the final state
	default:
		m.fail("unknown effect %T", e)
	}
}

// check compares the record with the lobby and checks the invariants.
func (m *model) check(ev event, before snapshot, modsBefore []ID, effects []Effect, newMods map[ID]bool) {
	after := snap(m.l)
	var waitIDs []ID
	for _, k := range after.Waiting {
		waitIDs = append(waitIDs, k.ID)
		if w := m.waiting[k.ID]; w == nil || !w.since.Equal(k.Since) {
			m.fail("%s waits since %v; the effects do not say so", k.ID, k.Since)
		}
	}
	if !maps.Equal(after.Members, m.members) || len(after.Waiting) != len(m.waiting) ||
		after.Settings != m.settings || after.Ended != m.ended {
		m.fail("the effects do not explain the state %+v", after)
	}
	for _, id := range fuzzPool {
		_, member := m.l.Role(id)
		if member && m.l.IsWaiting(id) {
			m.fail("%s is both waiting and a member", id) // (d)
		}
		if member && !m.sessions[id].admitted {
			m.fail("%s is a member without an Admit", id) // (a)
		}
		if m.gone[id] && (member || m.l.IsWaiting(id)) {
			m.fail("%s is back without knocking", id) // (e)
		}
		if !member && (m.l.Can(id, PermChat) || m.l.Can(id, PermUnmute) || m.l.Can(id, PermShareScreen)) {
			m.fail("%s may act without being a member", id)
		}
	}
	if len(after.Members) > m.maxMem {
		m.fail("%d members, at most %d", len(after.Members), m.maxMem) // (i)
	}
	if _, ok := ev.action.(AdmitAll); ok && !m.ended {
		// The oldest were let in: what still waits is the newest part of the list.
		if len(after.Waiting) > 0 && len(after.Members) < m.maxMem {
			m.fail("admit all left %d waiting with room for more", len(after.Waiting)) // (i)
		}
		if !reflect.DeepEqual(norm([]Effect{WaitingList{Waiting: after.Waiting}}), norm([]Effect{WaitingList{Waiting: before.Waiting[len(before.Waiting)-len(after.Waiting):]}})) {
			m.fail("admit all did not take the oldest: %v left of %v", after.Waiting, before.Waiting) // (i)
		}
	}
	if all, ok := ev.action.(DenyAll); ok && !m.ended {
		lists := 0
		for _, e := range effects {
			if _, ok := e.(WaitingList); ok {
				lists++
			}
		}
		for _, k := range after.Waiting {
			if slices.Contains(all.Targets, k.ID) {
				m.fail("deny all left %s waiting", k.ID) // (j)
			}
		}
		if lists != 1 {
			m.fail("deny all sent %d waiting lists, want 1", lists) // (j)
		}
	}
	if len(after.Waiting) > m.max {
		m.fail("%d waiting, at most %d", len(after.Waiting), m.max) // (f)
	}
	if m.ended && (len(after.Members) > 0 || len(after.Waiting) > 0) {
		m.fail("people left after the end") // (g)
	}
	// (h) who sees the waiting list, and what waiting people know.
	mods := m.moderators()
	toAll := false
	presence := 0
	for _, e := range effects {
		switch e := e.(type) {
		case WaitingList:
			single := len(e.To) == 1 && newMods[e.To[0]]
			if !slices.Equal(e.To, mods) && !single {
				m.fail("waiting list to %v, moderators are %v", e.To, mods)
			}
			if !reflect.DeepEqual(norm([]Effect{e}), norm([]Effect{WaitingList{To: e.To, Waiting: after.Waiting}})) {
				m.fail("waiting list %+v, the list is %+v", e.Waiting, after.Waiting)
			}
			toAll = toAll || slices.Equal(e.To, mods)
		case ModeratorPresence:
			presence++
			if !slices.Equal(e.To, waitIDs) || e.Present != (len(mods) > 0) {
				m.fail("presence %+v, waiting %v, moderators %v", e, waitIDs, mods)
			}
		}
	}
	if !m.ended && !reflect.DeepEqual(before.Waiting, after.Waiting) && !toAll {
		m.fail("the waiting list changed and the moderators %v were not told", mods) // (h)
	}
	changed := (len(modsBefore) > 0) != (len(mods) > 0) && len(waitIDs) > 0
	if (changed && presence != 1) || (!changed && presence != 0) {
		m.fail("%d presence effects; presence changed for waiting people: %v", presence, changed)
	}
	for id, w := range m.waiting {
		if w.told != (len(mods) > 0) {
			m.fail("%s believes ModeratorPresent=%v", id, w.told)
		}
		if ev.kind == "tick" && ev.now.Sub(w.since) >= fuzzTTL {
			m.fail("%s still waits after the knock TTL", id)
		}
	}
	for id := range newMods {
		if !slices.ContainsFunc(effects, func(e Effect) bool { w, ok := e.(WaitingList); return ok && slices.Contains(w.To, id) }) {
			m.fail("new moderator %s did not get the waiting list", id)
		}
	}
	for id, r := range m.members {
		share := r != RoleParticipant || m.settings.ScreenShare
		unmute := r != RoleParticipant || m.settings.Unmute
		if m.l.Can(id, PermShareScreen) != share || m.l.Can(id, PermUnmute) != unmute || m.l.Can(id, PermChat) != m.settings.Chat {
			m.fail("%s (%s) has the wrong permissions under %+v", id, r, m.settings)
		}
	}
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
