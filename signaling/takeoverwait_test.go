package signaling_test

import (
	"net"
	"strings"
	"testing"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// The addresses these tests dial from, so the server's hooks can tell the connections
// apart: the moderator, and the page's second, third and fourth connection.
const (
	modAddr  = "127.0.0.4"
	kim2Addr = "127.0.0.2"
	kim3Addr = "127.0.0.3"
	kim4Addr = "127.0.0.5"
)

// admittedAndHeld sets up the moment before the welcome: Kim knocks, the moderator
// admits the knock, and the knock's connection is held between its media and its
// welcome (gateICE). It returns the moderator, Kim's old connection, the admitted
// knock's id and its secret.
func admittedAndHeld(t *testing.T, srv *testServer, gate *gateICE, mt createdMeeting) (mod, kim *testclient.Client, kimID, secret string) {
	t.Helper()
	mod = srv.joinModeratorFrom(t, mt, "Mod", net.ParseIP(modAddr))
	kim = srv.knock(t, mt.MeetingID, "Kim", nil)
	kimID = waitingID(t, mod, "Kim")
	secret = knockSecretOf(t, kim)
	gate.armed.Store(true)
	if _, err := mod.Send("admit", map[string]any{"participantId": kimID}); err != nil {
		t.Fatal(err)
	}
	gate.awaitHeld(t, "the admitted knock's connection") // let in, its media set up; its welcome waits
	return mod, kim, kimID, secret
}

// sendKnockAgainFrom dials from addr and sends Kim's page's knock again, a join with
// its knock's secret; what it finds is the caller's to wait for.
func sendKnockAgainFrom(t *testing.T, srv *testServer, mt createdMeeting, secret, addr string) *testclient.Client {
	t.Helper()
	c := srv.dialFrom(t, net.ParseIP(addr))
	if err := c.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Kim", "replaceKnock": secret}); err != nil {
		t.Fatal(err)
	}
	return c
}

// knockAgainFrom sends the page's knock again with secret from addr, and returns once
// that connection holds the admission (it waits for the old one to let go).
func knockAgainFrom(t *testing.T, srv *testServer, mt createdMeeting, kimID, secret, addr string) *testclient.Client {
	t.Helper()
	c := sendKnockAgainFrom(t, srv, mt, secret, addr)
	conntest.Eventually(t, "the knock again from "+addr+" holding the admission", func() bool {
		return signaling.AdmissionHolder(srv.sig, mt.MeetingID, kimID) == addr
	})
	return c
}

// TestMeetingEndedWhileAKnockAgainWaits: the meeting ends while a knock again that took
// the admission waits for the old connection to let go. Its page is told the meeting
// ended (bye ended, close 4409), as the old connection would have been. It set up its
// media after the wait all the same, in the room of a meeting that had ended and whose
// media was closed, and its page was told of a server error (internal, "could not set up
// media", close 1001) instead of the end.
func TestMeetingEndedWhileAKnockAgainWaits(t *testing.T) {
	gate := newGateICE()
	srv := newTestServerWith(t, signaling.Config{ICE: gate})
	t.Cleanup(gate.open) // before the server's shutdown (cleanups run last first)
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod, kim, kimID, secret := admittedAndHeld(t, srv, gate, mt)
	kim2 := knockAgainFrom(t, srv, mt, kimID, secret, kim2Addr)

	if _, err := mod.Send("end_meeting", nil); err != nil {
		t.Fatal(err)
	}
	// The moderator's session goes last of those attached: once it has ended, so has the
	// meeting, and its media is closed.
	conntest.Eventually(t, "the moderator's session ended", func() bool {
		return signaling.SessionsFrom(srv.sig, modAddr) == 0
	})
	gate.open()

	m := nextOf(t, kim2, "welcome", "bye", "error")
	if m.Type != "bye" || !strings.Contains(string(m.Payload), `"reason":"ended"`) {
		t.Fatalf("the knock again, the meeting ended while it waited: %s; want bye ended", m.Raw)
	}
	if code := waitClosed(t, kim2); code != signaling.CloseEjected {
		t.Fatalf("the knock again closed with %d; want %d", code, signaling.CloseEjected)
	}
	if reason, _ := byeReason(t, kim); reason != "replaced" {
		t.Fatalf("the old connection: bye %q; want replaced", reason)
	}
}

// TestKnockAgainTakesAnAdmissionFromAKnockAgainThatWent: the page knocks again twice in
// the moment before the old connection's welcome, and its second connection, which
// took the admission and then lost it to the third, goes while the old connection
// still holds the admitted id's media. The third connection waits for the old one too,
// and is welcomed as the admitted member. It waited only for the second, which had
// nothing to let go of: its media under the same id was refused ("participant id
// already in the room"), its page was told of a server error (close 1001), and the
// admission went with it.
func TestKnockAgainTakesAnAdmissionFromAKnockAgainThatWent(t *testing.T) {
	gate := newGateICE()
	srv := newTestServerWith(t, signaling.Config{ICE: gate})
	t.Cleanup(gate.open) // before the server's shutdown (cleanups run last first)
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod, kim, kimID, secret := admittedAndHeld(t, srv, gate, mt)
	kim2 := knockAgainFrom(t, srv, mt, kimID, secret, kim2Addr)
	kim3 := knockAgainFrom(t, srv, mt, kimID, secret, kim3Addr)

	// The second connection goes while it waits; the old one still holds the media.
	kim2.Close()
	// Once it has ended (and, mended, waits for the old one), or once the third has
	// been answered, the old connection goes on.
	conntest.Eventually(t, "the second connection ended, or the third answered", func() bool {
		return signaling.WaitsForTheOneItReplaced(srv.sig, mt.MeetingID, kim2Addr) || len(kim3.All()) > 0
	})
	gate.open()

	m := nextOf(t, kim3, "welcome", "lobby", "bye", "error")
	if m.Type != "welcome" || !strings.Contains(string(m.Payload), `"participantId":"`+kimID+`"`) {
		t.Fatalf("the third connection: %s; want the admitted knock's welcome", m.Raw)
	}
	// Welcomed, it keeps none of the connections it waited for.
	if n := signaling.EarlierConnectionsKept(srv.sig, mt.MeetingID, kimID); n != 0 {
		t.Fatalf("the member's connection keeps %d it took the admission from; want none", n)
	}
	if reason, _ := byeReason(t, kim); reason != "replaced" {
		t.Fatalf("the old connection: bye %q; want replaced", reason)
	}
	// The page's first message after its welcome comes after everything the moderator
	// is told of its joining (one connection's messages are handled in order).
	if _, err := kim3.Send("media_state", map[string]any{"mic": false, "camera": true, "screen": false}); err != nil {
		t.Fatal(err)
	}
	expectType(t, mod, "participant_updated")
	joined := 0
	for _, m := range mod.All() {
		switch m.Type {
		case "participant_joined":
			joined++
		case "participant_left", "participant_resumed":
			t.Fatalf("the moderator was told %s", m.Raw)
		}
	}
	if joined != 1 {
		t.Fatalf("the moderator was told %d times that Kim joined; want once", joined)
	}
}

// knockAgainHeld has the page of the welcomed knock with secret knock again from
// kim2Addr and returns once that connection has taken the membership and set up its
// media, held before its welcome (gateICE).
func knockAgainHeld(t *testing.T, srv *testServer, gate *gateICE, mt createdMeeting, secret string) *testclient.Client {
	t.Helper()
	gate.armed.Store(true)
	c := sendKnockAgainFrom(t, srv, mt, secret, kim2Addr)
	gate.awaitHeld(t, "the knock again") // the membership taken, its media set up; its welcome waits
	return c
}

// takeMembershipFrom sends the page's knock again with secret from addr, and returns
// once that connection has claimed the welcomed membership pid (it waits for the
// membership's last connection to let go).
func takeMembershipFrom(t *testing.T, srv *testServer, mt createdMeeting, pid, secret, addr string) *testclient.Client {
	t.Helper()
	c := sendKnockAgainFrom(t, srv, mt, secret, addr)
	conntest.Eventually(t, "the knock again from "+addr+" holding the membership", func() bool {
		return signaling.MembershipClaimedBy(srv.sig, mt.MeetingID, pid) == addr
	})
	return c
}

// TestKnockAgainTakesAMembershipFromAKnockAgainThatWent: a moderator let in the knock of
// a page whose path had died, the welcome went to the old connection, and the page
// knocks again three times before any of its connections is welcomed: the second
// connection took the membership and holds its media (held before its welcome,
// gateICE), the third takes it from the second and waits, the fourth from the third.
// The third goes while the second still holds the media; the fourth waits for the
// second too, and is welcomed as the member. It waited only for the third, which had
// nothing to let go of: its media under the same id was refused ("participant id
// already in the room"), its page was told of a server error (close 1001), and the
// member left the meeting (participant_left).
func TestKnockAgainTakesAMembershipFromAKnockAgainThatWent(t *testing.T) {
	gate := newGateICE()
	srv := newTestServerWith(t, signaling.Config{ICE: gate})
	t.Cleanup(gate.open) // before the server's shutdown (cleanups run last first)
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	kim, kimID, secret := admitGhost(t, srv, mod, mt.MeetingID)

	kim2 := knockAgainHeld(t, srv, gate, mt, secret)
	kim3 := takeMembershipFrom(t, srv, mt, kimID, secret, kim3Addr)
	kim4 := takeMembershipFrom(t, srv, mt, kimID, secret, kim4Addr)

	// The third connection goes while it waits; the second still holds the media.
	kim3.Close()
	// Once it has ended (and, mended, waits for the second), or once the fourth has
	// been answered, the second connection goes on.
	conntest.Eventually(t, "the third connection ended, or the fourth answered", func() bool {
		return signaling.WaitsForTheOneItReplaced(srv.sig, mt.MeetingID, kim3Addr) || len(kim4.All()) > 0
	})
	gate.open()

	m := nextOf(t, kim4, "welcome", "lobby", "bye", "error")
	if m.Type != "welcome" || !strings.Contains(string(m.Payload), `"participantId":"`+kimID+`"`) {
		t.Fatalf("the fourth connection: %s; want the member's welcome", m.Raw)
	}
	if n := signaling.EarlierConnectionsKept(srv.sig, mt.MeetingID, kimID); n != 0 {
		t.Fatalf("the member's connection keeps %d it took the membership from; want none", n)
	}
	for _, c := range []*testclient.Client{kim, kim2} {
		if reason, _ := byeReason(t, c); reason != "replaced" {
			t.Fatalf("a connection the membership was taken from: bye %q; want replaced", reason)
		}
	}
	for _, m := range kim2.All() {
		if m.Type == "welcome" {
			t.Fatalf("the second connection was welcomed: %s", m.Raw)
		}
	}
	// The page's first message after its welcome comes after everything the moderator
	// is told of it (one connection's messages are handled in order).
	if _, err := kim4.Send("media_state", map[string]any{"mic": false, "camera": true, "screen": false}); err != nil {
		t.Fatal(err)
	}
	expectType(t, mod, "participant_updated")
	resumed := 0
	for _, m := range mod.All() {
		switch m.Type {
		case "participant_resumed":
			resumed++
		case "participant_left":
			t.Fatalf("the moderator was told %s", m.Raw)
		case "participant_updated":
			if participantOf(t, m).Reconnecting {
				t.Fatalf("the moderator was told %s", m.Raw)
			}
		}
	}
	if resumed != 1 {
		t.Fatalf("the moderator was told %d times that Kim is back; want once", resumed)
	}
}

// TestResumedMemberKeepsNoEarlierConnection: a connection that took a membership keeps
// the one it took it from only until that one has let go: once welcomed, a member that
// resumed on one connection after another keeps none of them (each kept with its
// websocket, queues and closed media for as long as the member stayed).
func TestResumedMemberKeepsNoEarlierConnection(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id := alice.ParticipantID
	for i := range 3 {
		alice = f.resume(t, id, alice.ResumeSecret)
		if n := signaling.EarlierConnectionsKept(f.srv.sig, f.meeting.MeetingID, id); n != 0 {
			t.Fatalf("after resume %d the member's connection keeps %d earlier ones; want none", i+1, n)
		}
	}
}
