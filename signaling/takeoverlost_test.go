package signaling_test

import (
	"net"
	"strings"
	"testing"

	"conclave/internal/conntest"
	"conclave/signaling"
)

// TestMembershipLostWhileWaitingSetsUpNoMedia: the page knocks again three times before
// any of its connections is welcomed. The second connection took the membership and
// holds its media (held before its welcome, gateICE), the third takes it from the
// second and waits for it to let go, and the fourth takes it from the third meanwhile.
// When the second lets go, the third, which holds nothing any more, goes (bye replaced)
// without setting up media of its own; the fourth is welcomed. The third set up the
// member's media in the room (and TURN credentials for a welcome) before it found the
// membership lost, and the fourth waited for that too.
func TestMembershipLostWhileWaitingSetsUpNoMedia(t *testing.T) {
	gate := newGateICE()
	srv := newTestServerWith(t, signaling.Config{ICE: gate})
	t.Cleanup(gate.open) // before the server's shutdown (cleanups run last first)
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	_, kimID, secret := admitGhost(t, srv, mod, mt.MeetingID)

	knockAgainHeld(t, srv, gate, mt, secret)
	kim3 := takeMembershipFrom(t, srv, mt, kimID, secret, kim3Addr)
	kim4 := takeMembershipFrom(t, srv, mt, kimID, secret, kim4Addr)
	gate.open()

	m := nextOf(t, kim4, "welcome", "lobby", "bye", "error")
	if m.Type != "welcome" || !strings.Contains(string(m.Payload), `"participantId":"`+kimID+`"`) {
		t.Fatalf("the fourth connection: %s; want the member's welcome", m.Raw)
	}
	if m := nextOf(t, kim3, "welcome", "bye", "error"); m.Type != "bye" || !strings.Contains(string(m.Payload), `"reason":"replaced"`) {
		t.Fatalf("the third connection: %s; want bye replaced", m.Raw)
	}
	if gate.askedFrom(kim3Addr) {
		t.Fatal("the third connection set up the member's media (and asked for a welcome's ICE servers) after it had lost the membership")
	}
}

// TestMeetingEndedWhileATakeoverWaits: the meeting ends while a knock again that took
// the welcomed membership waits for the connection before it (held before its welcome,
// gateICE) to let go. Its page is told the meeting ended (bye ended, close 4409), as
// the others were, and it sets up no media. It set up its media after the wait all the
// same, in the room of a meeting that had ended and whose media was closed, and its page
// was told of a server error (internal, "could not set up media", close 1001).
func TestMeetingEndedWhileATakeoverWaits(t *testing.T) {
	gate := newGateICE()
	srv := newTestServerWith(t, signaling.Config{ICE: gate})
	t.Cleanup(gate.open) // before the server's shutdown (cleanups run last first)
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModeratorFrom(t, mt, "Mod", net.ParseIP(modAddr))
	_, kimID, secret := admitGhost(t, srv, mod, mt.MeetingID)

	knockAgainHeld(t, srv, gate, mt, secret)
	kim3 := takeMembershipFrom(t, srv, mt, kimID, secret, kim3Addr)

	if _, err := mod.Send("end_meeting", nil); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the moderator's session ended", func() bool {
		return signaling.SessionsFrom(srv.sig, modAddr) == 0
	})
	gate.open()

	m := nextOf(t, kim3, "welcome", "bye", "error")
	if m.Type != "bye" || !strings.Contains(string(m.Payload), `"reason":"ended"`) {
		t.Fatalf("the knock again, the meeting ended while it waited: %s; want bye ended", m.Raw)
	}
	if code := waitClosed(t, kim3); code != signaling.CloseEjected {
		t.Fatalf("the knock again closed with %d; want %d", code, signaling.CloseEjected)
	}
	if gate.askedFrom(kim3Addr) {
		t.Fatal("the knock again set up the member's media after the meeting had ended")
	}
}
