package signaling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// TestMeetingsEndTellsEachMemberOnlyItsBye: at a meeting's end each member is told
// `bye` `ended`, and nothing else. Each member ejected was a participant_left to every
// member still in it: n²/2 messages for n (a meeting of 200, 19,900: 6-41 ms and up to
// 11 MB of the end, signaling's BenchmarkEndMeetingWithRelays), which a page that is
// being ended showed as a toast of everyone leaving before its end screen. So, whether
// the server ends it (its room deleted, rotated or expired) or a moderator does.
func TestMeetingsEndTellsEachMemberOnlyItsBye(t *testing.T) {
	const n = 12
	for _, by := range []string{"server", "moderator"} {
		t.Run(by, func(t *testing.T) {
			srv := newTestServer(t)
			mt := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
			members := []*testclient.Client{srv.joinModerator(t, mt, "M0")}
			for i := 1; i < n; i++ {
				members = append(members, srv.join(t, mt.MeetingID, fmt.Sprintf("P%d", i)))
			}
			// Each has heard of the last one's join: what comes after is the end's.
			last := welcomeOf(t, members[n-1]).ParticipantID
			heard := make([]int, n)
			for i, c := range members {
				if i < n-1 {
					conntest.Eventually(t, fmt.Sprintf("member %d told of the last join", i), func() bool {
						return slices.ContainsFunc(c.All(), func(m testclient.Message) bool {
							return m.Type == "participant_joined" && strings.Contains(string(m.Payload), last)
						})
					})
				}
				heard[i] = len(c.All())
			}
			if by == "server" {
				signaling.EndMeeting(srv.sig, mt.MeetingID)
			} else if _, err := members[0].Send("end_meeting", nil); err != nil {
				t.Fatal(err)
			}
			for i, c := range members {
				waitClosed(t, c)
				var got []string
				for _, m := range c.AllFrom(heard[i]) {
					var p struct{ Reason string }
					_ = json.Unmarshal(m.Payload, &p)
					got = append(got, strings.TrimSpace(m.Type+" "+p.Reason))
				}
				if !slices.Equal(got, []string{"bye ended"}) {
					t.Fatalf("member %d of %d was told %d messages at the end, %v; want only bye ended", i, n, len(got), got)
				}
			}
		})
	}
}

// TestMeetingsEndRenegotiatesNoSubscribeConnection: at the end of a meeting whose
// members publish, their departures ask for no subscribe offer. Each member's session
// closes its media as it goes, and each departure renegotiated the subscribe
// connection of every participant still in the meeting's media (n² track removals,
// and offers to pages being told the end, for a meeting that was over). A probe
// participant in the media, subscribed to every camera, stays until all members have
// gone: no departure asks it for an offer (sfu.Room.End).
func TestMeetingsEndRenegotiatesNoSubscribeConnection(t *testing.T) {
	const n = 6
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	members := []*testclient.Client{srv.joinModerator(t, mt, "M0")}
	for i := 1; i < n; i++ {
		members = append(members, srv.join(t, mt.MeetingID, fmt.Sprintf("P%d", i)))
	}
	ids := make([]string, n)
	pubs := make([]*testclient.Publisher, n)
	for i, c := range members {
		ids[i] = welcomeOf(t, c).ParticipantID
		p, err := c.Publish(ctx, "camera")
		if err != nil {
			t.Fatal(err)
		}
		pubs[i] = p[0]
	}
	// Each receives every other's camera: the offers that brought them are answered.
	conntest.Eventually(t, "every member receiving every other's camera", func() bool {
		for _, p := range pubs {
			_ = p.Send([]byte{0x10, 0x01, 0x00})
		}
		for i, c := range members {
			for j, id := range ids {
				if r := c.Received(id, "camera"); i != j && (r == nil || r.Count() == 0) {
					return false
				}
			}
		}
		return true
	})
	room := signaling.MeetingRoom(srv.sig, mt.MeetingID)
	probe, err := room.Join("probe")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	<-probe.NegotiationNeeded() // subscribed to the cameras at its join
	heard := make([]int, n)
	for i, c := range members {
		heard[i] = len(c.All())
	}
	if _, err := members[0].Send("end_meeting", nil); err != nil {
		t.Fatal(err)
	}
	for i, c := range members {
		waitClosed(t, c)
		for _, m := range c.AllFrom(heard[i]) {
			if m.Type == "subscribe_offer" {
				t.Errorf("member %d of %d was sent a subscribe offer at the meeting's end", i, n)
			}
		}
	}
	// The last one's departure closes the room, the probe with it.
	conntest.Eventually(t, "every member's media gone", func() bool { return room.Len() <= 1 })
	select {
	case <-probe.NegotiationNeeded():
		t.Fatal("the members' departures at the meeting's end asked the probe for a subscribe offer")
	default:
	}
}
