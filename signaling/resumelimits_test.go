package signaling_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
)

// A resume is no way around the limits (PROTOCOL.md, "Reconnecting"): a member's
// rate limits carry over to its new connection, and resumes are rate limited
// themselves.

// chatBurst sends n chats on c and counts those relayed (echoed to it) and those
// refused.
func chatBurst(t *testing.T, c *testclient.Client, n int) (relayed, refused int) {
	t.Helper()
	refs := map[string]bool{}
	for range n {
		id, err := c.Send("chat", map[string]any{"text": "hello"})
		if err != nil {
			t.Fatal(err)
		}
		refs[id] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	for len(refs) > 0 {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !refs[m.Ref] {
			continue
		}
		delete(refs, m.Ref)
		switch m.Type {
		case "chat":
			relayed++
		case "error":
			refused++
		}
	}
	return relayed, refused
}

// TestResumeKeepsTheRateLimits: a member that resumes on a new connection (the old
// one replaced, or dropped) goes on with the rate limits it had: with the clock
// standing still, the five resumes its own limit allows give it no chat beyond the one
// burst.
func TestResumeKeepsTheRateLimits(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id := alice.ParticipantID
	total, _ := chatBurst(t, alice, 25)
	c, sec := alice, alice.ResumeSecret
	for i := range 5 {
		if i%2 == 1 {
			dropAndSeeReconnecting(t, c, f.mod)
		}
		c = f.resume(t, id, sec)
		sec = resumedWelcome(t, c).ResumeSecret
		relayed, _ := chatBurst(t, c, 5)
		total += relayed
	}
	const burst = 20 // the chat burst (session.go, fanoutBurst)
	if total != burst {
		t.Fatalf("%d chats relayed with the clock standing still, want the burst of %d", total, burst)
	}
}

// TestResumesAreRateLimited: a membership resumes five times at once, then once every
// 10 s: the sixth resume waits, its secret unspent and the connection it would replace
// untouched. One whose connection closes while it waits changes nothing, also once its
// wait is over: the same secret still brings the member back, and one that waits goes
// through once the clock has moved on.
func TestResumesAreRateLimited(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id := alice.ParticipantID
	c, sec := alice, alice.ResumeSecret
	for range 5 {
		c = f.resume(t, id, sec)
		sec = resumedWelcome(t, c).ResumeSecret
	}
	delayed := func(n uint64) {
		t.Helper()
		conntest.Eventually(t, fmt.Sprintf("%d resumes delayed", n), func() bool { return f.srv.sig.Stats().ResumesDelayed >= n })
	}

	// A sixth resume waits; it gives up (its connection closes) before its time.
	quitter := f.srv.dial(t)
	if err := quitter.SendResume(f.meeting.MeetingID, id, sec, nil); err != nil {
		t.Fatal(err)
	}
	delayed(1)
	open := f.srv.sig.Stats().Websockets
	quitter.Close()
	conntest.Eventually(t, "the server to see the closed socket", func() bool { return f.srv.sig.Stats().Websockets < open })
	// Its wait over, the closed one takes nothing: the live connection still chats, and
	// the moderator hears it.
	f.clock.Advance(10 * time.Second)
	if _, err := c.Send("chat", map[string]string{"text": "still here"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, c, "chat")
	expectType(t, f.mod, "chat")
	for _, m := range c.All() {
		if m.Type == "bye" {
			t.Fatalf("a resume whose socket had closed replaced the connection: %s", m.Payload)
		}
	}

	// The 10 s gave the membership one resume: the member's own secret takes it at once.
	back := f.resume(t, id, sec)
	if m := expectType(t, c, "bye"); !jsonHas(m.Payload, "replaced") {
		t.Fatalf("old connection: %s", m.Payload)
	}
	expectType(t, f.mod, "participant_resumed")

	// The next waits, and gets its welcome once the clock has moved 10 s more.
	next := f.srv.dial(t)
	if err := next.SendResume(f.meeting.MeetingID, id, resumedWelcome(t, back).ResumeSecret, nil); err != nil {
		t.Fatal(err)
	}
	delayed(2)
	f.clock.Advance(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := next.AwaitWelcome(ctx); err != nil {
		t.Fatalf("the delayed resume got no welcome: %v (close %d)", err, next.CloseCode())
	}
	if w := resumedWelcome(t, next); !w.Resumed || w.ParticipantID != id {
		t.Fatalf("welcome %+v, want the resumed membership %s", w, id)
	}
}
