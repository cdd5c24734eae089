package signaling

import (
	"slices"
	"time"

	"conclave/sfu"
)

// Who speaks (PROTOCOL.md, "Who speaks"): with speaker detection on, the SFU tells
// from the audio levels browsers send in the clear who speaks (sfu.Room.Speakers), and
// every member is told with `speaking`, on change and at most every speakingInterval.
// It lives in memory for the running meeting only and is never logged.

// TypeSpeaking is the server's message of who speaks.
const TypeSpeaking = "speaking"

// speakingInterval is the shortest time between two `speaking` messages of a meeting.
const speakingInterval = 300 * time.Millisecond

// SpeakingPayload says who speaks: the dominant speaker ("" for none), everyone
// speaking now (the dominant speaker first), and the last dominant speakers (latest
// first).
type SpeakingPayload struct {
	Dominant string   `json:"dominant"`
	Speaking []string `json:"speaking"`
	Recent   []string `json:"recent"`
}

func speakingPayload(s sfu.Speakers) SpeakingPayload {
	p := SpeakingPayload{Dominant: s.Dominant, Speaking: s.Speaking, Recent: s.Recent}
	if p.Speaking == nil {
		p.Speaking = []string{}
	}
	if p.Recent == nil {
		p.Recent = []string{}
	}
	return p
}

// watchSpeakers sends the room's speakers to the members until the room closes. A
// change within speakingInterval of the last message waits for the interval's end (on
// the server's clock) and is then sent as it stands.
func (m *Meeting) watchSpeakers(after func(time.Duration, func()) func() bool) {
	room := m.room
	due := make(chan struct{}, 1)
	var last time.Time
	var stop func() bool
	for {
		select {
		case <-room.SpeakersChanged():
			if stop != nil {
				continue // a send is already due
			}
			if wait := last.Add(speakingInterval).Sub(m.now()); !last.IsZero() && wait > 0 {
				stop = after(wait, func() { due <- struct{}{} })
				continue
			}
		case <-due:
			stop = nil
		case <-room.SpeakersDone():
			if stop != nil {
				stop()
			}
			return
		}
		last = m.now()
		m.sendSpeakers(room.Speakers())
	}
}

// sendSpeakers tells every member s, unless it is what they were told last.
func (m *Meeting) sendSpeakers(s sfu.Speakers) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.speakers
	if old.Dominant == s.Dominant && slices.Equal(old.Speaking, s.Speaking) && slices.Equal(old.Recent, s.Recent) {
		return
	}
	m.speakers = s
	m.broadcastLocked("", encode(TypeSpeaking, "", speakingPayload(s)))
}

// welcomeSpeakersLocked tells a new member who speaks, when anyone does or did.
func (m *Meeting) welcomeSpeakersLocked(s *Session) {
	if sp := m.speakers; sp.Dominant != "" || len(sp.Speaking) > 0 || len(sp.Recent) > 0 {
		s.send(encode(TypeSpeaking, "", speakingPayload(sp)))
	}
}
