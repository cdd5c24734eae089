package sfu

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

// TestEndingRoomRenegotiatesNobody: when a room goes as a whole (a meeting's end:
// Room.End, then each participant closed by its session; or Room.Close), a participant
// that leaves takes its tracks from the others without asking for a subscribe offer
// of any of them. Each departure asked every participant still there for an offer
// without its tracks: n² renegotiations at the end of a meeting of n, and offers sent
// to pages that were being told the end. A participant that leaves an ongoing room
// still renegotiates the others.
func TestEndingRoomRenegotiatesNobody(t *testing.T) {
	for _, how := range []string{"left", "End", "Close"} {
		t.Run(how, func(t *testing.T) {
			const n = 4
			_, _, room := newClockedRoom(t, false)
			parts := publishingParticipants(t, room, n)
			switch how {
			case "End":
				room.End()
			case "Close":
				// Close closes them all in turn; each must find the room ending.
				room.Close()
				for i, p := range parts {
					if asked(p) {
						t.Fatalf("the room closed: participant %d was asked for a subscribe offer", i)
					}
				}
				return
			}
			for i, p := range parts[:n-1] {
				p.Close()
				for j, q := range parts[i+1:] {
					got := asked(q)
					if how == "left" && !got {
						t.Fatalf("participant %d left an ongoing room: participant %d was not asked for an offer without its track", i, i+1+j)
					}
					if how == "End" && got {
						t.Fatalf("participant %d left the ending room: participant %d was asked for a subscribe offer", i, i+1+j)
					}
				}
			}
		})
	}
}

// asked reports whether p asked for a subscribe offer since it was last asked (its
// NegotiationNeeded fired), and takes the signal.
func asked(p *Participant) bool {
	select {
	case <-p.NegotiationNeeded():
		return true
	default:
		return false
	}
}

// publishingParticipants joins n participants to room, each publishing a camera,
// and returns once each is subscribed to every other's camera, with nothing asked of
// them since.
func publishingParticipants(t *testing.T, room *Room, n int) []*Participant {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	api := testPeerAPI(t)
	parts := make([]*Participant, n)
	tracks := make([]*webrtc.TrackLocalStaticRTP, n)
	for i := range parts {
		p, err := room.Join(fmt.Sprintf("p%d", i))
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = p
		pc, track, tr := newCameraSender(t, api)
		tracks[i] = track
		publishTo(ctx, t, p, pc, func() map[string]Source { return map[string]Source{tr.Mid(): SourceCamera} })
	}
	subscribed := func() bool {
		for _, p := range parts {
			p.mu.Lock()
			k := len(p.downs)
			p.mu.Unlock()
			if k != n-1 {
				return false
			}
		}
		return true
	}
	// The SFU publishes a track at its first packet, once the connection is up.
	for seq := uint16(1); !subscribed(); seq++ {
		if ctx.Err() != nil {
			t.Fatal("the participants never subscribed to each other's cameras")
		}
		for _, track := range tracks {
			_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq,
				Timestamp: uint32(seq) * 3000, Marker: true}, Payload: []byte{0x10, 0x01, 0x00, 0x9d, 0x01, 0x2a}})
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range parts {
		asked(p) // the offer with the others' tracks, not looked at here
	}
	return parts
}
