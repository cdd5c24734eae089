package signaling

import (
	"time"

	"conclave/lobby"
)

// Raised hands and reactions (PROTOCOL.md "Hands and reactions"). The queue of hands is
// the policy's (lobby); reactions are relayed and forgotten. Both live in memory only.

// Message types of hands and reactions.
const (
	TypeRaiseHand     = "raise_hand"      // client: raise or lower the own hand
	TypeReaction      = "reaction"        // both directions: a reaction, relayed to every member
	TypeHands         = "hands"           // server: the queue of raised hands
	TypeLowerHand     = "lower_hand"      // moderator: lower one member's hand
	TypeLowerAllHands = "lower_all_hands" // moderator: lower every hand
	TypeMuteAll       = "mute_all"        // moderator: mute every microphone or camera but the moderators'
)

// Reaction limits per member: a burst, then one a second.
const (
	reactionRate  = 1
	reactionBurst = 5
)

// Reactions is the fixed set of reactions the server relays.
var Reactions = []string{"👍", "👏", "😂", "😮", "❤️", "🎉"}

func knownReaction(s string) bool {
	for _, r := range Reactions {
		if s == r {
			return true
		}
	}
	return false
}

// RaiseHandPayload raises (true) or lowers (false) the sender's hand.
type RaiseHandPayload struct {
	Raised *bool `json:"raised"`
}

// ReactionPayload is a reaction from a client.
type ReactionPayload struct {
	Emoji string `json:"emoji"`
}

// ReactionOutPayload is a reaction as relayed to every member, the sender included.
type ReactionOutPayload struct {
	From  string `json:"from"`
	Emoji string `json:"emoji"`
}

// HandEntry is one raised hand.
type HandEntry struct {
	ParticipantID string `json:"participantId"`
	RaisedMs      int64  `json:"raisedMs"` // how long it has been up when this was sent
}

// HandsPayload is the queue of raised hands, first raised first.
type HandsPayload struct {
	Hands []HandEntry `json:"hands"`
	By    string      `json:"by"` // who changed it: the member, a moderator, "" when someone left
}

// ParseRaiseHand reads a raise_hand payload: raised must be given.
func ParseRaiseHand(env Envelope) (bool, *Error) {
	p, err := decodePayload[RaiseHandPayload](env)
	if err != nil {
		return false, err
	}
	if p.Raised == nil {
		return false, errorf(CodeInvalidField, "raised (true or false) is required")
	}
	return *p.Raised, nil
}

// ParseReaction reads a reaction payload: one of Reactions.
func ParseReaction(env Envelope) (string, *Error) {
	p, err := decodePayload[ReactionPayload](env)
	if err != nil {
		return "", err
	}
	if !knownReaction(p.Emoji) {
		return "", errorf(CodeInvalidField, "unknown reaction")
	}
	return p.Emoji, nil
}

func (s *Session) raiseHand(env Envelope) *Error {
	raised, err := ParseRaiseHand(env)
	if err != nil {
		return err
	}
	if !s.fanout.allow(s.srv.now()) {
		return errorf(CodeRateLimited, "too many messages; slow down")
	}
	return s.meeting.raiseHand(s.id, raised, s.srv.now())
}

func (s *Session) react(env Envelope) *Error {
	emoji, err := ParseReaction(env)
	if err != nil {
		return err
	}
	if !s.reactions.allow(s.srv.now()) {
		return errorf(CodeRateLimited, "too many reactions; slow down")
	}
	return s.meeting.react(s.id, emoji)
}

// raiseHand raises or lowers a member's own hand.
func (m *Meeting) raiseHand(id string, raised bool, now time.Time) *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.members[lobby.ID(id)]; !ok {
		return errorf(CodeNotAllowedInState, "not a member")
	}
	effects, err := m.lob.RaiseHand(lobby.ID(id), raised, now)
	if err != nil {
		return policyError(err)
	}
	m.applyLocked(effects)
	return nil
}

// react relays a reaction to every member present, the sender included. Nothing is kept.
func (m *Meeting) react(from, emoji string) *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.members[lobby.ID(from)]; !ok {
		return errorf(CodeNotAllowedInState, "not a member")
	}
	m.broadcastLocked("", encode(TypeReaction, "", ReactionOutPayload{From: from, Emoji: emoji}))
	return nil
}

// handsMessage is the queue as members see it.
func handsMessage(hands []lobby.Hand, by lobby.ID, now time.Time) []byte {
	list := make([]HandEntry, 0, len(hands))
	for _, h := range hands {
		list = append(list, HandEntry{ParticipantID: string(h.ID), RaisedMs: now.Sub(h.Since).Milliseconds()})
	}
	return encode(TypeHands, "", HandsPayload{Hands: list, By: string(by)})
}

// welcomeHandsLocked tells a new member the raised hands, right after its welcome.
func (m *Meeting) welcomeHandsLocked(s *Session) {
	if hands := m.lob.Hands(); len(hands) > 0 {
		s.send(handsMessage(hands, "", m.now()))
	}
}
