package signaling_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// TestALongDayHoldsOnlyItsMembers: one meeting that lives through a school's day on the
// fake clock — guests knock and are admitted one after another, share a screen with a
// microphone, raise hands, chat, are made moderators, lose their connection and come
// back, or lose it for good, and leave, while a moderator and a member stay all day and
// the member writes thousands of chat messages — holds afterwards what it held with
// only the two who stayed: no structure keyed by a person, a track or a message keeps
// an entry for what is gone (the ring of recent departures is bounded by its size,
// whoever came). The member who stayed received every share's screen and microphone,
// each share after the first in the sections the one before it left (offered as
// inactive meanwhile), and its last subscribe offer is no longer than its longest at
// any one time: a section freed by a share that ended is
// taken by the next, so the subscribe SDP does not grow with every share ever made.
func TestALongDayHoldsOnlyItsMembers(t *testing.T) {
	const (
		guests        = 300 // knocks and admissions in a day
		chatsPerGuest = 17  // the staying member's chat while each guest is in: 5,100 in all
		grace         = 30 * time.Second
	)
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, ResumeGrace: grace})
	mt := srv.createMeetingWith(t, `{"settings":{"lobby":true,"screenShare":true}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	mod := srv.joinModerator(t, mt, "Mod")
	stay := srv.admitted(t, mod, mt.MeetingID, "Stay")
	settled(t, srv, mod, stay)
	before := signaling.MeetingHolds(srv.sig, mt.MeetingID)
	sessions, groups := signaling.ConnsHeld(srv.sig)
	limited := signaling.HeldAddressGroups(srv.sig)

	chats := 0
	chat := func(n int) {
		for range n {
			if chats%5 == 0 {
				clock.Advance(time.Second) // the sustained rate, 5 a second
			}
			chats++
			if _, err := stay.Send("chat", map[string]any{"text": fmt.Sprintf("message %d", chats)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	gone := func(c *testclient.Client) {
		conntest.Eventually(t, "the guest gone from the meeting", func() bool {
			return !signaling.ConnectedMembers(srv.sig.Registry().Get(mt.MeetingID))[c.ParticipantID]
		})
	}
	shares := 0
	for i := range guests {
		g := srv.admitted(t, mod, mt.MeetingID, fmt.Sprintf("Guest %d", i))
		chat(chatsPerGuest)
		switch i % 6 {
		case 0: // presents: a screen and a microphone, then leaves
			pubs, err := g.Publish(ctx, "screen", "microphone")
			if err != nil {
				t.Fatalf("guest %d publishes: %v", i, err)
			}
			shares++
			stop := make(chan struct{})
			sent := make(chan struct{})
			go func() { // media until both tracks reach the member who stayed
				defer close(sent)
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					for _, p := range pubs {
						_ = p.Send([]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x01, 0x02})
					}
				}
			}()
			for _, src := range []string{"screen", "microphone"} {
				conntest.Eventually(t, fmt.Sprintf("guest %d's %s offered to the member who stayed", i, src), func() bool {
					for _, tr := range stay.MidInfo() {
						if tr.ParticipantID == g.ParticipantID && tr.Source == src {
							return true
						}
					}
					return false
				})
				conntest.Eventually(t, fmt.Sprintf("guest %d's %s received by the member who stayed", i, src), func() bool {
					r := stay.Received(g.ParticipantID, src)
					return r != nil && r.Count() > 0
				})
			}
			close(stop)
			<-sent
			if _, err := g.Send("media_state", map[string]any{"mic": true, "camera": false, "screen": true}); err != nil {
				t.Fatal(err)
			}
			if err := g.Leave(ctx); err != nil {
				t.Fatal(err)
			}
		case 1: // raises a hand, chats, leaves with the hand up
			if _, err := g.Send("raise_hand", map[string]any{"raised": true}); err != nil {
				t.Fatal(err)
			}
			if _, err := g.Send("chat", map[string]any{"text": "a question"}); err != nil {
				t.Fatal(err)
			}
			if err := g.Leave(ctx); err != nil {
				t.Fatal(err)
			}
		case 2: // made a moderator, then removed by the moderator
			if _, err := mod.Send("set_role", map[string]any{"participantId": g.ParticipantID, "role": "moderator"}); err != nil {
				t.Fatal(err)
			}
			settled(t, srv, mod, g)
			if _, err := mod.Send("remove", map[string]any{"participantId": g.ParticipantID}); err != nil {
				t.Fatal(err)
			}
			gone(g)
		case 3: // loses the connection and comes back on another, then leaves
			g.Close()
			gone(g)
			back := srv.dial(t)
			if err := back.Resume(ctx, mt.MeetingID, g.ParticipantID, g.ResumeSecret); err != nil {
				t.Fatalf("guest %d resumes: %v", i, err)
			}
			if err := back.Leave(ctx); err != nil {
				t.Fatal(err)
			}
		case 4: // loses the connection for good: its membership runs out
			g.Close()
			gone(g)
			settled(t, srv, mod, stay)
			// The grace's wait is armed under the meeting's lock with the connection's
			// removal that gone saw (Meeting.park): one step of the clock runs it out. A
			// step at each look of the wait would be one machine-speed race per look: two
			// of the server's pings (every 20 s of its clock) that find no pong from the
			// two who stay, a few milliseconds apart on a loaded machine, close them.
			clock.Advance(grace)
			conntest.Eventually(t, "the dropped guest's membership run out", func() bool {
				return signaling.WaitingToResume(srv.sig.Registry().Get(mt.MeetingID)) == 2
			})
		case 5: // asks for an ICE restart of its subscribe connection, then leaves
			if _, err := g.Send("ice_restart", map[string]any{"pc": "subscribe"}); err != nil {
				t.Fatal(err)
			}
			if err := g.Leave(ctx); err != nil {
				t.Fatal(err)
			}
		}
		g.Close()
	}
	conntest.Eventually(t, "the meeting back to its two members", func() bool {
		return signaling.PeopleIn(srv.sig.Registry().Get(mt.MeetingID)) == 4
	})
	settled(t, srv, mod, stay)

	after := signaling.MeetingHolds(srv.sig, mt.MeetingID)
	if after["departed"] > signaling.DepartedMemory {
		t.Errorf("the meeting remembers %d departures, more than its ring of %d", after["departed"], signaling.DepartedMemory)
	}
	delete(before, "departed")
	delete(after, "departed")
	if !maps.Equal(before, after) {
		t.Errorf("after a day of %d guests, %d shares and %d chat messages the meeting holds\n%v\nwhere with its two members it held\n%v", guests, shares, chats, after, before)
	}

	// The last guest's session ends when the server reads its connection's close,
	// which the meeting's count of people does not wait for.
	var s, g int
	conntest.Eventually(t, "the server's sessions back to those before the day", func() bool {
		s, g = signaling.ConnsHeld(srv.sig)
		return s <= sessions && g <= groups
	})
	if s != sessions || g != groups {
		t.Errorf("the server holds %d sessions from %d address groups after the day, %d from %d before", s, g, sessions, groups)
	}
	if n := signaling.HeldAddressGroups(srv.sig); n > limited {
		t.Errorf("the server's limiters remember %d address groups after the day, %d before", n, limited)
	}

	// The staying member's subscribe offers: every share was offered to it, and its
	// subscribe connection's last offer holds a section for one share's two tracks.
	var offers, sections int
	conntest.Eventually(t, "the member who stayed answered its last subscribe offer", func() bool {
		offers, sections = stay.SubscribeOffers()
		return offers >= shares
	})
	if sections > 2 {
		t.Errorf("after %d shares the member who stayed has a subscribe offer of %d media sections, where one share at a time needs 2 (a screen and a microphone)", shares, sections)
	}
	t.Logf("%d guests, %d shares, %d chat messages; %d subscribe offers, %d sections", guests, shares, chats, offers, sections)
}
