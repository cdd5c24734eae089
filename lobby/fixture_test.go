package lobby

// The tests' lobby: a fixture built directly from its state, the effects normalised and
// compared, and a refusal checked to change nothing (lobby_test.go and the tests beside it).

import (
	"errors"
	"fmt"
	"reflect"
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
