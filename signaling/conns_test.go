package signaling_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// Connection upkeep and caps, through the real server: raw gorilla clients (rawws_test.go)
// where the test client is too polite (it reads everything and answers every ping).

// TestSilentPeerGets4408: a member that stops answering pings is closed with a 4408
// close frame once the fake clock passes the pong wait; no real 40 s wait.
func TestSilentPeerGets4408(t *testing.T) {
	ws, clock := silentMember(t, "Silent")
	wantClose(t, driveUntil(t, clock, 5*time.Second, readUntilClosed(ws)), signaling.CloseTimeout, "no pong")
}

// TestPeerSilentForLessThanTwoPingsIsKept: a member that stops answering just after a
// ping tick is still served at the tick after next, silent for two pings' time less a
// moment, and closed with 4408 only at the one after that: the silence a slow peer
// may keep (PROTOCOL.md, Transport: 40–60 s) has its lower bound as well as its upper
// one (TestSilentPeerGets4408, TestWallClockStepBackKeepsNoSilentPeer). A tick that
// closed a peer at the first silent interval between ticks kept none that long.
func TestPeerSilentForLessThanTwoPingsIsKept(t *testing.T) {
	ws, clock := silentMember(t, "Slow")
	pingTick(t, clock)
	heartbeat := func(id string) error { // the page's own ping: heard, and answered unless closing
		if err := ws.WriteJSON(map[string]any{"type": "ping", "id": id, "payload": map[string]any{"n": 1}}); err != nil {
			return err
		}
		_ = ws.SetReadDeadline(time.Now().Add(conntest.Wait))
		defer func() { _ = ws.SetReadDeadline(time.Time{}) }()
		for {
			var m struct{ Type, Ref string }
			if err := ws.ReadJSON(&m); err != nil {
				return err
			}
			if m.Type == "pong" && m.Ref == id {
				return nil
			}
		}
	}
	if err := heartbeat("h1"); err != nil { // heard just after tick 1
		t.Fatal(err)
	}
	pingTick(t, clock) // tick 2: heard since tick 1
	pingTick(t, clock) // tick 3: silent since just after tick 1, 40 s less a moment
	if err := heartbeat("h2"); err != nil {
		t.Fatalf("a peer silent for two pings' time less a moment was closed: %v", err)
	}
	closed := readUntilClosed(ws)
	for range 2 {
		pingTick(t, clock) // tick 4 finds h2 heard, tick 5 one silent interval
	}
	select {
	case err := <-closed:
		t.Fatalf("closed after one silent interval between ticks: %v", err)
	default:
	}
	pingTick(t, clock) // tick 6: two silent intervals
	wantClose(t, rawClosed(t, closed), signaling.CloseTimeout, "no pong")
}

// TestJoinTimeout: a websocket that never joins is closed with 4408 after JoinTimeout on
// the clock, while one that joined stays and still chats.
func TestJoinTimeout(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	meeting := srv.createMeeting(t)
	member := srv.join(t, meeting, "Member")
	before := clock.Pending()
	idle, _, err := rawDial(t, srv.wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Once the new session has armed its join and ping timers, move time by exactly the
	// join timeout: short of any ping, so the member's verdict cannot depend on how fast
	// it answers one.
	waitForTimers(t, clock, before+2)
	closed := readUntilClosed(idle)
	clock.Advance(signaling.DefaultJoinTimeout)
	wantClose(t, rawClosed(t, closed), signaling.CloseTimeout, "join timeout")
	if _, err := member.Send("chat", map[string]string{"text": "still here"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, member, "chat")
}

// TestMessageTimeout: a client that sends one fragment of a text message and keeps
// answering pings is closed with 4408 once the message has taken messageTimeout.
func TestMessageTimeout(t *testing.T) {
	ws, clock := rawMember(t, "Dribbler")
	before := clock.Pending()
	// A text frame without FIN, masked as a client must: the message never completes.
	payload := []byte(`{"type":"chat","payload":{"text":"`)
	frame := []byte{0x01, 0x80 | byte(len(payload)), 1, 2, 3, 4}
	for i, b := range payload {
		frame = append(frame, b^frame[2+i%4])
	}
	if _, err := ws.UnderlyingConn().Write(frame); err != nil {
		t.Fatal(err)
	}
	// The read pump arms the message timer at the first frame; then fake time moves by
	// exactly the message timeout, short of the first ping (20 s after connecting).
	waitForTimers(t, clock, before+1)
	closed := readUntilClosed(ws)
	clock.Advance(10 * time.Second)
	wantClose(t, rawClosed(t, closed), signaling.CloseTimeout, "message timeout")
}

// TestWebsocketCaps: websockets are capped per address and in total, before the upgrade,
// with 429 and 503 and a body that says why, JSON as the API's refusals (PROTOCOL.md,
// "Errors of the HTTP API"), where it was plain text.
func TestWebsocketCaps(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{MaxConnsPerAddr: 3, MaxConns: 5})
	a, b, c := net.ParseIP("127.0.0.2"), net.ParseIP("127.0.0.3"), net.ParseIP("127.0.0.4")
	var fromA []*websocket.Conn
	for i := 0; i < 3; i++ {
		ws, _, err := rawDial(t, srv.wsURL, a)
		if err != nil {
			t.Fatalf("connection %d from A: %v", i, err)
		}
		fromA = append(fromA, ws)
	}
	refused := func(local net.IP, status int, code, body string) {
		t.Helper()
		_, resp, err := rawDial(t, srv.wsURL, local)
		if err == nil || resp == nil || resp.StatusCode != status {
			t.Fatalf("dial from %v: %v %v, want status %d", local, err, resp, status)
		}
		var refusal struct{ Error, Code string }
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &refusal); err != nil || refusal.Code != code || !strings.Contains(refusal.Error, body) ||
			resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %s %q, want JSON with code %q and an error saying %q", status, resp.Header.Get("Content-Type"), b, code, body)
		}
	}
	refused(a, http.StatusTooManyRequests, "too_many_connections", "too many connections from your address")
	for i := 0; i < 2; i++ {
		if _, _, err := rawDial(t, srv.wsURL, b); err != nil {
			t.Fatalf("connection %d from B: %v", i, err)
		}
	}
	refused(c, http.StatusServiceUnavailable, "server_full", "too many connections")
	if st := srv.sig.Stats(); st.RefusedAddressFull != 1 || st.RefusedServerFull != 1 || st.Websockets != 5 {
		t.Fatalf("stats %+v, want one refusal of each kind and 5 open", st)
	}
	// A closed connection gives its place back.
	_ = fromA[0].Close()
	conntest.Eventually(t, "a place for A again", func() bool {
		_, _, err := rawDial(t, srv.wsURL, a)
		return err == nil
	})
}

// knockFrom dials from local and sends a join that should wait.
func (s *testServer) knockFrom(t *testing.T, local net.IP, meeting, name string) *testclient.Client {
	t.Helper()
	c := s.dialFrom(t, local)
	if err := c.SendJoin(map[string]any{"meetingId": meeting, "name": name}); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWaitingCapPerAddress: one address cannot fill a waiting room: its knocks beyond
// MaxWaitingPerAddr get bye lobby_full, while other addresses still wait and a moderator
// from the same address still gets in.
func TestWaitingCapPerAddress(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{MaxWaitingPerAddr: 2})
	m := srv.createMeetingWith(t, `{}`)
	a, b := net.ParseIP("127.0.0.2"), net.ParseIP("127.0.0.3")
	for _, name := range []string{"A1", "A2"} {
		expectType(t, srv.knockFrom(t, a, m.MeetingID, name), "lobby")
	}
	third := srv.knockFrom(t, a, m.MeetingID, "A3")
	if reason, code := byeReason(t, third); reason != "lobby_full" || code != signaling.CloseRefused {
		t.Fatalf("third knock from one address: bye %q, close %d", reason, code)
	}
	expectType(t, srv.knockFrom(t, b, m.MeetingID, "B1"), "lobby")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	mod, err := testclient.DialFrom(ctx, srv.wsURL, a)
	if err != nil {
		t.Fatal(err)
	}
	mod.UseKnockBook(srv.knockBook())
	t.Cleanup(mod.Close)
	if err := mod.JoinWith(ctx, map[string]any{"meetingId": m.MeetingID, "name": "Mod", "moderatorSecret": m.ModeratorSecret}); err != nil {
		t.Fatalf("moderator from a capped address: %v", err)
	}
	// Once one of A's knocks is let in, A may knock again.
	if _, err := mod.Send("admit", map[string]any{"participantId": waitingID(t, mod, "A1")}); err != nil {
		t.Fatal(err)
	}
	waitingID(t, mod, "B1")
	conntest.Eventually(t, "A1 out of the waiting list", func() bool {
		names, _ := lastWaiting(mod)
		return len(names) == 2
	})
	expectType(t, srv.knockFrom(t, a, m.MeetingID, "A4"), "lobby")
}

// TestParticipantLimit: admit and admit_all respect MaxParticipants. admit_all lets in
// the oldest knocks up to the limit and leaves the rest waiting; admit into a full
// meeting is meeting_full for the moderator, whose connection stays open; a knock into a
// full meeting is meeting_full and closed with 4403.
func TestParticipantLimit(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{MaxParticipants: 3})
	m := srv.createMeetingWith(t, `{}`)
	mod := srv.joinModerator(t, m, "Mod")
	first := srv.admitted(t, mod, m.MeetingID, "First")
	second := srv.knock(t, m.MeetingID, "Second", nil)
	waitingID(t, mod, "Second")
	third := srv.knock(t, m.MeetingID, "Third", nil)
	thirdID := waitingID(t, mod, "Third")

	if _, err := mod.Send("admit_all", nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := second.AwaitWelcome(ctx); err != nil {
		t.Fatalf("the oldest knock was not let in: %v", err)
	}
	conntest.Eventually(t, "only Third still waiting", func() bool {
		names, _ := lastWaiting(mod)
		return len(names) == 1 && names[0] == "Third"
	})

	ref, err := mod.Send("admit", map[string]any{"participantId": thirdID})
	if err != nil {
		t.Fatal(err)
	}
	if code, gotRef := expectError(t, mod); code != "meeting_full" || gotRef != ref {
		t.Fatalf("admit into a full meeting: %s (ref %q)", code, gotRef)
	}

	late := srv.dial(t)
	_ = late.SendJoin(map[string]any{"meetingId": m.MeetingID, "name": "Late"})
	if code, _ := expectError(t, late); code != "meeting_full" {
		t.Fatalf("knock into a full meeting: %s", code)
	}
	if got := waitClosed(t, late); got != signaling.CloseMeetingFull {
		t.Fatalf("close code %d", got)
	}

	// The moderator is still connected and acting: make room, and Third gets in.
	if _, err := mod.Send("remove", map[string]any{"participantId": first.ParticipantID}); err != nil {
		t.Fatal(err)
	}
	if reason, _ := byeReason(t, first); reason != "removed" {
		t.Fatalf("bye %q", reason)
	}
	if _, err := mod.Send("admit", map[string]any{"participantId": thirdID}); err != nil {
		t.Fatal(err)
	}
	if err := third.AwaitWelcome(ctx); err != nil {
		t.Fatalf("Third was not let in once there was room: %v", err)
	}
}

// TestStalledMemberDoesNotStallTheMeeting: a member that never reads fills its TCP
// window and then its queue. Its close must not hold the meeting: the others' chat keeps
// arriving, a new member joins, and when the stalled member finally reads it finds a
// 4408 close frame after the data that did reach it.
func TestStalledMemberDoesNotStallTheMeeting(t *testing.T) {
	clock := newFakeClock() // drives the chat rate limit: each step refills it
	// The write timeout is real time: long enough that however slow the machine, the
	// stalled client starts reading before its blocked write is given up.
	srv := newTestServerWith(t, signaling.Config{Clock: clock, WriteTimeout: 5 * time.Minute})
	meeting := srv.createMeeting(t)
	const chatters, perRound = 5, 20
	var cs []*testclient.Client
	for i := 0; i < chatters; i++ {
		cs = append(cs, srv.join(t, meeting, "Chatter"))
	}
	stalled, _, err := rawDial(t, srv.wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	stalledID := rawJoin(t, stalled, meeting, "Stalled")
	// From here on the stalled member only writes: an end-of-candidates ice message now
	// and then, so that it is never closed for missed pongs, only for not reading.
	alive := []byte(`{"type":"ice","payload":{"pc":"publish","candidate":{"candidate":""}}}`)

	text := strings.Repeat("x", 11900)
	left := func() bool {
		for _, m := range cs[0].All() {
			if m.Type == "participant_left" && strings.Contains(string(m.Payload), stalledID) {
				return true
			}
		}
		return false
	}
	chats := func(c *testclient.Client) int {
		n := 0
		for _, m := range c.All() {
			if m.Type == "chat" {
				n++
			}
		}
		return n
	}
	sent := 0
	for round := 0; !left(); round++ {
		if round == 100 {
			t.Fatal("the stalled member was never disconnected")
		}
		if err := stalled.WriteMessage(websocket.TextMessage, alive); err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			for i := 0; i < perRound; i++ {
				if _, err := c.Send("chat", map[string]string{"text": text}); err != nil {
					t.Fatal(err)
				}
			}
		}
		sent += chatters * perRound
		for _, c := range cs {
			conntest.Eventually(t, "every chat to reach every reading member", func() bool { return chats(c) == sent })
		}
		clock.Advance(4 * time.Second) // refills each chatter's burst
	}

	// The meeting carries on: chat arrives, a new member joins and is announced.
	if _, err := cs[1].Send("chat", map[string]string{"text": "after"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		conntest.Eventually(t, "the chat after the stall", func() bool { return chats(c) == sent+1 })
	}
	srv.join(t, meeting, "Late")
	expectType(t, cs[0], "participant_joined")

	// The stalled member reads at last: the data that was in flight, then 4408.
	received := 0
	_ = stalled.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		_, data, err := stalled.ReadMessage()
		if err != nil {
			wantClose(t, err, signaling.CloseSlowConsumer, "slow consumer")
			break
		}
		var m struct{ Type string }
		if json.Unmarshal(data, &m) == nil && m.Type == "chat" {
			received++
		}
	}
	if received == 0 || received >= sent {
		t.Fatalf("the stalled member read %d of %d chats before the close", received, sent)
	}
}
