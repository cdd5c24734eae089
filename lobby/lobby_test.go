package lobby

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

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
