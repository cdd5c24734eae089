package signaling_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
	"conclave/internal/testclient"
	"conclave/signaling"
)

func waitClosed(t *testing.T, c *testclient.Client) int {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(conntest.Wait):
		t.Fatal("connection not closed")
	}
	return c.CloseCode()
}

// TestBadInputBeforeJoin: every refusal before join is typed, and the connection can
// still join afterwards.
func TestBadInputBeforeJoin(t *testing.T) {
	srv := newTestServer(t)
	meeting := srv.createMeeting(t)
	c := srv.dial(t)

	cases := []struct {
		name string
		send func() error
		code string
		ref  string
	}{
		{"malformed JSON", func() error { return c.SendRaw([]byte(`{"type":`)) }, "bad_message", ""},
		{"not an object", func() error { return c.SendRaw([]byte(`[1,2,3]`)) }, "bad_message", ""},
		{"no type", func() error { return c.SendRaw([]byte(`{"id":"x"}`)) }, "bad_message", "x"},
		{"type not a string", func() error { return c.SendRaw([]byte(`{"type":5,"id":"t1"}`)) }, "bad_message", "t1"},
		{"type an object", func() error { return c.SendRaw([]byte(`{"id":"t2","type":{"a":"chat"},"payload":{}}`)) }, "bad_message", "t2"},
		{"payload not an object", func() error { return c.SendRaw([]byte(`{"type":"chat","id":"p1","payload":"hi"}`)) }, "bad_message", "p1"},
		{"binary frame", func() error { return c.SendBinary([]byte{1, 2, 3}) }, "bad_message", ""},
		{"unknown type", func() error { return c.SendRaw([]byte(`{"type":"hack","id":"u1"}`)) }, "unknown_type", "u1"},
		{"chat before join", func() error { return c.SendRaw([]byte(`{"type":"chat","id":"c1","payload":{"text":"hi"}}`)) }, "not_allowed_in_state", "c1"},
		{"answer before join", func() error {
			return c.SendRaw([]byte(`{"type":"subscribe_answer","id":"a1","payload":{"sdp":"v=0"}}`))
		}, "not_allowed_in_state", "a1"},
		{"empty name", func() error {
			return c.SendRaw([]byte(`{"type":"join","id":"j1","payload":{"version":1,"meetingId":"` + meeting + `","name":"   "}}`))
		}, "invalid_field", "j1"},
		{"wrong field type", func() error {
			return c.SendRaw([]byte(`{"type":"join","id":"j2","payload":{"version":"one","meetingId":"` + meeting + `","name":"A"}}`))
		}, "bad_message", "j2"},
	}
	for _, tc := range cases {
		if err := tc.send(); err != nil {
			t.Fatalf("%s: send: %v", tc.name, err)
		}
		code, ref := expectError(t, c)
		if code != tc.code || ref != tc.ref {
			t.Errorf("%s: got %s (ref %q), want %s (ref %q)", tc.name, code, ref, tc.code, tc.ref)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Join(ctx, meeting, "Alice"); err != nil {
		t.Fatalf("join after refusals: %v", err)
	}
}

// TestBadInputAfterJoin: refusals in the joined state leave the session and the other
// member untouched.
func TestBadInputAfterJoin(t *testing.T) {
	srv := newTestServer(t)
	meeting := srv.createMeeting(t)
	a := srv.join(t, meeting, "Alice")
	b := srv.join(t, meeting, "Bob")
	long := strings.Repeat("x", 12001) // more than even a ciphertext may be

	cases := []struct {
		name    string
		typ     string
		payload any
		code    string
	}{
		{"second join", "join", map[string]any{"version": 1, "meetingId": meeting, "name": "Again"}, "already_joined"},
		{"answer before offer", "subscribe_answer", map[string]any{"sdp": "v=0\r\n"}, "no_offer_pending"},
		{"garbage SDP", "publish_offer", map[string]any{"sdp": "this is not SDP", "tracks": []any{}}, "bad_sdp"},
		{"no SDP", "publish_offer", map[string]any{"tracks": []any{}}, "invalid_field"},
		{"unknown source", "publish_offer", map[string]any{"sdp": "v=0", "tracks": []any{map[string]string{"mid": "0", "source": "printer"}}}, "invalid_field"},
		{"empty chat", "chat", map[string]any{"text": "  "}, "invalid_field"},
		{"chat too long", "chat", map[string]any{"text": long}, "invalid_field"},
		{"bad pc", "ice", map[string]any{"pc": "other", "candidate": map[string]any{"candidate": "x"}}, "invalid_field"},
		{"no candidate", "ice", map[string]any{"pc": "publish"}, "invalid_field"},
		{"bad candidate", "ice", map[string]any{"pc": "publish", "candidate": map[string]any{"candidate": "candidate:garbage"}}, "bad_sdp"},
	}
	for _, tc := range cases {
		id, err := a.Send(tc.typ, tc.payload)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(tc.name)
		code, ref := expectError(t, a)
		if code != tc.code || ref != id {
			t.Errorf("%s: got %s (ref %q), want %s (ref %q)", tc.name, code, ref, tc.code, id)
		}
	}

	// Both sessions carry on: chat still flows both ways and publishing still works.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Send("chat", map[string]any{"text": "still here"}); err != nil {
		t.Fatal(err)
	}
	m, err := b.Expect(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	var chat struct {
		From, Name, Text string
	}
	_ = json.Unmarshal(m.Payload, &chat)
	// The meeting is end-to-end encrypted: the name sent in join was dropped unread.
	if chat.From != a.ParticipantID || chat.Name != "" || chat.Text != "still here" {
		t.Fatalf("chat = %+v", chat)
	}
	if _, err := a.Publish(ctx, "camera"); err != nil {
		t.Fatalf("publish after a rejected offer: %v", err)
	}
}

func TestFatalErrorsClose(t *testing.T) {
	srv := newTestServer(t)
	meeting := srv.createMeeting(t)

	t.Run("unsupported version", func(t *testing.T) {
		c := srv.dial(t)
		_ = c.SendRaw([]byte(`{"type":"join","payload":{"version":2,"meetingId":"` + meeting + `","name":"A"}}`))
		if code, _ := expectError(t, c); code != "unsupported_version" {
			t.Fatalf("code %s", code)
		}
		if got := waitClosed(t, c); got != signaling.CloseUnsupportedVersion {
			t.Fatalf("close code %d", got)
		}
	})
	t.Run("unknown meeting", func(t *testing.T) {
		c := srv.dial(t)
		_ = c.SendRaw([]byte(`{"type":"join","payload":{"version":1,"meetingId":"AAAAAAAAAAAAAAAAAAAAAA","name":"A"}}`))
		if code, _ := expectError(t, c); code != "unknown_meeting" {
			t.Fatalf("code %s", code)
		}
		if got := waitClosed(t, c); got != signaling.CloseUnknownMeeting {
			t.Fatalf("close code %d", got)
		}
	})
	t.Run("oversized message", func(t *testing.T) {
		c := srv.dial(t)
		big := `{"type":"chat","payload":{"text":"` + strings.Repeat("a", signaling.MaxMessageBytes) + `"}}`
		_ = c.SendRaw([]byte(big))
		if got := waitClosed(t, c); got != signaling.CloseMessageTooBig {
			t.Fatalf("close code %d", got)
		}
	})
	t.Run("too many errors", func(t *testing.T) {
		c := srv.dial(t)
		for i := 0; i < 25; i++ {
			if err := c.SendRaw([]byte(`nonsense`)); err != nil {
				break
			}
		}
		if got := waitClosed(t, c); got != signaling.CloseTooManyErrors {
			t.Fatalf("close code %d", got)
		}
	})
	t.Run("leave", func(t *testing.T) {
		c := srv.join(t, meeting, "Leaver")
		_, _ = c.Send("leave", nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m, err := c.Expect(ctx, "bye")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(m.Payload), `"left"`) {
			t.Fatalf("bye %s", m.Payload)
		}
		if got := waitClosed(t, c); got != signaling.CloseNormal {
			t.Fatalf("close code %d", got)
		}
	})
}

func TestMeetingFull(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{MaxParticipants: 2})
	meeting := srv.createMeeting(t)
	srv.join(t, meeting, "A")
	srv.join(t, meeting, "B")
	c := srv.dial(t)
	_ = c.SendRaw([]byte(`{"type":"join","payload":{"version":1,"e2ee":6,"meetingId":"` + meeting + `","name":"C"}}`))
	if code, _ := expectError(t, c); code != "meeting_full" {
		t.Fatalf("code %s", code)
	}
	if got := waitClosed(t, c); got != signaling.CloseMeetingFull {
		t.Fatalf("close code %d", got)
	}
}

// TestShutdownTellsParticipants: on shutdown everyone gets bye "shutdown" and close 1001,
// and every meeting is gone.
func TestShutdownTellsParticipants(t *testing.T) {
	srv := newTestServer(t)
	meeting := srv.createMeeting(t)
	a := srv.join(t, meeting, "A")
	b := srv.join(t, meeting, "B")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Publish(ctx, "camera"); err != nil {
		t.Fatal(err)
	}
	if err := srv.sig.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testclient.Client{a, b} {
		m, err := c.Expect(ctx, "bye")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(m.Payload), `"shutdown"`) {
			t.Fatalf("bye %s", m.Payload)
		}
		if got := waitClosed(t, c); got != signaling.CloseGoingAway {
			t.Fatalf("close code %d", got)
		}
	}
	if n := srv.sig.Registry().Len(); n != 0 {
		t.Fatalf("%d meetings left after shutdown", n)
	}
}

// TestChatReachesMembersOnly: chat goes to members present, never to a
// connection that has not joined.
func TestChatReachesMembersOnly(t *testing.T) {
	srv := newTestServer(t)
	meeting := srv.createMeeting(t)
	a := srv.join(t, meeting, "A")
	b := srv.join(t, meeting, "B")
	outsider := srv.dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id, _ := a.Send("chat", map[string]any{"text": "secret plans"})
	for _, c := range []*testclient.Client{a, b} {
		m, err := c.Expect(ctx, "chat")
		if err != nil {
			t.Fatal(err)
		}
		if c == a && m.Ref != id {
			t.Fatalf("sender's copy has ref %q, want %q", m.Ref, id)
		}
	}
	// A barrier instead of a pause: the chat was handed out before B got it, and the
	// outsider's messages arrive in order, so whatever was meant for it precedes the
	// answer to its own chat attempt.
	if _, err := outsider.Send("chat", map[string]any{"text": "let me in"}); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, outsider); code != "not_allowed_in_state" {
		t.Fatalf("outsider's chat: %s", code)
	}
	for _, m := range outsider.All() {
		if strings.Contains(string(m.Raw), "secret") {
			t.Fatalf("outsider received %s", m.Raw)
		}
	}
}

// TestChatFloodIsLimited: a member flooding chat gets rate_limited errors, the others
// receive exactly the allowed burst, and the flooder's session stays usable: the budget
// refills with (fake) time. The clock stands still during the flood, so the counts are
// exact whatever the machine's speed.
func TestChatFloodIsLimited(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	meeting := srv.createMeeting(t)
	flooder := srv.join(t, meeting, "Flooder")
	other := srv.join(t, meeting, "Other")
	delivered := func() int {
		n := 0
		for _, m := range other.All() {
			if m.Type == "chat" {
				n++
			}
		}
		return n
	}
	limited := func() int {
		n := 0
		for _, m := range flooder.All() {
			if m.Type == "error" && strings.Contains(string(m.Payload), `"rate_limited"`) {
				n++
			}
		}
		return n
	}
	const burst, sent = 20, 32
	for i := 0; i < sent; i++ {
		if _, err := flooder.Send("chat", map[string]any{"text": "spam"}); err != nil {
			t.Fatal(err)
		}
	}
	conntest.Eventually(t, "an answer to every chat", func() bool { return delivered()+limited() >= sent })
	if got, lim := delivered(), limited(); got != burst || lim != sent-burst {
		t.Fatalf("delivered %d, rate_limited %d; want %d and %d", got, lim, burst, sent-burst)
	}
	// Still no token: refused again.
	if _, err := flooder.Send("chat", map[string]any{"text": "again"}); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the refusal", func() bool { return limited() == sent-burst+1 })
	// One token comes back after 1/5 s (5 per second) and the session still works.
	clock.Advance(200 * time.Millisecond)
	if _, err := flooder.Send("chat", map[string]any{"text": "sorry"}); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the next chat after a pause", func() bool { return delivered() == burst+1 })
	if lim := limited(); lim != sent-burst+1 {
		t.Fatalf("rate_limited %d after the pause", lim)
	}
}
