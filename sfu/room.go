package sfu

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Source says what a published track shows.
type Source string

// The sources a participant can publish.
const (
	SourceMicrophone Source = "microphone"
	SourceCamera     Source = "camera"
	SourceScreen     Source = "screen"
)

// Valid reports whether s is one of the known sources.
func (s Source) Valid() bool {
	return s == SourceMicrophone || s == SourceCamera || s == SourceScreen
}

// Errors returned by rooms and participants.
var (
	ErrClosed         = errors.New("sfu: closed")
	ErrDuplicateID    = errors.New("sfu: participant id already in the room")
	ErrNoOfferPending = errors.New("sfu: no subscribe offer is outstanding")
	ErrBadSDP         = errors.New("sfu: SDP rejected")
	ErrBadCandidate   = errors.New("sfu: ICE candidate rejected")
	// ErrTracks: the track labels do not match what the offer carries, or the offer
	// carries more than the limits allow.
	ErrTracks = errors.New("sfu: tracks refused")
	// ErrTooManyCandidates: the connection has trickled MaxTrickledCandidates already.
	ErrTooManyCandidates = errors.New("sfu: too many candidates")
)

// Room is the media side of one meeting: who is in it and which tracks they publish.
// Everyone in a room receives every track published by everyone else.
type Room struct {
	engine   *Engine
	speakers *speakerTracker // who speaks (speakers.go)

	// encrypted: the meeting is end-to-end encrypted. Its senders ratchet their keys when
	// someone joins, so a newcomer cannot decrypt a cached keyframe from before its join:
	// none is replayed (replay.go), the join's keyframe request alone serves.
	encrypted atomic.Bool
	// ending: the room goes as a whole (End, Close), every participant with it. One
	// that leaves then is not taken out of the others' subscribe offers: they are all
	// leaving too, and each departure renegotiated every participant still there, n²
	// track removals and an offer each to the pages being ended (unsubscribe).
	ending atomic.Bool

	mu      sync.Mutex
	members map[string]*Participant
	tracks  []*upTrack
	closed  bool
}

// NewRoom makes an empty room.
func (e *Engine) NewRoom() *Room {
	var after func(time.Duration, func()) func() bool
	if e != nil {
		after = e.after
	}
	return &Room{engine: e, speakers: newSpeakerTracker(after), members: make(map[string]*Participant)}
}

// SetEncrypted says whether the meeting is end-to-end encrypted (see Room.encrypted);
// it applies to subscriptions made from then on.
func (r *Room) SetEncrypted(on bool) { r.encrypted.Store(on) }

// Join adds a participant with both of its peer connections. The caller must Close it.
func (r *Room) Join(id string) (*Participant, error) {
	p, err := newParticipant(r, id)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		p.discardRefused()
		return nil, ErrClosed
	}
	if _, dup := r.members[id]; dup {
		r.mu.Unlock()
		p.discardRefused()
		return nil, ErrDuplicateID
	}
	r.members[id] = p
	existing := append([]*upTrack(nil), r.tracks...)
	r.mu.Unlock()

	for _, up := range existing {
		p.subscribe(up)
	}
	return p, nil
}

// Len is the number of participants.
func (r *Room) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

// End says that the room goes as a whole: every participant in it is closing (a
// meeting's end), so one that leaves no longer renegotiates the others' subscribe
// connections. It only sets a flag (signaling calls it under a meeting's lock); the
// participants are still closed each by its owner, or all by Close.
func (r *Room) End() { r.ending.Store(true) }

// Close closes every participant. The room cannot be joined afterwards.
func (r *Room) Close() {
	r.End()
	r.mu.Lock()
	r.closed = true
	members := make([]*Participant, 0, len(r.members))
	for _, p := range r.members {
		members = append(members, p)
	}
	r.mu.Unlock()
	for _, p := range members {
		p.Close()
	}
	r.speakers.close()
}

// publish makes up visible to everyone else in the room. It reports false when the owner
// has already left.
func (r *Room) publish(up *upTrack) bool {
	r.mu.Lock()
	if r.members[up.owner.id] != up.owner {
		r.mu.Unlock()
		return false
	}
	r.tracks = append(r.tracks, up)
	up.stats.tracks.Add(1)
	subs := make([]*Participant, 0, len(r.members))
	for id, p := range r.members {
		if id != up.owner.id {
			subs = append(subs, p)
		}
	}
	r.mu.Unlock()
	for _, p := range subs {
		p.subscribe(up)
	}
	return true
}

// unpublish removes up from the room and from every subscriber. Safe to call twice.
func (r *Room) unpublish(up *upTrack) {
	r.mu.Lock()
	for i, t := range r.tracks {
		if t == up {
			r.tracks = append(r.tracks[:i], r.tracks[i+1:]...)
			up.stats.tracks.Add(-1)
			break
		}
	}
	r.mu.Unlock()
	up.stop()
	for _, d := range up.end() {
		d.sub.unsubscribe(up)
	}
}

// leave removes p from the room and returns the tracks it published.
func (r *Room) leave(p *Participant) []*upTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members[p.id] == p {
		delete(r.members, p.id)
	}
	var own []*upTrack
	for _, t := range r.tracks {
		if t.owner == p {
			own = append(own, t)
		}
	}
	return own
}
