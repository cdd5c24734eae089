package signaling_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// A moderator's waiting lists are paced (waitingpace.go): anyone with the link can knock
// and leave in a loop, from as many addresses as they have, and each knock and each
// leave made a whole list for every moderator.

// longKnocks has n people knock at meeting from 127.0.0.2, each with a name of 400
// characters of four bytes each, and returns their names.
func longKnocks(t *testing.T, srv *testServer, meeting string, n int) []string {
	t.Helper()
	var names []string
	for i := range n {
		name := fmt.Sprintf("%02d", i) + strings.Repeat("𝄞", 398)
		expectType(t, srv.knockFrom(t, net.ParseIP("127.0.0.2"), meeting, name), "lobby")
		names = append(names, name)
	}
	return names
}

// knockLoop knocks from addr and leaves, cycles times, and returns once the server
// holds none of those connections any more (each leave has reached the waiting room).
func knockLoop(t *testing.T, srv *testServer, addr, meeting string, cycles int) {
	t.Helper()
	for range cycles {
		c := srv.knockFrom(t, net.ParseIP(addr), meeting, "Loop")
		expectType(t, c, "lobby")
		ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
		if err := c.Leave(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	conntest.Eventually(t, "the loop's connections to be let go of", func() bool { return signaling.SessionsFrom(srv.sig, addr) == 0 })
}

// caughtUp returns once c has received everything the server queued for it before now:
// the answer to a ping comes behind it.
func caughtUp(t *testing.T, c *testclient.Client, n int) {
	t.Helper()
	if _, err := c.Send("ping", map[string]any{"n": n}); err != nil {
		t.Fatal(err)
	}
	expectType(t, c, "pong")
}

// listBytes counts the waiting lists among msgs and their bytes.
func listBytes(msgs []testclient.Message) (lists, bytes int) {
	for _, m := range msgs {
		if m.Type == "waiting_list" {
			lists++
			bytes += len(m.Payload)
		}
	}
	return lists, bytes
}

// TestKnockLoopIsPacedForTheModerator: 20 people knock with names of 400 characters,
// then 40 knocks and leaves from one address, on a clock that stands still, sent the
// moderator 86 lists, 2.6 MB in all (each the whole room, some 36 KB); now they get the
// budget's 1 MiB at most. When the clock moves on, one list follows, the latest: everyone waiting, Ben
// (who knocked during the loop) included, and none of the loop's knocks.
func TestKnockLoopIsPacedForTheModerator(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	waiting := longKnocks(t, srv, mt.MeetingID, 20)
	waitingID(t, mod, waiting[19])

	knockLoop(t, srv, "127.0.0.3", mt.MeetingID, 20)
	expectType(t, srv.knockFrom(t, net.ParseIP("127.0.0.4"), mt.MeetingID, "Ben"), "lobby")
	knockLoop(t, srv, "127.0.0.3", mt.MeetingID, 20)
	caughtUp(t, mod, 1)
	lists, bytes := listBytes(mod.All())
	if bytes > signaling.WaitingListBurst {
		t.Fatalf("20 knocks, then 41 knocks and 40 leaves sent the moderator %d waiting lists of %d bytes in all while the clock stood still, want at most %d bytes", lists, bytes, signaling.WaitingListBurst)
	}

	clock.Advance(time.Second)
	conntest.Eventually(t, "the list held, after a second", func() bool {
		names, _ := lastWaiting(mod)
		return len(names) == 21
	})
	caughtUp(t, mod, 2)
	if n, _ := listBytes(mod.All()); n != lists+1 {
		t.Fatalf("%d waiting lists after the clock moved on a second, want the 1 held", n-lists)
	}
	names, _ := lastWaiting(mod)
	for _, name := range append(waiting, "Ben") {
		if !strings.Contains(strings.Join(names, "\n"), name) {
			t.Fatalf("the list sent after the loop does not show %.8s…: %d entries", name, len(names))
		}
	}
}

// TestHeldWaitingListGoesWithTheRole: a list held for a moderator whose budget is spent
// is not sent once the moderator is made a participant: it was made for a moderator.
func TestHeldWaitingListGoesWithTheRole(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	max := srv.joinModeratorFrom(t, mt, "Max", net.ParseIP("127.0.0.5"))
	longKnocks(t, srv, mt.MeetingID, 20)
	knockLoop(t, srv, "127.0.0.3", mt.MeetingID, 20)
	caughtUp(t, max, 1)
	if _, err := mod.Send("set_role", map[string]any{"participantId": max.ParticipantID, "role": "participant"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, mod, "done")
	expectType(t, max, "participant_updated")
	demoted := len(max.All())
	for range 10 {
		clock.Advance(time.Second)
	}
	caughtUp(t, max, 2)
	if n, _ := listBytes(max.AllFrom(demoted)); n != 0 {
		t.Fatalf("the demoted moderator got %d waiting lists after its demotion", n)
	}
}
