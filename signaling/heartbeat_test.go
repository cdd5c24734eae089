package signaling_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// The application-level heartbeat (heartbeat.go; PROTOCOL.md, "Transport").

// ping sends a ping with n and returns its id.
func ping(t *testing.T, c *testclient.Client, n int) string {
	t.Helper()
	id, err := c.Send(signaling.TypePing, map[string]any{"n": n})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// expectPong waits for c's next pong (or error), which must answer the ping id with n.
func expectPong(t *testing.T, c *testclient.Client, id string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("no answer to ping %d: %v", n, err)
		}
		if m.Type != signaling.TypePong && m.Type != signaling.TypeError {
			continue // what else the state brings (a waiting list, a roster)
		}
		var p signaling.PongPayload
		if m.Type != signaling.TypePong || m.Ref != id || json.Unmarshal(m.Payload, &p) != nil || p.N != int64(n) {
			t.Fatalf("ping %d (id %s) answered with %s ref %q %s, want pong %d", n, id, m.Type, m.Ref, m.Payload, n)
		}
		return
	}
}

// TestPingInEveryState: a connection is answered before its join, while it waits in
// the lobby (where it gets nothing else), and as a member; answering changes nothing:
// the knock keeps waiting, and the moderator hears nothing of it.
func TestPingInEveryState(t *testing.T) {
	s := newTestServer(t)
	m := s.createMeetingWith(t, `{}`)
	mod := s.joinModerator(t, m, "Mod")

	c := s.dial(t)
	expectPong(t, c, ping(t, c, 0), 0) // connected: before any join

	if err := c.SendJoin(map[string]any{"meetingId": m.MeetingID, "name": "Alice"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, c, "lobby")
	waiting := waitingID(t, mod, "Alice")
	for n := 1; n <= 3; n++ { // lobby
		expectPong(t, c, ping(t, c, n), n)
	}
	expectPong(t, mod, ping(t, mod, 65535), 65535) // joined, a moderator

	if _, err := mod.Send("admit", map[string]any{"participantId": waiting}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.AwaitWelcome(ctx); err != nil {
		t.Fatalf("the pinging knock was not let in: %v", err)
	}
	expectType(t, mod, "participant_joined")
	expectPong(t, c, ping(t, c, 4), 4) // joined, a participant
	// Still a member: the meeting carries on as before.
	if _, err := c.Send("chat", map[string]string{"text": "hi"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, mod, "chat")
}

// TestPingLimited: a connection's pings are refused beyond 5 at once and one every 5 s,
// each refusal naming the ping; malformed ones get their typed error, cost nothing of
// the budget, and change nothing.
func TestPingLimited(t *testing.T) {
	clock := newFakeClock()
	s := newTestServerWith(t, signaling.Config{Clock: clock})
	m := s.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	a := s.join(t, m.MeetingID, "A")

	for _, bad := range []struct{ raw, code string }{
		{`{"type":"ping","id":"b1"}`, "invalid_field"},
		{`{"type":"ping","id":"b2","payload":{}}`, "invalid_field"},
		{`{"type":"ping","id":"b3","payload":{"n":null}}`, "invalid_field"},
		{`{"type":"ping","id":"b4","payload":{"n":-1}}`, "invalid_field"},
		{`{"type":"ping","id":"b5","payload":{"n":65536}}`, "invalid_field"},
		{`{"type":"ping","id":"b6","payload":{"n":1,"pad":"` + strings.Repeat("x", 130) + `"}}`, "invalid_field"},
		{`{"type":"ping","id":"b7","payload":{"n":"1"}}`, "bad_message"},
		{`{"type":"ping","id":"b8","payload":{"n":1.5}}`, "bad_message"},
		{`{"type":"ping","id":"b9","payload":{"n":1e30}}`, "bad_message"},
		{`{"type":"ping","id":"b10","payload":[1]}`, "bad_message"},
	} {
		if err := a.SendRaw([]byte(bad.raw)); err != nil {
			t.Fatal(err)
		}
		if code, ref := expectError(t, a); code != bad.code || !strings.Contains(bad.raw, `"id":"`+ref+`"`) {
			t.Fatalf("%s: %s (ref %q), want %s naming it", bad.raw, code, ref, bad.code)
		}
	}
	if _, err := a.Send("chat", map[string]string{"text": "ends the run of refusals"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, a, "chat")

	for n := 0; n < 5; n++ {
		expectPong(t, a, ping(t, a, n), n)
	}
	over := ping(t, a, 5)
	if code, ref := expectError(t, a); code != string(signaling.CodeRateLimited) || ref != over {
		t.Fatalf("the sixth ping at once: %s (ref %q), want rate_limited naming %s", code, ref, over)
	}
	clock.Advance(4 * time.Second)
	early := ping(t, a, 6)
	if code, ref := expectError(t, a); code != string(signaling.CodeRateLimited) || ref != early {
		t.Fatalf("a ping 4 s later: %s (ref %q), want rate_limited", code, ref)
	}
	clock.Advance(time.Second)
	expectPong(t, a, ping(t, a, 7), 7)
	for i := 0; i < 3; i++ { // one every 5 s goes on for good
		clock.Advance(5 * time.Second)
		expectPong(t, a, ping(t, a, 8+i), 8+i)
	}
}

// TestPingsDoNotEndARunOfRefusals: a client that pings between refused messages is
// closed after 20 refusals in a row as any other is; the pings are answered meanwhile.
// (Else a waiting client, which may send nothing else, could be refused for ever.)
func TestPingsDoNotEndARunOfRefusals(t *testing.T) {
	s := newTestServer(t)
	m := s.createMeetingWith(t, `{}`)
	s.joinModerator(t, m, "Mod")
	c := s.knock(t, m.MeetingID, "Waiting", nil)
	for i := 0; i < 19; i++ {
		if _, err := c.Send("chat", map[string]string{"text": "x"}); err != nil {
			t.Fatal(err)
		}
		if code, _ := expectError(t, c); code != string(signaling.CodeNotAllowedInState) {
			t.Fatalf("chat in the lobby: %s", code)
		}
	}
	expectPong(t, c, ping(t, c, 1), 1)
	if _, err := c.Send("chat", map[string]string{"text": "x"}); err != nil {
		t.Fatal(err)
	}
	expectError(t, c)
	if code, _ := expectError(t, c); code != string(signaling.CodeTooManyErrors) {
		t.Fatalf("the 20th refusal with a ping between: %s, want too_many_errors", code)
	}
	<-c.Done()
	if got := c.CloseCode(); got != 4429 {
		t.Fatalf("close %d, want 4429", got)
	}
}

// TestPingBehindAResumeKeepsItsSecret: a page that pings right behind its resume, before
// it read anything, and loses the welcome as the link goes again, still holds a
// working secret: the ping does not show that it got the new one.
func TestPingBehindAResumeKeepsItsSecret(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id, first := alice.ParticipantID, alice.ResumeSecret
	dropAndSeeReconnecting(t, alice, f.mod)

	lost := f.srv.dial(t)
	if err := lost.SendResume(f.meeting.MeetingID, id, first, nil); err != nil {
		t.Fatal(err)
	}
	pid := ping(t, lost, 9)
	expectType(t, lost, "welcome")
	expectPong(t, lost, pid, 9)
	expectType(t, f.mod, "participant_resumed")
	lost.ParticipantID = id
	dropAndSeeReconnecting(t, lost, f.mod)

	f.resume(t, id, first)
}
