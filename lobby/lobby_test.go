package lobby

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture is a lobby's state, built directly so each case says exactly where it starts.
type fixture struct {
	cfg      Config
	settings *Settings   // nil: DefaultSettings
	members  map[ID]Role // nil: the standard cast below
	waiting  []ID        // nil: w1, w2 (knocked at t0, t0+1m); empty: nobody
	ended    bool
}

// The standard cast: two moderators, a presenter, a participant; two people waiting.
func standardMembers() map[ID]Role {
	return map[ID]Role{"m1": RoleModerator, "m2": RoleModerator, "r1": RolePresenter, "p1": RoleParticipant}
}

func (f fixture) build() *Lobby {
	s := DefaultSettings()
	if f.settings != nil {
		s = *f.settings
	}
	l := New(f.cfg, s)
	members := f.members
	if members == nil {
		members = standardMembers()
	}
	for id, r := range members {
		l.members[id] = r
	}
	waiting := f.waiting
	if waiting == nil {
		waiting = []ID{"w1", "w2"}
	}
	for i, id := range waiting {
		l.waiting[id] = knockOf(id, i)
	}
	l.ended = f.ended
	return l
}

// knockOf is the Knock of the i-th person to wait in a fixture.
func knockOf(id ID, i int) Knock {
	return Knock{ID: id, Name: "name-" + string(id), Since: t0.Add(time.Duration(i) * time.Minute)}
}

func knocks(ids ...ID) []Knock {
	out := []Knock{}
	for i, id := range ids {
		out = append(out, knockOf(id, i))
	}
	return out
}

func ids(v ...ID) []ID { return v }

func settingsWith(mod func(*Settings)) *Settings {
	s := DefaultSettings()
	mod(&s)
	return &s
}

// snapshot is everything observable about a lobby.
type snapshot struct {
	Settings Settings
	Waiting  []Knock
	Members  map[ID]Role
	Ended    bool
}

func snap(l *Lobby) snapshot {
	m := map[ID]Role{}
	for _, id := range l.Members() {
		r, _ := l.Role(id)
		m[id] = r
	}
	return snapshot{Settings: l.Settings(), Waiting: l.Waiting(), Members: m, Ended: l.Ended()}
}

// norm treats nil and empty slices alike, so expectations need not care which one the
// code builds.
func norm(effects []Effect) []Effect {
	out := []Effect{}
	for _, e := range effects {
		switch e := e.(type) {
		case WaitingList:
			if e.To == nil {
				e.To = []ID{}
			}
			if e.Waiting == nil {
				e.Waiting = []Knock{}
			}
			out = append(out, e)
		case ModeratorPresence:
			if e.To == nil {
				e.To = []ID{}
			}
			out = append(out, e)
		default:
			out = append(out, e)
		}
	}
	return out
}

func checkEffects(t *testing.T, got, want []Effect) {
	t.Helper()
	if !reflect.DeepEqual(norm(got), norm(want)) {
		t.Errorf("effects:\n got  %s\n want %s", fmtEffects(got), fmtEffects(want))
	}
}

func fmtEffects(effects []Effect) string {
	s := "["
	for i, e := range effects {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%T%+v", e, e)
	}
	return s + "]"
}

// checkRefused: a refused event returns the wanted error, no effects and no change.
func checkRefused(t *testing.T, l *Lobby, before snapshot, effects []Effect, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("err = %v, want %v", err, want)
	}
	if len(effects) != 0 {
		t.Errorf("refused event returned effects %s", fmtEffects(effects))
	}
	if after := snap(l); !reflect.DeepEqual(before, after) {
		t.Errorf("refused event changed the state:\n before %+v\n after  %+v", before, after)
	}
}

func TestNewDefaults(t *testing.T) {
	if got, want := DefaultSettings(), (Settings{Lobby: true, Unmute: true, Chat: true}); got != want {
		t.Errorf("DefaultSettings() = %+v, want %+v", got, want)
	}
	for _, cfg := range []Config{{}, {MaxWaiting: -1, KnockTTL: -time.Second, MaxMembers: -1}} {
		l := New(cfg, DefaultSettings())
		if l.cfg.MaxWaiting != 100 || l.cfg.KnockTTL != 15*time.Minute || l.cfg.MaxMembers != 100 {
			t.Errorf("New(%+v) config = %+v, want 50, 15m and 100", cfg, l.cfg)
		}
		if len(l.Waiting()) != 0 || len(l.Members()) != 0 || l.Ended() || l.Settings() != DefaultSettings() {
			t.Errorf("New(%+v) is not empty: %+v", cfg, snap(l))
		}
	}
	l := New(Config{MaxWaiting: 3, KnockTTL: time.Minute}, Settings{Locked: true})
	if l.cfg.MaxWaiting != 3 || l.cfg.KnockTTL != time.Minute || !l.Settings().Locked {
		t.Errorf("New kept %+v %+v", l.cfg, l.Settings())
	}
	// No waiting room holds more than a moderator's page keeps of a list.
	if l := New(Config{MaxWaiting: MaxWaitingCeiling + 1}, DefaultSettings()); l.cfg.MaxWaiting != MaxWaitingCeiling {
		t.Errorf("New(MaxWaiting %d) holds %d waiting, want MaxWaitingCeiling (%d)", MaxWaitingCeiling+1, l.cfg.MaxWaiting, MaxWaitingCeiling)
	}
}

func TestAccessors(t *testing.T) {
	l := fixture{waiting: []ID{}}.build()
	// Same time: ordered by id; earlier time first regardless of id.
	l.waiting["zz"] = Knock{ID: "zz", Since: t0}
	l.waiting["aa"] = Knock{ID: "aa", Since: t0.Add(time.Second)}
	l.waiting["yy"] = Knock{ID: "yy", Since: t0}
	if got := l.waiterIDs(); !slices.Equal(got, ids("yy", "zz", "aa")) {
		t.Errorf("waiting order = %v", got)
	}
	if got := l.Members(); !slices.Equal(got, ids("m1", "m2", "p1", "r1")) {
		t.Errorf("Members() = %v", got)
	}
	if got := l.moderators(); !slices.Equal(got, ids("m1", "m2")) {
		t.Errorf("moderators() = %v", got)
	}
	if r, ok := l.Role("r1"); !ok || r != RolePresenter {
		t.Errorf("Role(r1) = %v, %v", r, ok)
	}
	if _, ok := l.Role("yy"); ok {
		t.Error("a waiting person has a role")
	}
	if !l.IsWaiting("yy") || l.IsWaiting("p1") || l.IsWaiting("nobody") {
		t.Error("IsWaiting is wrong")
	}
	for _, r := range []Role{RoleParticipant, RolePresenter, RoleModerator} {
		if !r.Valid() {
			t.Errorf("%q not valid", r)
		}
	}
	for _, r := range []Role{"", "admin", "Moderator"} {
		if r.Valid() {
			t.Errorf("%q valid", r)
		}
	}
}

func TestCan(t *testing.T) {
	roles := map[ID]Role{"m": RoleModerator, "r": RolePresenter, "p": RoleParticipant}
	type row struct {
		settings Settings
		perm     Permission
		want     map[ID]bool // for m, r, p; waiting and unknown ids may never
	}
	all := map[ID]bool{"m": true, "r": true, "p": true}
	privileged := map[ID]bool{"m": true, "r": true}
	none := map[ID]bool{}
	rows := []row{
		{Settings{}, PermShareScreen, privileged},
		{Settings{ScreenShare: true}, PermShareScreen, all},
		{Settings{}, PermUnmute, privileged},
		{Settings{Unmute: true}, PermUnmute, all},
		{Settings{}, PermChat, none},
		{Settings{Chat: true}, PermChat, all},
		{Settings{ScreenShare: true, Unmute: true, Chat: true}, Permission(99), none},
	}
	for _, row := range rows {
		l := fixture{settings: &row.settings, members: roles, waiting: []ID{"w"}}.build()
		for _, id := range []ID{"m", "r", "p", "w", "ghost"} {
			if got := l.Can(id, row.perm); got != row.want[id] {
				t.Errorf("settings %+v: Can(%s, %d) = %v, want %v", row.settings, id, row.perm, got, row.want[id])
			}
		}
	}
}

func TestKnock(t *testing.T) {
	modOnly := map[ID]Role{"m1": RoleModerator}
	nobody := map[ID]Role{}
	pw := settingsWith(func(s *Settings) { s.PasswordRequired = true })
	locked := settingsWith(func(s *Settings) { s.Locked = true })
	lockedPw := settingsWith(func(s *Settings) { s.Locked = true; s.PasswordRequired = true })
	open := settingsWith(func(s *Settings) { s.Lobby = false })
	now := t0.Add(time.Hour)
	newKnock := Knock{ID: "x", Name: "name-x", Since: now}
	tests := []struct {
		name        string
		f           fixture
		id          ID
		cred        Credentials
		want        []Effect
		wantErr     error
		wantRole    Role // member afterwards with this role ("" = not a member)
		wantWaiting bool
	}{
		{name: "ended", f: fixture{ended: true, members: nobody, waiting: []ID{}}, id: "x", cred: Credentials{Moderator: true}, wantErr: ErrEnded},
		{name: "id already waiting", id: "w1", cred: Credentials{PasswordOK: true}, wantErr: ErrDuplicateID},
		{name: "id already a member", id: "p1", wantErr: ErrDuplicateID},
		{name: "id already a member, moderator secret", id: "p1", cred: Credentials{Moderator: true}, wantErr: ErrDuplicateID},
		{name: "waits, moderators present", id: "x", want: []Effect{
			Wait{ID: "x", ModeratorPresent: true},
			WaitingList{To: ids("m1", "m2"), Waiting: append(knocks("w1", "w2"), newKnock)},
		}, wantWaiting: true},
		{name: "waits, no moderator", f: fixture{members: map[ID]Role{"p1": RoleParticipant}}, id: "x", want: []Effect{
			Wait{ID: "x", ModeratorPresent: false},
			WaitingList{To: nil, Waiting: append(knocks("w1", "w2"), newKnock)},
		}, wantWaiting: true},
		{name: "waits, empty meeting", f: fixture{members: nobody, waiting: []ID{}}, id: "x", want: []Effect{
			Wait{ID: "x"}, WaitingList{Waiting: []Knock{newKnock}},
		}, wantWaiting: true},
		{name: "right password waits", f: fixture{settings: pw, members: modOnly, waiting: []ID{}}, id: "x", cred: Credentials{PasswordOK: true}, want: []Effect{
			Wait{ID: "x", ModeratorPresent: true}, WaitingList{To: ids("m1"), Waiting: []Knock{newKnock}},
		}, wantWaiting: true},
		{name: "wrong password", f: fixture{settings: pw}, id: "x", want: []Effect{Refuse{ID: "x", Reason: ReasonWrongPassword}}},
		{name: "wrong password, lobby off", f: fixture{settings: settingsWith(func(s *Settings) { s.PasswordRequired = true; s.Lobby = false })}, id: "x",
			want: []Effect{Refuse{ID: "x", Reason: ReasonWrongPassword}}},
		{name: "locked", f: fixture{settings: locked}, id: "x", cred: Credentials{PasswordOK: true}, want: []Effect{Refuse{ID: "x", Reason: ReasonLocked}}},
		{name: "locked, lobby off", f: fixture{settings: settingsWith(func(s *Settings) { s.Locked = true; s.Lobby = false })}, id: "x",
			want: []Effect{Refuse{ID: "x", Reason: ReasonLocked}}},
		{name: "locked and wrong password: password first", f: fixture{settings: lockedPw}, id: "x", want: []Effect{Refuse{ID: "x", Reason: ReasonWrongPassword}}},
		{name: "locked, right password", f: fixture{settings: lockedPw}, id: "x", cred: Credentials{PasswordOK: true}, want: []Effect{Refuse{ID: "x", Reason: ReasonLocked}}},
		{name: "lobby full", f: fixture{cfg: Config{MaxWaiting: 2}}, id: "x", want: []Effect{Refuse{ID: "x", Reason: ReasonLobbyFull}}},
		{name: "one place left", f: fixture{cfg: Config{MaxWaiting: 3}, members: nobody}, id: "x", want: []Effect{
			Wait{ID: "x"}, WaitingList{Waiting: append(knocks("w1", "w2"), newKnock)},
		}, wantWaiting: true},
		{name: "lobby off comes straight in", f: fixture{settings: open}, id: "x", want: []Effect{Admit{ID: "x", Role: RoleParticipant}}, wantRole: RoleParticipant},
		{name: "lobby off ignores a full lobby", f: fixture{settings: open, cfg: Config{MaxWaiting: 2}}, id: "x",
			want: []Effect{Admit{ID: "x", Role: RoleParticipant}}, wantRole: RoleParticipant},
		{name: "moderator secret, others present", id: "x", cred: Credentials{Moderator: true}, want: []Effect{
			Admit{ID: "x", Role: RoleModerator}, WaitingList{To: ids("x"), Waiting: knocks("w1", "w2")},
		}, wantRole: RoleModerator},
		{name: "first moderator tells the waiting", f: fixture{members: map[ID]Role{"p1": RoleParticipant}}, id: "x", cred: Credentials{Moderator: true}, want: []Effect{
			Admit{ID: "x", Role: RoleModerator},
			WaitingList{To: ids("x"), Waiting: knocks("w1", "w2")},
			ModeratorPresence{To: ids("w1", "w2"), Present: true},
		}, wantRole: RoleModerator},
		{name: "first moderator, nobody waiting", f: fixture{members: nobody, waiting: []ID{}}, id: "x", cred: Credentials{Moderator: true}, want: []Effect{
			Admit{ID: "x", Role: RoleModerator}, WaitingList{To: ids("x")},
		}, wantRole: RoleModerator},
		{name: "meeting full", f: fixture{cfg: Config{MaxMembers: 4}}, id: "x", cred: Credentials{PasswordOK: true}, wantErr: ErrFull},
		{name: "meeting full, lobby off", f: fixture{settings: open, cfg: Config{MaxMembers: 4}}, id: "x", wantErr: ErrFull},
		{name: "meeting full, even for a moderator secret", f: fixture{cfg: Config{MaxMembers: 4}}, id: "x", cred: Credentials{Moderator: true}, wantErr: ErrFull},
		{name: "meeting full, the duplicate id is found first", f: fixture{cfg: Config{MaxMembers: 4}}, id: "w1", wantErr: ErrDuplicateID},
		{name: "lobby off, one place left", f: fixture{settings: open, cfg: Config{MaxMembers: 5}}, id: "x",
			want: []Effect{Admit{ID: "x", Role: RoleParticipant}}, wantRole: RoleParticipant},
		{name: "moderator secret beats lock, password and full lobby", f: fixture{settings: lockedPw, cfg: Config{MaxWaiting: 2}, members: modOnly}, id: "x",
			cred: Credentials{Moderator: true}, want: []Effect{
				Admit{ID: "x", Role: RoleModerator}, WaitingList{To: ids("x"), Waiting: knocks("w1", "w2")},
			}, wantRole: RoleModerator},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.f.build()
			before := snap(l)
			got, err := l.Knock(tt.id, "name-"+string(tt.id), tt.cred, now)
			if tt.wantErr != nil {
				checkRefused(t, l, before, got, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			checkEffects(t, got, tt.want)
			if r, _ := l.Role(tt.id); r != tt.wantRole {
				t.Errorf("role afterwards = %q, want %q", r, tt.wantRole)
			}
			if l.IsWaiting(tt.id) != tt.wantWaiting {
				t.Errorf("waiting afterwards = %v, want %v", l.IsWaiting(tt.id), tt.wantWaiting)
			}
			if tt.wantRole == "" && !tt.wantWaiting && !reflect.DeepEqual(before, snap(l)) {
				t.Errorf("a refused knock changed the state")
			}
		})
	}
}

func TestLeave(t *testing.T) {
	oneMod := map[ID]Role{"m1": RoleModerator, "p1": RoleParticipant}
	tests := []struct {
		name string
		f    fixture
		id   ID
		want []Effect
	}{
		{name: "waiting person", id: "w1", want: []Effect{WaitingList{To: ids("m1", "m2"), Waiting: []Knock{knockOf("w2", 1)}}}},
		{name: "last waiting person", f: fixture{waiting: []ID{"w1"}}, id: "w1", want: []Effect{WaitingList{To: ids("m1", "m2")}}},
		{name: "waiting person, no moderator", f: fixture{members: map[ID]Role{}}, id: "w2", want: []Effect{WaitingList{Waiting: knocks("w1")}}},
		{name: "participant", id: "p1"},
		{name: "presenter", id: "r1"},
		{name: "one of two moderators", id: "m1"},
		{name: "last moderator, people waiting", f: fixture{members: oneMod}, id: "m1", want: []Effect{ModeratorPresence{To: ids("w1", "w2"), Present: false}}},
		{name: "last moderator, nobody waiting", f: fixture{members: oneMod, waiting: []ID{}}, id: "m1"},
		{name: "unknown", id: "ghost"},
		{name: "after end", f: fixture{ended: true, members: map[ID]Role{}, waiting: []ID{}}, id: "m1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.f.build()
			before := snap(l)
			checkEffects(t, l.Leave(tt.id), tt.want)
			if _, ok := l.Role(tt.id); ok || l.IsWaiting(tt.id) {
				t.Errorf("%s still there", tt.id)
			}
			after := snap(l)
			delete(before.Members, tt.id)
			before.Waiting = slices.DeleteFunc(before.Waiting, func(k Knock) bool { return k.ID == tt.id })
			if !reflect.DeepEqual(before, after) {
				t.Errorf("Leave(%s) changed more than %s:\n %+v\n %+v", tt.id, tt.id, before, after)
			}
		})
	}
}

func TestTick(t *testing.T) {
	ttl := 10 * time.Minute
	three := []ID{"w1", "w2", "w3"} // knocked at t0, t0+1m, t0+2m
	tests := []struct {
		name     string
		f        fixture
		now      time.Time
		want     []Effect
		wantLeft []ID
	}{
		{name: "nothing due", f: fixture{waiting: three}, now: t0.Add(ttl - 1), wantLeft: three},
		{name: "clock behind the knocks", f: fixture{waiting: three}, now: t0.Add(-time.Hour), wantLeft: three},
		{name: "exactly the ttl", f: fixture{waiting: three}, now: t0.Add(ttl), wantLeft: three[1:], want: []Effect{
			Refuse{ID: "w1", Reason: ReasonExpired},
			WaitingList{To: ids("m1", "m2"), Waiting: []Knock{knockOf("w2", 1), knockOf("w3", 2)}},
		}},
		{name: "two due, oldest first", f: fixture{waiting: three}, now: t0.Add(ttl + time.Minute + 30*time.Second), wantLeft: three[2:], want: []Effect{
			Refuse{ID: "w1", Reason: ReasonExpired},
			Refuse{ID: "w2", Reason: ReasonExpired},
			WaitingList{To: ids("m1", "m2"), Waiting: []Knock{knockOf("w3", 2)}},
		}},
		{name: "all due, no moderator", f: fixture{waiting: three, members: map[ID]Role{"p1": RoleParticipant}}, now: t0.Add(time.Hour), want: []Effect{
			Refuse{ID: "w1", Reason: ReasonExpired},
			Refuse{ID: "w2", Reason: ReasonExpired},
			Refuse{ID: "w3", Reason: ReasonExpired},
			WaitingList{},
		}},
		{name: "nobody waiting", f: fixture{waiting: []ID{}}, now: t0.Add(time.Hour)},
		{name: "members never expire", f: fixture{waiting: []ID{}}, now: t0.Add(1000 * time.Hour)},
		{name: "ended", f: fixture{ended: true, members: map[ID]Role{}, waiting: []ID{}}, now: t0.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.cfg.KnockTTL = ttl
			l := tt.f.build()
			members := snap(l).Members
			checkEffects(t, l.Tick(tt.now), tt.want)
			if got := l.waiterIDs(); !slices.Equal(got, tt.wantLeft) && len(got)+len(tt.wantLeft) > 0 {
				t.Errorf("left waiting %v, want %v", got, tt.wantLeft)
			}
			if !reflect.DeepEqual(members, snap(l).Members) {
				t.Error("Tick changed the members")
			}
		})
	}
	// Without a configured TTL a knock lasts 15 minutes.
	l := New(Config{}, DefaultSettings())
	if _, err := l.Knock("x", "", Credentials{}, t0); err != nil {
		t.Fatal(err)
	}
	if got := l.Tick(t0.Add(15*time.Minute - 1)); len(got) != 0 {
		t.Errorf("expired early: %s", fmtEffects(got))
	}
	checkEffects(t, l.Tick(t0.Add(15*time.Minute)), []Effect{Refuse{ID: "x", Reason: ReasonExpired}, WaitingList{}})
}

// everyAction has one valid request of each kind against the standard fixture.
func everyAction() []Action {
	return []Action{
		AdmitOne{Target: "w1"},
		DenyOne{Target: "w1"},
		AdmitAll{},
		DenyAll{Targets: ids("w1", "w2")},
		SendToLobby{Target: "p1"},
		Remove{Target: "p1"},
		SetRole{Target: "p1", Role: RolePresenter},
		SetRole{Target: "p1", Role: RoleModerator},
		SetRole{Target: "m2", Role: RoleParticipant},
		UpdateSettings{Settings: Settings{Locked: true}},
		Media{Target: "p1", Command: CommandAskUnmute},
		Media{Target: "p1", Command: CommandMuteMic},
		Media{Target: "p1", Command: CommandMuteCamera},
		Media{Target: "p1", Command: CommandStopScreen},
		End{},
	}
}

func TestActNotModerator(t *testing.T) {
	for _, by := range []ID{"p1", "r1", "w1", "ghost", ""} {
		for _, a := range everyAction() {
			t.Run(fmt.Sprintf("%s/%T%+v", by, a, a), func(t *testing.T) {
				l := fixture{}.build()
				before := snap(l)
				got, err := l.Act(by, a)
				checkRefused(t, l, before, got, err, ErrNotModerator)
			})
		}
	}
}

func TestActAfterEnd(t *testing.T) {
	l := fixture{}.build()
	if _, err := l.Act("m1", End{}); err != nil {
		t.Fatal(err)
	}
	for _, by := range []ID{"m1", "p1", "ghost"} {
		for _, a := range everyAction() {
			before := snap(l)
			got, err := l.Act(by, a)
			checkRefused(t, l, before, got, err, ErrEnded)
		}
	}
	before := snap(l)
	got, err := l.Knock("m9", "", Credentials{Moderator: true, PasswordOK: true}, t0)
	checkRefused(t, l, before, got, err, ErrEnded)
	if got := append(l.Leave("m1"), l.Tick(t0.Add(1000*time.Hour))...); len(got) != 0 {
		t.Errorf("Leave/Tick after end: %s", fmtEffects(got))
	}
}

type pointerAction struct{ AdmitOne }

func TestActInvalid(t *testing.T) {
	lone := map[ID]Role{"m1": RoleModerator, "p1": RoleParticipant}
	tests := []struct {
		name string
		f    fixture
		a    Action
		want error
	}{
		{name: "admit a member", a: AdmitOne{Target: "p1"}, want: ErrUnknownTarget},
		{name: "admit unknown", a: AdmitOne{Target: "ghost"}, want: ErrUnknownTarget},
		{name: "deny a member", a: DenyOne{Target: "p1"}, want: ErrUnknownTarget},
		{name: "deny unknown", a: DenyOne{Target: "ghost"}, want: ErrUnknownTarget},
		{name: "send a waiting person back", a: SendToLobby{Target: "w1"}, want: ErrUnknownTarget},
		{name: "send unknown back", a: SendToLobby{Target: "ghost"}, want: ErrUnknownTarget},
		{name: "send oneself back", a: SendToLobby{Target: "m1"}, want: ErrInvalid},
		{name: "remove a waiting person", a: Remove{Target: "w2"}, want: ErrUnknownTarget},
		{name: "remove unknown", a: Remove{Target: "ghost"}, want: ErrUnknownTarget},
		{name: "remove oneself", a: Remove{Target: "m1"}, want: ErrInvalid},
		{name: "role of a waiting person", a: SetRole{Target: "w1", Role: RolePresenter}, want: ErrUnknownTarget},
		{name: "role of unknown", a: SetRole{Target: "ghost", Role: RoleModerator}, want: ErrUnknownTarget},
		{name: "empty role", a: SetRole{Target: "p1"}, want: ErrInvalid},
		{name: "made-up role", a: SetRole{Target: "p1", Role: "owner"}, want: ErrInvalid},
		{name: "made-up role for unknown", a: SetRole{Target: "ghost", Role: "owner"}, want: ErrInvalid},
		{name: "last moderator steps down to participant", f: fixture{members: lone}, a: SetRole{Target: "m1", Role: RoleParticipant}, want: ErrInvalid},
		{name: "last moderator steps down to presenter", f: fixture{members: lone}, a: SetRole{Target: "m1", Role: RolePresenter}, want: ErrInvalid},
		{name: "media of a waiting person", a: Media{Target: "w1", Command: CommandMuteMic}, want: ErrUnknownTarget},
		{name: "media of unknown", a: Media{Target: "ghost", Command: CommandMuteMic}, want: ErrUnknownTarget},
		{name: "force unmute does not exist", a: Media{Target: "p1", Command: "unmute"}, want: ErrInvalid},
		{name: "force unmute camera does not exist", a: Media{Target: "p1", Command: "unmute_camera"}, want: ErrInvalid},
		{name: "empty command", a: Media{Target: "p1"}, want: ErrInvalid},
		{name: "admit into a full meeting", f: fixture{cfg: Config{MaxMembers: 4}}, a: AdmitOne{Target: "w1"}, want: ErrFull},
		{name: "admit unknown into a full meeting", f: fixture{cfg: Config{MaxMembers: 4}}, a: AdmitOne{Target: "ghost"}, want: ErrUnknownTarget},
		{name: "nil action", a: nil, want: ErrInvalid},
		{name: "pointer action", a: &AdmitOne{Target: "w1"}, want: ErrInvalid},
		{name: "foreign action type", a: pointerAction{AdmitOne{Target: "w1"}}, want: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.f.build()
			before := snap(l)
			got, err := l.Act("m1", tt.a)
			checkRefused(t, l, before, got, err, tt.want)
		})
	}
}

func TestAct(t *testing.T) {
	lone := map[ID]Role{"m1": RoleModerator, "p1": RoleParticipant}
	all := &Settings{Lobby: true, Locked: true, ScreenShare: true, Unmute: true, Chat: true, PasswordRequired: true}
	tests := []struct {
		name    string
		f       fixture
		a       Action
		want    []Effect
		members map[ID]Role // members afterwards (nil: unchanged)
		waiting []ID        // waiting afterwards (nil: unchanged)
		set     *Settings   // settings afterwards (nil: unchanged)
		ended   bool
	}{
		{name: "admit one", a: AdmitOne{Target: "w2"}, want: []Effect{
			Admit{ID: "w2", Role: RoleParticipant},
			WaitingList{To: ids("m1", "m2"), Waiting: knocks("w1")},
		}, members: with(standardMembers(), "w2", RoleParticipant), waiting: ids("w1")},
		{name: "admit the last one", f: fixture{members: lone, waiting: []ID{"w1"}}, a: AdmitOne{Target: "w1"}, want: []Effect{
			Admit{ID: "w1", Role: RoleParticipant}, WaitingList{To: ids("m1")},
		}, members: with(lone, "w1", RoleParticipant), waiting: []ID{}},
		{name: "deny one", a: DenyOne{Target: "w1"}, want: []Effect{
			Refuse{ID: "w1", Reason: ReasonDenied},
			WaitingList{To: ids("m1", "m2"), Waiting: []Knock{knockOf("w2", 1)}},
		}, waiting: ids("w2")},
		{name: "admit all, oldest first", a: AdmitAll{}, want: []Effect{
			Admit{ID: "w1", Role: RoleParticipant},
			Admit{ID: "w2", Role: RoleParticipant},
			WaitingList{To: ids("m1", "m2")},
		}, members: with(with(standardMembers(), "w1", RoleParticipant), "w2", RoleParticipant), waiting: []ID{}},
		{name: "admit all while locked with a password", f: fixture{settings: all}, a: AdmitAll{}, want: []Effect{
			Admit{ID: "w1", Role: RoleParticipant},
			Admit{ID: "w2", Role: RoleParticipant},
			WaitingList{To: ids("m1", "m2")},
		}, members: with(with(standardMembers(), "w1", RoleParticipant), "w2", RoleParticipant), waiting: []ID{}},
		{name: "admit all up to the limit, oldest first", f: fixture{cfg: Config{MaxMembers: 5}}, a: AdmitAll{}, want: []Effect{
			Admit{ID: "w1", Role: RoleParticipant},
			WaitingList{To: ids("m1", "m2"), Waiting: []Knock{knockOf("w2", 1)}},
		}, members: with(standardMembers(), "w1", RoleParticipant), waiting: ids("w2")},
		{name: "admit all into a full meeting: everyone keeps waiting", f: fixture{cfg: Config{MaxMembers: 4}}, a: AdmitAll{}, want: []Effect{
			WaitingList{To: ids("m1", "m2"), Waiting: knocks("w1", "w2")},
		}},
		{name: "admit one, last place", f: fixture{cfg: Config{MaxMembers: 5}}, a: AdmitOne{Target: "w2"}, want: []Effect{
			Admit{ID: "w2", Role: RoleParticipant},
			WaitingList{To: ids("m1", "m2"), Waiting: knocks("w1")},
		}, members: with(standardMembers(), "w2", RoleParticipant), waiting: ids("w1")},
		{name: "admit all of those chosen: a knock not among them keeps waiting", a: AdmitAll{Only: ids("w2", "ghost")}, want: []Effect{
			Admit{ID: "w2", Role: RoleParticipant},
			WaitingList{To: ids("m1", "m2"), Waiting: knocks("w1")},
		}, members: with(standardMembers(), "w2", RoleParticipant), waiting: ids("w1")},
		{name: "admit all of none chosen admits nobody", a: AdmitAll{Only: []ID{}}, want: []Effect{
			WaitingList{To: ids("m1", "m2"), Waiting: knocks("w1", "w2")},
		}},
		{name: "admit all, nobody waiting: the moderators get a fresh list", f: fixture{waiting: []ID{}}, a: AdmitAll{}, want: []Effect{WaitingList{To: ids("m1", "m2")}}},
		{name: "deny all shown, oldest first, with one list", a: DenyAll{Targets: ids("w2", "w1")}, want: []Effect{
			Refuse{ID: "w1", Reason: ReasonDenied},
			Refuse{ID: "w2", Reason: ReasonDenied},
			WaitingList{To: ids("m1", "m2")},
		}, waiting: []ID{}},
		{name: "deny all of those chosen: a knock not among them keeps waiting", a: DenyAll{Targets: ids("w2", "ghost", "w2")}, want: []Effect{
			Refuse{ID: "w2", Reason: ReasonDenied},
			WaitingList{To: ids("m1", "m2"), Waiting: knocks("w1")},
		}, waiting: ids("w1")},
		{name: "deny all of none chosen denies nobody", a: DenyAll{Targets: []ID{}}, want: []Effect{
			WaitingList{To: ids("m1", "m2"), Waiting: knocks("w1", "w2")},
		}},
		{name: "deny all naming members and moderators denies nobody: only knocks are denied", a: DenyAll{Targets: ids("p1", "m1", "m2")}, want: []Effect{
			WaitingList{To: ids("m1", "m2"), Waiting: knocks("w1", "w2")},
		}},
		{name: "deny all, nobody waiting: the moderators get a fresh list", f: fixture{waiting: []ID{}}, a: DenyAll{Targets: ids("w1")}, want: []Effect{WaitingList{To: ids("m1", "m2")}}},
		{name: "send back a participant", a: SendToLobby{Target: "p1"}, want: []Effect{Eject{ID: "p1", Reason: ReasonSentToLobby}},
			members: without(standardMembers(), "p1")},
		{name: "send back a moderator", a: SendToLobby{Target: "m2"}, want: []Effect{Eject{ID: "m2", Reason: ReasonSentToLobby}},
			members: without(standardMembers(), "m2")},
		{name: "remove a presenter", a: Remove{Target: "r1"}, want: []Effect{Eject{ID: "r1", Reason: ReasonRemoved}},
			members: without(standardMembers(), "r1")},
		{name: "remove a moderator", a: Remove{Target: "m2"}, want: []Effect{Eject{ID: "m2", Reason: ReasonRemoved}},
			members: without(standardMembers(), "m2")},
		{name: "grant presenter", a: SetRole{Target: "p1", Role: RolePresenter}, want: []Effect{RoleChanged{ID: "p1", Role: RolePresenter}},
			members: with(standardMembers(), "p1", RolePresenter)},
		{name: "revoke presenter", a: SetRole{Target: "r1", Role: RoleParticipant}, want: []Effect{RoleChanged{ID: "r1", Role: RoleParticipant}},
			members: with(standardMembers(), "r1", RoleParticipant)},
		{name: "grant moderator shows the waiting list", a: SetRole{Target: "p1", Role: RoleModerator}, want: []Effect{
			RoleChanged{ID: "p1", Role: RoleModerator},
			WaitingList{To: ids("p1"), Waiting: knocks("w1", "w2")},
		}, members: with(standardMembers(), "p1", RoleModerator)},
		{name: "revoke another moderator", a: SetRole{Target: "m2", Role: RolePresenter}, want: []Effect{RoleChanged{ID: "m2", Role: RolePresenter}},
			members: with(standardMembers(), "m2", RolePresenter)},
		{name: "step down while another moderator stays", a: SetRole{Target: "m1", Role: RoleParticipant}, want: []Effect{RoleChanged{ID: "m1", Role: RoleParticipant}},
			members: with(standardMembers(), "m1", RoleParticipant)},
		{name: "same role is a no-op", a: SetRole{Target: "r1", Role: RolePresenter}},
		{name: "last moderator keeps the role: no-op", f: fixture{members: lone}, a: SetRole{Target: "m1", Role: RoleModerator}},
		{name: "lock", a: UpdateSettings{Settings: *all}, want: []Effect{SettingsChanged{Settings: *all}}, set: all},
		{name: "unlock", f: fixture{settings: all}, a: UpdateSettings{Settings: DefaultSettings()},
			want: []Effect{SettingsChanged{Settings: DefaultSettings()}}, set: new(DefaultSettings())},
		{name: "lobby off keeps the waiting waiting", a: UpdateSettings{Settings: Settings{}}, want: []Effect{SettingsChanged{}}, set: &Settings{}},
		{name: "unchanged settings still announced", a: UpdateSettings{Settings: DefaultSettings()}, want: []Effect{SettingsChanged{Settings: DefaultSettings()}}},
		{name: "ask to unmute", a: Media{Target: "p1", Command: CommandAskUnmute}, want: []Effect{MediaCommand{Target: "p1", By: "m1", Command: CommandAskUnmute}}},
		{name: "mute mic", a: Media{Target: "m2", Command: CommandMuteMic}, want: []Effect{MediaCommand{Target: "m2", By: "m1", Command: CommandMuteMic}}},
		{name: "mute camera", a: Media{Target: "r1", Command: CommandMuteCamera}, want: []Effect{MediaCommand{Target: "r1", By: "m1", Command: CommandMuteCamera}}},
		{name: "stop screen", a: Media{Target: "r1", Command: CommandStopScreen}, want: []Effect{MediaCommand{Target: "r1", By: "m1", Command: CommandStopScreen}}},
		{name: "mute oneself", a: Media{Target: "m1", Command: CommandMuteMic}, want: []Effect{MediaCommand{Target: "m1", By: "m1", Command: CommandMuteMic}}},
		{name: "end", a: End{}, want: []Effect{
			Refuse{ID: "w1", Reason: ReasonEnded},
			Refuse{ID: "w2", Reason: ReasonEnded},
			Eject{ID: "m1", Reason: ReasonEnded},
			Eject{ID: "m2", Reason: ReasonEnded},
			Eject{ID: "p1", Reason: ReasonEnded},
			Eject{ID: "r1", Reason: ReasonEnded},
		}, members: map[ID]Role{}, waiting: []ID{}, ended: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.f.build()
			want := snap(l)
			got, err := l.Act("m1", tt.a)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			checkEffects(t, got, tt.want)
			if tt.members != nil {
				want.Members = tt.members
			}
			if tt.waiting != nil {
				want.Waiting = slices.DeleteFunc(want.Waiting, func(k Knock) bool { return !slices.Contains(tt.waiting, k.ID) })
			}
			if tt.set != nil {
				want.Settings = *tt.set
			}
			want.Ended = tt.ended
			if after := snap(l); !reflect.DeepEqual(after, want) {
				t.Errorf("state:\n got  %+v\n want %+v", after, want)
			}
		})
	}
}

func with(m map[ID]Role, id ID, r Role) map[ID]Role {
	out := map[ID]Role{id: r}
	for k, v := range m {
		if k != id {
			out[k] = v
		}
	}
	return out
}

func without(m map[ID]Role, id ID) map[ID]Role {
	out := map[ID]Role{}
	for k, v := range m {
		if k != id {
			out[k] = v
		}
	}
	return out
}

// accepted returns a check that an event was accepted, passing its effects through.
func accepted(t *testing.T) func([]Effect, error) []Effect {
	return func(effects []Effect, err error) []Effect {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return effects
	}
}

// Admission is per session: whoever is removed or sent back is gone and must knock again;
// a new knock waits for a moderator like any other.
func TestRemovedMustKnockAgain(t *testing.T) {
	for _, a := range []Action{Remove{Target: "p"}, SendToLobby{Target: "p"}} {
		t.Run(fmt.Sprintf("%T", a), func(t *testing.T) {
			must := accepted(t)
			l := New(Config{}, DefaultSettings())
			must(l.Knock("m", "Mod", Credentials{Moderator: true}, t0))
			must(l.Knock("p", "P", Credentials{PasswordOK: true}, t0))
			must(l.Act("m", AdmitOne{Target: "p"}))
			must(l.Act("m", a))
			for _, b := range []Action{Media{Target: "p", Command: CommandMuteMic}, Remove{Target: "p"}, SetRole{Target: "p", Role: RolePresenter}, AdmitOne{Target: "p"}} {
				before := snap(l)
				got, err := l.Act("m", b)
				checkRefused(t, l, before, got, err, ErrUnknownTarget)
			}
			if l.Can("p", PermChat) {
				t.Error("a removed session may still chat")
			}
			for _, id := range []ID{"p2", "p"} { // a fresh id, and (if a caller reuses it) the old one
				checkEffects(t, must(l.Knock(id, "P", Credentials{PasswordOK: true}, t0.Add(time.Minute))), []Effect{
					Wait{ID: id, ModeratorPresent: true},
					WaitingList{To: ids("m"), Waiting: l.Waiting()},
				})
				if _, ok := l.Role(id); ok || !l.IsWaiting(id) {
					t.Errorf("%s is not simply waiting again", id)
				}
			}
		})
	}
}

// With no moderator the lobby says so, and a moderator's arrival admits nobody.
func TestNoModeratorNoAdmission(t *testing.T) {
	must := accepted(t)
	l := New(Config{}, DefaultSettings())
	checkEffects(t, must(l.Knock("a", "A", Credentials{PasswordOK: true}, t0)), []Effect{
		Wait{ID: "a", ModeratorPresent: false}, WaitingList{Waiting: l.Waiting()},
	})
	checkEffects(t, must(l.Knock("m", "M", Credentials{Moderator: true}, t0)), []Effect{
		Admit{ID: "m", Role: RoleModerator},
		WaitingList{To: ids("m"), Waiting: l.Waiting()},
		ModeratorPresence{To: ids("a"), Present: true},
	})
	if !l.IsWaiting("a") || !slices.Equal(l.Members(), ids("m")) {
		t.Fatalf("a moderator's arrival admitted someone: %+v", snap(l))
	}
	checkEffects(t, l.Leave("m"), []Effect{ModeratorPresence{To: ids("a"), Present: false}})
	if !l.IsWaiting("a") {
		t.Error("the waiting person left with the moderator")
	}
}

// Every moderator sees every change of the waiting list as it happens.
func TestEveryModeratorSeesEveryKnock(t *testing.T) {
	must := accepted(t)
	l := New(Config{KnockTTL: time.Minute}, DefaultSettings())
	must(l.Knock("m1", "", Credentials{Moderator: true}, t0))
	must(l.Knock("m2", "", Credentials{Moderator: true}, t0))
	must(l.Knock("p", "", Credentials{}, t0))
	must(l.Act("m1", AdmitOne{Target: "p"}))
	must(l.Act("m1", SetRole{Target: "p", Role: RoleModerator}))
	mods := ids("m1", "m2", "p")
	steps := []func() []Effect{
		func() []Effect { return must(l.Knock("a", "", Credentials{}, t0)) },
		func() []Effect { return must(l.Knock("b", "", Credentials{}, t0.Add(time.Second))) },
		func() []Effect { return must(l.Knock("c", "", Credentials{}, t0.Add(2*time.Second))) },
		func() []Effect { return must(l.Knock("d", "", Credentials{}, t0.Add(2*time.Minute))) },
		func() []Effect { return must(l.Act("m2", DenyOne{Target: "b"})) },
		func() []Effect { return l.Leave("c") },
		func() []Effect { return l.Tick(t0.Add(time.Minute)) },
		func() []Effect { return must(l.Act("p", AdmitOne{Target: "d"})) },
	}
	for i, step := range steps {
		before := l.Waiting()
		var lists []WaitingList
		for _, e := range step() {
			if w, ok := e.(WaitingList); ok {
				lists = append(lists, w)
			}
		}
		if reflect.DeepEqual(before, l.Waiting()) {
			t.Fatalf("step %d did not change the waiting list", i)
		}
		if len(lists) != 1 || !slices.Equal(lists[0].To, mods) || !reflect.DeepEqual(lists[0].Waiting, l.Waiting()) {
			t.Errorf("step %d: waiting lists %+v, want one to %v with %+v", i, lists, mods, l.Waiting())
		}
	}
}
