package lobby

// The moderator actions (Act): who may act, what an ended meeting or an invalid action
// is answered, and what each action changes and tells.

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

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
