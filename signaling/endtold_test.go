package signaling_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

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
					eventually(t, fmt.Sprintf("member %d told of the last join", i), func() bool {
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
