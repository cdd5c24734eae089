package signaling

import (
	"slices"
	"time"

	"conclave/sfu"
)

// What the member's downlink bandwidth does to the video it shows (PROTOCOL.md,
// "downlink"): the SFU estimates each subscriber's bandwidth and shares it out across
// its tiles; when that leaves a tile a smaller layer than its size calls for, or no
// video at all, the client is told, so it can say why. Sent only when the state
// changes, at most once per downlinkInterval of the server's clock; a change inside the
// interval is sent at its end, with the state as it is then.

// TypeDownlink is the server's message about the member's downlink.
const TypeDownlink = "downlink"

const downlinkInterval = time.Second

// DownlinkTrack is one shown tile the bandwidth affects.
type DownlinkTrack struct {
	ParticipantID string `json:"participantId"`
	Source        string `json:"source"`
	State         string `json:"state"` // "reduced" or "paused"
}

// DownlinkPayload says whether the member's bandwidth covers the video it shows, and
// which tiles it does not.
type DownlinkPayload struct {
	Limited bool            `json:"limited"`
	Tracks  []DownlinkTrack `json:"tracks"`
}

func downlinkPayload(d sfu.Downlink) DownlinkPayload {
	p := DownlinkPayload{Limited: d.Limited, Tracks: make([]DownlinkTrack, 0, len(d.Tracks))}
	for _, t := range d.Tracks {
		p.Tracks = append(p.Tracks, DownlinkTrack{ParticipantID: t.ParticipantID, Source: string(t.Source), State: t.State})
	}
	return p
}

// downlinkPacer decides when the state goes out; owned by the session's goroutine.
type downlinkPacer struct {
	last    DownlinkPayload // what the client was told; it starts not limited
	sentAt  time.Time
	pending bool // a send is scheduled at the end of the interval
}

// changed is called when the state changed at now: send at once (true), or in wait (a
// send is then pending; a wait of 0 with false means one is already scheduled).
func (p *downlinkPacer) changed(now time.Time) (sendNow bool, wait time.Duration) {
	if p.pending {
		return false, 0
	}
	if p.sentAt.IsZero() || now.Sub(p.sentAt) >= downlinkInterval {
		return true, 0
	}
	p.pending = true
	return false, p.sentAt.Add(downlinkInterval).Sub(now)
}

// take returns the state to send, if it differs from what the client was told, and
// notes it as sent at now.
func (p *downlinkPacer) take(now time.Time, cur DownlinkPayload) (DownlinkPayload, bool) {
	p.pending = false
	if cur.Limited == p.last.Limited && slices.Equal(cur.Tracks, p.last.Tracks) {
		return DownlinkPayload{}, false
	}
	p.last, p.sentAt = cur, now
	return cur, true
}

// downlinkChanged handles the SFU's notice that the member's downlink state changed.
func (s *Session) downlinkChanged() {
	if s.peer == nil {
		return
	}
	sendNow, wait := s.downlink.changed(s.srv.now())
	switch {
	case sendNow:
		s.sendDownlink()
	case wait > 0:
		due := s.downlinkDue
		s.srv.clock.AfterFunc(wait, func() {
			select {
			case due <- struct{}{}:
			default:
			}
		})
	}
}

// sendDownlink tells the client the state, if it is news.
func (s *Session) sendDownlink() {
	if s.peer == nil {
		s.downlink.pending = false
		return
	}
	if p, ok := s.downlink.take(s.srv.now(), downlinkPayload(s.peer.Downlink())); ok {
		s.send(encode(TypeDownlink, "", p))
	}
}
