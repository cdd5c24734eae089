package lobby

import (
	"slices"
	"time"
)

// Hand is one raised hand. Hands are kept in the order they were raised: Seq grows with
// every raise, so two hands raised in the same instant still have a fixed order, and a
// hand lowered and raised again goes to the end of the queue.
type Hand struct {
	ID    ID
	Since time.Time
	Seq   uint64
}

// HandsChanged: every member must now see this queue of raised hands (in order). By is
// who changed it: the member itself, a moderator, or "" when the person left.
type HandsChanged struct {
	Hands []Hand
	By    ID
}

func (HandsChanged) effect() {}

// The moderator actions on hands and on everyone's media.
type (
	// LowerHand lowers one member's hand.
	LowerHand struct{ Target ID }
	// LowerAllHands lowers every hand.
	LowerAllHands struct{}
	// MediaAll mutes every microphone (CommandMuteMic) or turns off every camera
	// (CommandMuteCamera) of the members who are not moderators. Moderators run the
	// meeting and may unmute themselves at any time, so muting them would be undone at
	// once; the moderator who asks keeps talking.
	MediaAll struct{ Command Command }
)

func (LowerHand) action()     {}
func (LowerAllHands) action() {}
func (MediaAll) action()      {}

// Hands lists the raised hands, first raised first.
func (l *Lobby) Hands() []Hand {
	out := make([]Hand, 0, len(l.hands))
	for _, h := range l.hands {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b Hand) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return out
}

// RaiseHand raises (or with raised false lowers) member id's own hand. Raising a hand
// that is up, or lowering one that is down, changes nothing and has no effects, so a
// hand keeps its place in the queue.
func (l *Lobby) RaiseHand(id ID, raised bool, now time.Time) ([]Effect, error) {
	if l.ended {
		return nil, ErrEnded
	}
	if _, ok := l.members[id]; !ok {
		return nil, ErrUnknownTarget
	}
	_, up := l.hands[id]
	if up == raised {
		return nil, nil
	}
	if raised {
		if l.hands == nil {
			l.hands = map[ID]Hand{}
		}
		l.handSeq++
		l.hands[id] = Hand{ID: id, Since: now, Seq: l.handSeq}
	} else {
		delete(l.hands, id)
	}
	return []Effect{HandsChanged{Hands: l.Hands(), By: id}}, nil
}

// dropHand forgets a departed member's hand; the effect tells the others.
func (l *Lobby) dropHand(id ID) []Effect {
	if _, ok := l.hands[id]; !ok {
		return nil
	}
	delete(l.hands, id)
	return []Effect{HandsChanged{Hands: l.Hands()}}
}

// actOnHands carries out the hand and everyone-media actions for moderator by.
func (l *Lobby) actOnHands(by ID, a Action) ([]Effect, error) {
	switch a := a.(type) {
	case LowerHand:
		if _, ok := l.members[a.Target]; !ok {
			return nil, ErrUnknownTarget
		}
		if _, up := l.hands[a.Target]; !up {
			return nil, nil
		}
		delete(l.hands, a.Target)
		return []Effect{HandsChanged{Hands: l.Hands(), By: by}}, nil
	case LowerAllHands:
		if len(l.hands) == 0 {
			return nil, nil
		}
		clear(l.hands)
		return []Effect{HandsChanged{Hands: l.Hands(), By: by}}, nil
	case MediaAll:
		if a.Command != CommandMuteMic && a.Command != CommandMuteCamera {
			return nil, ErrInvalid
		}
		var effects []Effect
		for _, id := range l.Members() {
			if l.members[id] != RoleModerator {
				effects = append(effects, MediaCommand{Target: id, By: by, Command: a.Command, All: true})
			}
		}
		return effects, nil
	}
	return nil, ErrInvalid
}
