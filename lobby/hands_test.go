package lobby

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func handIDs(hs []Hand) []ID {
	out := []ID{}
	for _, h := range hs {
		out = append(out, h.ID)
	}
	return out
}

// TestHandsQueueInOrderOfRaising: hands come out in the order they were raised, also
// when raised in the same instant; raising again keeps the place, lowering and raising
// again goes to the end.
func TestHandsQueueInOrderOfRaising(t *testing.T) {
	l := fixture{}.build()
	raise := func(id ID, up bool, at time.Time) []Effect {
		t.Helper()
		eff, err := l.RaiseHand(id, up, at)
		if err != nil {
			t.Fatalf("raise %s %v: %v", id, up, err)
		}
		return eff
	}
	raise("p1", true, t0.Add(2*time.Second))
	raise("r1", true, t0.Add(2*time.Second)) // same instant: after p1
	raise("m2", true, t0.Add(5*time.Second))
	if got, want := handIDs(l.Hands()), []ID{"p1", "r1", "m2"}; !slices.Equal(got, want) {
		t.Fatalf("queue %v, want %v", got, want)
	}
	if eff := raise("p1", true, t0.Add(9*time.Second)); eff != nil {
		t.Fatalf("raising a raised hand had effects %v", eff)
	}
	if got := handIDs(l.Hands()); got[0] != "p1" {
		t.Fatalf("p1 lost its place: %v", got)
	}
	eff := raise("p1", false, t0.Add(10*time.Second))
	hc, ok := eff[0].(HandsChanged)
	if len(eff) != 1 || !ok || hc.By != "p1" || !slices.Equal(handIDs(hc.Hands), []ID{"r1", "m2"}) {
		t.Fatalf("lowering: effects %v", eff)
	}
	raise("p1", true, t0.Add(11*time.Second))
	if got, want := handIDs(l.Hands()), []ID{"r1", "m2", "p1"}; !slices.Equal(got, want) {
		t.Fatalf("queue after raising again %v, want %v", got, want)
	}
	// Someone waiting is no member and has no hand.
	if _, err := l.RaiseHand("w1", true, t0); !errors.Is(err, ErrUnknownTarget) {
		t.Fatalf("a waiting person raised a hand: %v", err)
	}
}

// TestHandsOnlyModeratorsLowerOthers: a participant cannot lower another's hand nor all
// hands; a moderator can, and the queue says who did it.
func TestHandsOnlyModeratorsLowerOthers(t *testing.T) {
	l := fixture{}.build()
	for _, id := range []ID{"p1", "r1"} {
		if _, err := l.RaiseHand(id, true, t0); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []Action{LowerHand{Target: "r1"}, LowerAllHands{}, MediaAll{Command: CommandMuteMic}} {
		eff, err := l.Act("p1", a)
		if !errors.Is(err, ErrNotModerator) || eff != nil {
			t.Fatalf("participant %T: %v %v", a, eff, err)
		}
	}
	if got := handIDs(l.Hands()); len(got) != 2 {
		t.Fatalf("hands changed by a refused action: %v", got)
	}
	eff, err := l.Act("m1", LowerHand{Target: "r1"})
	if err != nil || len(eff) != 1 || eff[0].(HandsChanged).By != "m1" || !slices.Equal(handIDs(l.Hands()), []ID{"p1"}) {
		t.Fatalf("lower one: %v %v", eff, err)
	}
	if _, err := l.Act("m1", LowerHand{Target: "nobody"}); !errors.Is(err, ErrUnknownTarget) {
		t.Fatalf("lower nobody: %v", err)
	}
	if eff, err := l.Act("m1", LowerHand{Target: "r1"}); err != nil || eff != nil {
		t.Fatalf("lowering a lowered hand: %v %v", eff, err)
	}
	eff, err = l.Act("m2", LowerAllHands{})
	if err != nil || len(eff) != 1 || len(l.Hands()) != 0 {
		t.Fatalf("lower all: %v %v", eff, err)
	}
	if eff, err := l.Act("m2", LowerAllHands{}); err != nil || eff != nil {
		t.Fatalf("lowering no hands: %v %v", eff, err)
	}
}

// TestMediaAllSparesModerators: mute everyone and cameras off reach every member who is
// not a moderator, marked All; other commands are refused.
func TestMediaAllSparesModerators(t *testing.T) {
	l := fixture{}.build()
	for _, c := range []Command{CommandMuteMic, CommandMuteCamera} {
		eff, err := l.Act("m1", MediaAll{Command: c})
		if err != nil {
			t.Fatal(err)
		}
		var targets []ID
		for _, e := range eff {
			mc := e.(MediaCommand)
			if mc.By != "m1" || mc.Command != c || !mc.All {
				t.Fatalf("effect %+v", mc)
			}
			targets = append(targets, mc.Target)
		}
		if want := []ID{"p1", "r1"}; !slices.Equal(targets, want) {
			t.Fatalf("%s reached %v, want %v", c, targets, want)
		}
	}
	for _, c := range []Command{CommandAskUnmute, CommandStopScreen, ""} {
		if eff, err := l.Act("m1", MediaAll{Command: c}); !errors.Is(err, ErrInvalid) || eff != nil {
			t.Fatalf("MediaAll %q: %v %v", c, eff, err)
		}
	}
}

// TestHandsGoWithThePerson: a raised hand is gone when its owner leaves or is removed,
// and with the meeting.
func TestHandsGoWithThePerson(t *testing.T) {
	l := fixture{}.build()
	for _, id := range []ID{"p1", "r1", "m2"} {
		if _, err := l.RaiseHand(id, true, t0); err != nil {
			t.Fatal(err)
		}
	}
	eff := l.Leave("p1")
	if len(eff) != 1 || !slices.Equal(handIDs(eff[0].(HandsChanged).Hands), []ID{"r1", "m2"}) {
		t.Fatalf("leave: %v", eff)
	}
	eff, err := l.Act("m1", Remove{Target: "r1"})
	if err != nil || len(eff) != 2 || !slices.Equal(handIDs(eff[1].(HandsChanged).Hands), []ID{"m2"}) {
		t.Fatalf("remove: %v %v", eff, err)
	}
	if _, err := l.Act("m1", End{}); err != nil {
		t.Fatal(err)
	}
	if len(l.Hands()) != 0 {
		t.Fatalf("hands outlived the meeting: %v", l.Hands())
	}
	if _, err := l.RaiseHand("m1", true, t0); !errors.Is(err, ErrEnded) {
		t.Fatalf("raise after the end: %v", err)
	}
}

// FuzzHands drives members raising and lowering hands, moderators lowering them and
// muting everyone, and people leaving, against a model queue: after every step the
// queue holds only members, in the order of raising, every change is announced with the
// full queue, refused events change nothing, and MediaAll never reaches a moderator.
func FuzzHands(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 0, 2, 2, 3, 0, 3, 4, 1, 5, 2, 0})
	f.Add([]byte{0, 1, 0, 3, 1, 4, 0, 2, 2, 5, 3, 1, 1, 0, 6, 3, 0})
	f.Add([]byte{2, 0, 5, 1, 4, 2, 6, 0, 7, 3, 0, 1, 0, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		pool := []ID{"m", "a", "b", "c"}
		l := New(Config{}, DefaultSettings())
		for i, id := range pool {
			cred := Credentials{PasswordOK: true, Moderator: i == 0}
			l.settings.Lobby = false
			if _, err := l.Knock(id, string(id), cred, t0); err != nil {
				t.Fatal(err)
			}
		}
		var queue []ID // the model
		now := t0
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		for steps := 0; len(data) > 0 && steps < 200; steps++ {
			op, who, target := next()%7, pool[int(next())%len(pool)], pool[int(next())%len(pool)]
			now = now.Add(time.Duration(next()%3) * time.Second)
			before := handIDs(l.Hands())
			role, member := l.Role(who)
			var eff []Effect
			var err error
			switch op {
			case 0, 1:
				eff, err = l.RaiseHand(who, op == 0, now)
				if err == nil {
					up := slices.Contains(queue, who)
					if op == 0 && !up {
						queue = append(queue, who)
					} else if op == 1 && up {
						queue = slices.DeleteFunc(queue, func(x ID) bool { return x == who })
					}
				}
			case 2:
				eff, err = l.Act(who, LowerHand{Target: target})
				if err == nil {
					queue = slices.DeleteFunc(queue, func(x ID) bool { return x == target })
				}
			case 3:
				eff, err = l.Act(who, LowerAllHands{})
				if err == nil {
					queue = nil
				}
			case 4, 5:
				eff, err = l.Act(who, MediaAll{Command: []Command{CommandMuteMic, CommandMuteCamera}[op-4]})
				for _, e := range eff {
					if mc := e.(MediaCommand); l.members[mc.Target] == RoleModerator {
						t.Fatalf("MediaAll reached moderator %s", mc.Target)
					}
				}
			case 6:
				// who leaves and knocks again as a participant (or the moderator, again).
				eff = l.Leave(who)
				queue = slices.DeleteFunc(queue, func(x ID) bool { return x == who })
				l.settings.Lobby = false
				if _, err := l.Knock(who, string(who), Credentials{PasswordOK: true, Moderator: who == "m"}, now); err != nil {
					t.Fatal(err)
				}
			}
			if err != nil {
				if eff != nil || !slices.Equal(before, handIDs(l.Hands())) {
					t.Fatalf("refused op %d by %s had effects %v or changed the queue", op, who, eff)
				}
				moderatorOp := op >= 2 && op <= 5
				if moderatorOp && member && role == RoleModerator && !errors.Is(err, ErrUnknownTarget) {
					t.Fatalf("moderator op %d refused: %v", op, err)
				}
				continue
			}
			if op >= 2 && op <= 5 && role != RoleModerator {
				t.Fatalf("op %d by non-moderator %s succeeded", op, who)
			}
			got := handIDs(l.Hands())
			if !slices.Equal(got, queue) && !(len(got) == 0 && len(queue) == 0) {
				t.Fatalf("queue %v, model %v", got, queue)
			}
			changed := !slices.Equal(before, got)
			announced := false
			for _, e := range eff {
				if hc, ok := e.(HandsChanged); ok {
					announced = true
					if !slices.Equal(handIDs(hc.Hands), got) && !(len(got) == 0 && len(hc.Hands) == 0) {
						t.Fatalf("announced %v, queue %v", handIDs(hc.Hands), got)
					}
				}
			}
			if changed != announced {
				t.Fatalf("op %d: queue changed %v, announced %v", op, changed, announced)
			}
			for _, id := range got {
				if _, ok := l.Role(id); !ok {
					t.Fatalf("%s has a hand but is no member", id)
				}
			}
		}
	})
}
