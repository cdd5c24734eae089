package signaling_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// knock dials and sends a join that is expected to wait; it returns after the first
// lobby message.
func (s *testServer) knock(t *testing.T, meeting, name string, extra map[string]any) *testclient.Client {
	t.Helper()
	c := s.dial(t)
	fields := map[string]any{"meetingId": meeting, "name": name}
	for k, v := range extra {
		fields[k] = v
	}
	if err := c.SendJoin(fields); err != nil {
		t.Fatal(err)
	}
	expectType(t, c, "lobby")
	return c
}

// admitted knocks as name and has the moderator admit it; it returns after welcome.
func (s *testServer) admitted(t *testing.T, mod *testclient.Client, meeting, name string) *testclient.Client {
	t.Helper()
	c := s.knock(t, meeting, name, nil)
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

func (s *testServer) joinModerator(t *testing.T, m createdMeeting, name string) *testclient.Client {
	t.Helper()
	return s.joinModeratorFrom(t, m, name, nil)
}

// joinModeratorFrom is joinModerator from another loopback address (dialFrom).
func (s *testServer) joinModeratorFrom(t *testing.T, m createdMeeting, name string, local net.IP) *testclient.Client {
	t.Helper()
	c := s.dialFrom(t, local)
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := c.JoinWith(ctx, map[string]any{"meetingId": m.MeetingID, "name": name, "moderatorSecret": m.ModeratorSecret}); err != nil {
		t.Fatalf("moderator %s: %v", name, err)
	}
	return c
}

func expectType(t *testing.T, c *testclient.Client, typ string) testclient.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	m, err := c.Expect(ctx, typ)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// knockerName is a waiting entry's name: the one the server gives in a meeting without
// end-to-end encryption, else the one its knocker joined with (the server has none),
// looked up in the knock book c shares with the other clients of its test server.
func knockerName(c *testclient.Client, name, nonce string) string {
	if name != "" {
		return name
	}
	return c.KnockBook().Name(nonce)
}

// lastWaiting returns the names in the last waiting_list c received.
func lastWaiting(c *testclient.Client) (names []string, ids []string) {
	for _, m := range c.All() {
		if m.Type != "waiting_list" {
			continue
		}
		var p struct {
			Waiting []struct{ ParticipantID, Name, KnockNonce string }
		}
		_ = json.Unmarshal(m.Payload, &p)
		names, ids = nil, nil
		for _, w := range p.Waiting {
			names = append(names, knockerName(c, w.Name, w.KnockNonce))
			ids = append(ids, w.ParticipantID)
		}
	}
	return names, ids
}

func waitingID(t *testing.T, mod *testclient.Client, name string) string {
	t.Helper()
	var id string
	conntest.Eventually(t, name+" in the moderator's waiting list", func() bool {
		names, ids := lastWaiting(mod)
		for i, n := range names {
			if n == name {
				id = ids[i]
				return true
			}
		}
		return false
	})
	return id
}

func byeReason(t *testing.T, c *testclient.Client) (string, int) {
	t.Helper()
	m := expectType(t, c, "bye")
	var p struct{ Reason string }
	_ = json.Unmarshal(m.Payload, &p)
	return p.Reason, waitClosed(t, c)
}

// TestLobbyReceivesNothing: while a meeting goes on — media, chat, roster changes,
// settings — a person in the lobby receives only lobby status messages: no roster, no
// names, no chat, no settings, and no media is offered to them.
func TestLobbyReceivesNothing(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mod := srv.joinModerator(t, mt, "Morgan Moderator")

	pat := srv.admitted(t, mod, mt.MeetingID, "Pat Participant")
	pubs, err := pat.Publish(ctx, "microphone", "camera")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go sendLoop(pat, pubs, newSentLog(), stop)
	conntest.Eventually(t, "the moderator receiving Pat's camera", func() bool {
		r := mod.Received(pat.ParticipantID, "camera")
		return r != nil && r.Count() > 10
	})

	lurker := srv.knock(t, mt.MeetingID, "Lurker", nil)
	waitingID(t, mod, "Lurker")
	// The meeting goes on around the lurker.
	_, _ = pat.Send("chat", map[string]any{"text": "quarterly numbers are confidential"})
	_, _ = pat.Send("media_state", map[string]any{"mic": false, "camera": true})
	_, _ = mod.Send("update_settings", map[string]any{"screenShare": true})
	late := srv.admitted(t, mod, mt.MeetingID, "Latecomer")
	expectType(t, mod, "settings")
	settled(t, srv, pat, mod, late, lurker)

	for _, m := range lurker.All() {
		if m.Type != "lobby" && m.Type != "pong" { // the pong answers the test's sync
			t.Errorf("lobby member received %s: %s", m.Type, m.Raw)
		}
		for _, leak := range []string{"Pat", "Morgan", "Latecomer", pat.ParticipantID, "quarterly", "screenShare"} {
			if strings.Contains(string(m.Raw), leak) {
				t.Errorf("lobby member received %q in %s", leak, m.Raw)
			}
		}
	}
	if len(lurker.MidInfo()) != 0 || lurker.Received(pat.ParticipantID, "camera") != nil {
		t.Error("lobby member was offered media")
	}

	// Denied: a clear bye, and the connection closes.
	_, _ = mod.Send("deny", map[string]any{"participantId": waitingID(t, mod, "Lurker")})
	if reason, code := byeReason(t, lurker); reason != "denied" || code != signaling.CloseRefused {
		t.Fatalf("denied: bye %q close %d", reason, code)
	}
}

// TestNoModeratorPresent: knockers wait and are told nobody can let them in; when a
// moderator arrives they are told so, and nobody is admitted automatically.
func TestNoModeratorPresent(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`)
	c := srv.dial(t)
	_ = c.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Early"})
	m := expectType(t, c, "lobby")
	if !strings.Contains(string(m.Payload), `"moderatorPresent":false`) || !strings.Contains(string(m.Payload), `"e2ee":true`) {
		t.Fatalf("lobby %s", m.Payload)
	}
	mod := srv.joinModerator(t, mt, "Mod")
	m = expectType(t, c, "lobby")
	if !strings.Contains(string(m.Payload), `"moderatorPresent":true`) {
		t.Fatalf("lobby after moderator arrived: %s", m.Payload)
	}
	waitingID(t, mod, "Early")
	settled(t, srv, c)
	for _, m := range c.All() {
		if m.Type == "welcome" {
			t.Fatal("admitted without a moderator's decision")
		}
	}
	// The moderator leaves again: the knocker is told.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = mod.Leave(ctx)
	m = expectType(t, c, "lobby")
	if !strings.Contains(string(m.Payload), `"moderatorPresent":false`) {
		t.Fatalf("lobby after moderator left: %s", m.Payload)
	}
}

// TestModeratorFlows: admit all, send back to lobby (must knock again), remove, lock,
// end meeting.
func TestModeratorFlows(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mod := srv.joinModerator(t, mt, "Mod")
	a := srv.knock(t, mt.MeetingID, "Ada", nil)
	b := srv.knock(t, mt.MeetingID, "Bo", nil)
	waitingID(t, mod, "Bo")
	_, _ = mod.Send("admit_all", nil)
	for _, c := range []*testclient.Client{a, b} {
		if err := c.AwaitWelcome(ctx); err != nil {
			t.Fatal(err)
		}
	}
	conntest.Eventually(t, "an empty waiting list after admit_all", func() bool {
		names, _ := lastWaiting(mod)
		return len(names) == 0
	})

	// Send Ada back: her connection ends; a new connection with the same name waits.
	_, _ = mod.Send("send_to_lobby", map[string]any{"participantId": a.ParticipantID})
	if reason, code := byeReason(t, a); reason != "sent_to_lobby" || code != signaling.CloseEjected {
		t.Fatalf("send back: bye %q close %d", reason, code)
	}
	expectType(t, b, "participant_left")
	a2 := srv.knock(t, mt.MeetingID, "Ada", nil)
	waitingID(t, mod, "Ada")
	settled(t, srv, a2)
	for _, m := range a2.All() {
		if m.Type == "welcome" {
			t.Fatal("the same name was let in again without a moderator")
		}
	}

	// Remove Bo.
	_, _ = mod.Send("remove", map[string]any{"participantId": b.ParticipantID})
	if reason, code := byeReason(t, b); reason != "removed" || code != signaling.CloseEjected {
		t.Fatalf("remove: bye %q close %d", reason, code)
	}

	// Lock: a new knock is refused; the moderator link still works.
	_, _ = mod.Send("update_settings", map[string]any{"locked": true})
	expectType(t, mod, "settings")
	locked := srv.dial(t)
	_ = locked.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Too late"})
	if reason, code := byeReason(t, locked); reason != "locked" || code != signaling.CloseRefused {
		t.Fatalf("locked: bye %q close %d", reason, code)
	}
	mod2 := srv.joinModerator(t, mt, "Second mod")

	// End the meeting: everyone (waiting or in) is told; the meeting is gone, its room
	// stays: the moderator link starts a new meeting, unlocked, with nobody from before.
	_, _ = mod.Send("end_meeting", nil)
	for _, c := range []*testclient.Client{mod, mod2, a2} {
		if reason, _ := byeReason(t, c); reason != "ended" {
			t.Fatalf("end: bye %q", reason)
		}
	}
	conntest.Eventually(t, "the ended meeting to be removed", func() bool { return srv.sig.Registry().Len() == 0 })
	again := srv.joinModerator(t, mt, "Again")
	if w := welcomeOf(t, again); len(w.Participants) != 0 || w.Settings.Locked {
		t.Fatalf("the new meeting kept the old one's state: %+v", w)
	}
}

// TestAdmitAllOfThoseChosen: admit_all with participantIds admits just those still
// waiting; a knock the moderator had not seen keeps waiting. An id that is not one is
// refused and admits nobody.
func TestAdmitAllOfThoseChosen(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mod := srv.joinModerator(t, mt, "Mod")
	a := srv.knock(t, mt.MeetingID, "Ada", nil)
	b := srv.knock(t, mt.MeetingID, "Bo", nil)
	late := srv.knock(t, mt.MeetingID, "Cy", nil)
	idA, idB := waitingID(t, mod, "Ada"), waitingID(t, mod, "Bo")
	idLate := waitingID(t, mod, "Cy")
	if _, err := mod.Send("admit_all", map[string]any{"participantIds": []string{idA, "not an id"}}); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, mod); code != "invalid_field" {
		t.Fatalf("admit_all with a bad id: %s", code)
	}
	if _, err := mod.Send("admit_all", map[string]any{"participantIds": []string{idA, idB}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testclient.Client{a, b} {
		if err := c.AwaitWelcome(ctx); err != nil {
			t.Fatal(err)
		}
	}
	conntest.Eventually(t, "only Cy waiting after admit_all of Ada and Bo", func() bool {
		_, ids := lastWaiting(mod)
		return len(ids) == 1 && ids[0] == idLate
	})
	for _, m := range late.All() {
		if m.Type == "welcome" {
			t.Fatal("a knock that was not chosen was admitted")
		}
	}
}
