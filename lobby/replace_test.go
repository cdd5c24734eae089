package lobby

import (
	"testing"
	"time"
)

// A page whose connection died knocks again before the server noticed; its new knock
// replaces the old one instead of standing beside it (a moderator could admit the old
// one, a connection nobody is behind, while the person's real knock waited).
func TestKnockReplacesAStandingKnock(t *testing.T) {
	locked := settingsWith(func(s *Settings) { s.Locked, s.PasswordRequired = true, true })
	three := []ID{"w1", "w2", "w3"} // knocked at t0, t0+1m, t0+2m
	now := t0.Add(5 * time.Minute)
	tests := []struct {
		name string
		f    fixture
		cred Credentials
		want []Effect
	}{
		{name: "in its place and time", f: fixture{waiting: three}, cred: Credentials{Replaces: "w2"}, want: []Effect{
			Refuse{ID: "w2", Reason: ReasonReplaced},
			Wait{ID: "n", ModeratorPresent: true},
			WaitingList{To: ids("m1", "m2"), Waiting: []Knock{knockOf("w1", 0), {ID: "n", Name: "name-n", Since: t0.Add(time.Minute)}, knockOf("w3", 2)}},
		}},
		{name: "through a lock, past a password set since", f: fixture{waiting: three, settings: locked}, cred: Credentials{Replaces: "w1"}, want: []Effect{
			Refuse{ID: "w1", Reason: ReasonReplaced},
			Wait{ID: "n", ModeratorPresent: true},
			WaitingList{To: ids("m1", "m2"), Waiting: []Knock{{ID: "n", Name: "name-n", Since: t0}, knockOf("w2", 1), knockOf("w3", 2)}},
		}},
		{name: "a full meeting and a full waiting room", f: fixture{waiting: three, cfg: Config{MaxMembers: 4, MaxWaiting: 3}}, cred: Credentials{Replaces: "w3"}, want: []Effect{
			Refuse{ID: "w3", Reason: ReasonReplaced},
			Wait{ID: "n", ModeratorPresent: true},
			WaitingList{To: ids("m1", "m2"), Waiting: []Knock{knockOf("w1", 0), knockOf("w2", 1), {ID: "n", Name: "name-n", Since: t0.Add(2 * time.Minute)}}},
		}},
		{name: "no moderator there", f: fixture{waiting: three, members: map[ID]Role{"p1": RoleParticipant}}, cred: Credentials{Replaces: "w1"}, want: []Effect{
			Refuse{ID: "w1", Reason: ReasonReplaced},
			Wait{ID: "n", ModeratorPresent: false},
			WaitingList{Waiting: []Knock{{ID: "n", Name: "name-n", Since: t0}, knockOf("w2", 1), knockOf("w3", 2)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.cfg.KnockTTL = 10 * time.Minute
			l := tt.f.build()
			got, err := l.Knock("n", "name-n", tt.cred, now)
			if err != nil {
				t.Fatal(err)
			}
			checkEffects(t, got, tt.want)
			if l.IsWaiting(tt.cred.Replaces) {
				t.Errorf("%s still waits beside its replacement", tt.cred.Replaces)
			}
		})
	}
}

func TestKnockReplacingNothingChangesNothing(t *testing.T) {
	tests := []struct {
		name string
		cred Credentials
		now  time.Time
		want error
	}{
		{name: "not waiting", cred: Credentials{Replaces: "x"}, now: t0, want: ErrUnknownTarget},
		{name: "a member", cred: Credentials{Replaces: "p1"}, now: t0, want: ErrUnknownTarget},
		{name: "its time is up", cred: Credentials{Replaces: "w1"}, now: t0.Add(10 * time.Minute), want: ErrUnknownTarget},
		{name: "a moderator's knock", cred: Credentials{Replaces: "w1", Moderator: true}, now: t0, want: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := fixture{cfg: Config{KnockTTL: 10 * time.Minute}}.build()
			before := snap(l)
			got, err := l.Knock("n", "name-n", tt.cred, tt.now)
			checkRefused(t, l, before, got, err, tt.want)
		})
	}
	l := fixture{}.build()
	before := snap(l)
	got, err := l.Knock("w2", "name-w2", Credentials{Replaces: "w1"}, t0)
	checkRefused(t, l, before, got, err, ErrDuplicateID)
}
