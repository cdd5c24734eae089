package signaling_test

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// openFDs is the number of this process's open file descriptors (Linux; -1 elsewhere).
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// TestMeetingsLeaveNothingBehind: a server that has held many meetings, each ended in
// another way (moderator's end, emptied, a member's connection gone for good, a
// knocker gone from the waiting room, a member gone while its media was set up), holds
// no meeting, no membership waiting to resume, no timer but its janitor's, no goroutine
// and no descriptor more than before the first.
func TestMeetingsLeaveNothingBehind(t *testing.T) {
	const grace = 30 * time.Second
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, ResumeGrace: grace})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// One meeting first, so what a server makes once (the writers, the sweep, pools)
	// is in the baseline.
	warm := srv.createMeeting(t)
	w := srv.join(t, warm, "Warm")
	if _, err := w.Publish(ctx, "microphone", "camera"); err != nil {
		t.Fatal(err)
	}
	if err := w.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	w.Close()
	conntest.Eventually(t, "the warm-up meeting to end", func() bool { return srv.sig.Registry().Len() == 0 })
	baseline := goleak.IgnoreCurrent()
	fds := openFDs()
	timers := clock.Pending()

	const rounds = 6
	for i := range rounds {
		m := srv.createMeetingWith(t, `{"settings":{"lobby":true}}`)
		mod := srv.joinModerator(t, m, "Mod")
		if _, err := mod.Publish(ctx, "microphone", "camera"); err != nil {
			t.Fatal(err)
		}
		// A knocker who vanishes from the waiting room.
		gone := srv.knock(t, m.MeetingID, "Gone", nil)
		waitingID(t, mod, "Gone")
		gone.Close()
		// A member who publishes, then whose connection drops for good: parked, then
		// its grace runs out.
		a := admitWithPassword(t, srv, mod, m.MeetingID, "Alice")
		if _, err := a.Publish(ctx, "camera"); err != nil {
			t.Fatal(err)
		}
		a.Close()
		toldReconnecting(t, mod, a.ParticipantID)
		// A member who leaves politely.
		b := admitWithPassword(t, srv, mod, m.MeetingID, "Bob")
		if err := b.Leave(ctx); err != nil {
			t.Fatal(err)
		}
		b.Close()
		clock.Advance(grace + time.Second)
		switch i % 2 {
		case 0: // the moderator ends it
			if _, err := mod.Send("end_meeting", map[string]any{}); err != nil {
				t.Fatal(err)
			}
			waitClosed(t, mod)
		case 1: // the last one leaves
			if err := mod.Leave(ctx); err != nil {
				t.Fatal(err)
			}
		}
		mod.Close()
		conntest.Eventually(t, "the meeting to end", func() bool { return srv.sig.Registry().Len() == 0 })
	}
	conntest.GoroutinesEnd(t, baseline)
	conntest.Eventually(t, "descriptors back", func() bool { return openFDs() <= fds })
	conntest.Eventually(t, "the sessions to be let go", func() bool {
		sessions, groups := signaling.ConnsHeld(srv.sig)
		return sessions == 0 && groups == 0
	})
	// The addresses that knocked are kept no longer than KnockMemory (the privacy
	// notice's promise); the right passwords left nothing.
	clock.Advance(signaling.KnockMemory(signaling.DefaultMaxConnsPerAddr))
	conntest.Eventually(t, "the knocks' addresses to be forgotten", func() bool { return signaling.HeldAddressGroups(srv.sig) == 0 })
	if got := clock.Pending(); got > timers {
		t.Errorf("%d timers pending on the server's clock after %d meetings, %d before", got, rounds, timers)
	}
}

// TestUnhappyMeetingsLeaveNothingBehind is TestMeetingsLeaveNothingBehind for the
// unhappy paths: a connection gone during its password's hash, one gone while its
// publish connection was set up, one gone mid-resume; meetings ended by their room's
// deletion and rotation as well as by a moderator and by emptying.
func TestUnhappyMeetingsLeaveNothingBehind(t *testing.T) {
	const grace = 30 * time.Second
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, ResumeGrace: grace})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	warm := srv.createMeeting(t)
	w := srv.join(t, warm, "Warm")
	if _, err := w.Publish(ctx, "microphone", "camera"); err != nil {
		t.Fatal(err)
	}
	if err := w.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the warm-up meeting to end", func() bool { return srv.sig.Registry().Len() == 0 })
	baseline := goleak.IgnoreCurrent()
	fds := openFDs()
	timers := clock.Pending()

	const rounds = 8
	for i := range rounds {
		r := srv.createRoom(t, `{"settings":{"lobby":true},"password":"pw"}`)
		m := createdMeeting{MeetingID: r.Room.ID, ModeratorSecret: r.ModeratorSecret}
		mod := srv.joinModerator(t, m, "Mod")
		if _, err := mod.Publish(ctx, "microphone", "camera"); err != nil {
			t.Fatal(err)
		}
		// Gone during the password's hash.
		h := srv.dial(t)
		if err := h.SendJoin(map[string]any{"meetingId": m.MeetingID, "name": "Hash", "password": "pw"}); err != nil {
			t.Fatal(err)
		}
		h.Close()
		// Gone while its publish connection is set up.
		a := admitWithPassword(t, srv, mod, m.MeetingID, "Alice")
		pubDone := make(chan struct{})
		go func() {
			defer close(pubDone)
			pctx, pcancel := context.WithTimeout(ctx, 20*time.Second)
			defer pcancel()
			_, _ = a.Publish(pctx, "camera")
		}()
		if _, err := a.Expect(ctx, "publish_answer"); err != nil {
			t.Fatal(err)
		}
		a.Close()
		<-pubDone
		// Its resume, gone mid-way; then its grace runs out. A resume that claimed the
		// membership parks it again when its connection goes, and the grace starts
		// anew then: the clock moves on only once the server has let go of the
		// resume's connection (the moderator's alone is left), so that the grace it
		// arms is due by then.
		toldReconnecting(t, mod, a.ParticipantID)
		sessionsHeld(t, srv, 1, "the moderator's connection alone")
		res := srv.dial(t)
		sessionsHeld(t, srv, 2, "the resume's connection")
		if err := res.SendResume(m.MeetingID, a.ParticipantID, a.ResumeSecret, nil); err != nil {
			t.Fatal(err)
		}
		res.Close()
		sessionsHeld(t, srv, 1, "the resume's connection let go")
		// A member who publishes and stays to the end.
		b := admitWithPassword(t, srv, mod, m.MeetingID, "Bob")
		if _, err := b.Publish(ctx, "microphone", "camera"); err != nil {
			t.Fatal(err)
		}
		clock.Advance(grace + time.Second)
		switch i % 4 {
		case 0:
			if _, err := mod.Send("end_meeting", map[string]any{}); err != nil {
				t.Fatal(err)
			}
		case 1:
			_ = mod.Leave(ctx)
			_ = b.Leave(ctx)
		case 2:
			srv.apiJSON(t, http.MethodDelete, "/api/rooms/"+m.MeetingID, "", http.StatusNoContent, nil)
		case 3:
			srv.apiJSON(t, http.MethodPost, "/api/rooms/"+m.MeetingID+"/rotate", `{}`, http.StatusOK, nil)
		}
		for _, c := range []*testclient.Client{mod, b} {
			select {
			case <-c.Done():
			case <-ctx.Done():
				t.Fatalf("round %d: a member's connection outlived its meeting", i)
			}
			c.Close()
		}
		conntest.Eventually(t, "the meeting to end", func() bool { return srv.sig.Registry().Len() == 0 })
	}
	conntest.GoroutinesEnd(t, baseline)
	conntest.Eventually(t, "descriptors back", func() bool { return openFDs() <= fds })
	conntest.Eventually(t, "the sessions to be let go", func() bool {
		sessions, groups := signaling.ConnsHeld(srv.sig)
		return sessions == 0 && groups == 0
	})
	// The addresses that knocked are kept no longer than KnockMemory (the privacy
	// notice's promise); the right passwords left nothing.
	clock.Advance(signaling.KnockMemory(signaling.DefaultMaxConnsPerAddr))
	conntest.Eventually(t, "the knocks' addresses to be forgotten", func() bool { return signaling.HeldAddressGroups(srv.sig) == 0 })
	if got := clock.Pending(); got > timers {
		t.Errorf("%d timers pending on the server's clock after %d meetings, %d before", got, rounds, timers)
	}
}

// toldReconnecting waits until watcher has been told that member id is reconnecting:
// the server arms the member's grace timer before it says so (park), so a test may move
// the clock past the grace after it. (How many memberships wait to resume says nothing
// of it: a member connected has its record too.)
func toldReconnecting(t *testing.T, watcher *testclient.Client, id string) {
	t.Helper()
	conntest.Eventually(t, id+" reconnecting", func() bool {
		for _, m := range watcher.All() {
			if m.Type == "participant_updated" {
				if p := participantOf(t, m); p.ID == id && p.Reconnecting {
					return true
				}
			}
		}
		return false
	})
}

// sessionsHeld waits until the server holds n sessions: a session is let go (its
// membership parked or left) before it is.
func sessionsHeld(t *testing.T, srv *testServer, n int, what string) {
	t.Helper()
	conntest.Eventually(t, what, func() bool {
		sessions, _ := signaling.ConnsHeld(srv.sig)
		return sessions == n
	})
}

// admitWithPassword knocks as name with the password "pw" and has mod admit it.
func admitWithPassword(t *testing.T, srv *testServer, mod *testclient.Client, meeting, name string) *testclient.Client {
	t.Helper()
	c := srv.knock(t, meeting, name, map[string]any{"password": "pw"})
	if _, err := mod.Send("admit", map[string]any{"participantId": waitingID(t, mod, name)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := c.AwaitWelcome(ctx); err != nil {
		t.Fatalf("%s was not let in: %v", name, err)
	}
	return c
}
