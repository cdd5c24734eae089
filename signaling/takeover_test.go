package signaling_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"conclave/e2ee"
	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// admitGhost has Kim knock and the moderator let the knock in while nobody is behind
// its connection (its path died without a close; the server has not noticed): the
// welcome goes to that connection, which says nothing. It returns the connection, its
// id and its knock's secret.
func admitGhost(t *testing.T, srv *testServer, mod *testclient.Client, meeting string) (*testclient.Client, string, string) {
	t.Helper()
	kim := srv.knock(t, meeting, "Kim", nil)
	kimID := waitingID(t, mod, "Kim")
	secret := knockSecretOf(t, kim)
	if _, err := mod.Send("admit", map[string]any{"participantId": kimID}); err != nil {
		t.Fatal(err)
	}
	expectType(t, kim, "welcome")
	expectType(t, mod, "participant_joined")
	return kim, kimID, secret
}

// TestKnockAgainTakesOverTheAdmittedKnock: a moderator let in the old knock of a page
// whose path had died, before the page knocked again. The page's knock again, with that
// knock's secret, takes over the membership (no second admission, no member nobody is
// behind): its connection is welcomed as that member, the old one is told "replaced",
// and the others are told the member is back. It was judged as a new knock: in a
// meeting locked meanwhile it was refused; otherwise the person waited to be let in a
// second time while everyone saw the first admission's member, nobody behind it, until
// the server's heartbeat timeout and the resume grace had run out.
func TestKnockAgainTakesOverTheAdmittedKnock(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	kim, kimID, secret := admitGhost(t, srv, mod, mt.MeetingID)
	if _, err := mod.Send("update_settings", map[string]any{"locked": true}); err != nil {
		t.Fatal(err)
	}
	expectType(t, mod, "settings")

	kim2 := srv.dial(t)
	_ = kim2.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Kim", "replaceKnock": secret})
	m := nextOf(t, kim2, "welcome", "lobby", "bye", "error")
	if m.Type != "welcome" {
		t.Fatalf("the knock again: %s", m.Raw)
	}
	var w struct {
		ParticipantID string
		Resumed       bool
		ResumeSecret  string
	}
	_ = json.Unmarshal(m.Payload, &w)
	if w.ParticipantID != kimID || w.Resumed || w.ResumeSecret == "" {
		t.Fatalf("welcome %+v: want the admitted knock's membership %s, a first welcome to this page", w, kimID)
	}
	if reason, code := byeReason(t, kim); reason != "replaced" || code != signaling.CloseEjected {
		t.Fatalf("the old connection: bye %q close %d", reason, code)
	}
	if p := participantOf(t, expectType(t, mod, "participant_resumed")); p.ID != kimID {
		t.Fatalf("participant_resumed for %s; want %s", p.ID, kimID)
	}
	for _, m := range mod.All() {
		if m.Type == "participant_left" {
			t.Fatalf("the moderator was told %s", m.Raw)
		}
	}

	// The secret took the membership once: the page speaks on it, and a join with the
	// secret again is a new knock (refused: the meeting is locked).
	if _, err := kim2.Send("media_state", map[string]any{"mic": false, "camera": true, "screen": false}); err != nil {
		t.Fatal(err)
	}
	expectType(t, mod, "participant_updated")
	again := srv.dial(t)
	_ = again.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Kim", "replaceKnock": secret})
	if reason, _ := byeReason(t, again); reason != "locked" {
		t.Fatalf("the secret a second time: bye %q", reason)
	}
	select {
	case <-kim2.Done():
		t.Fatal("the page's membership was taken from it")
	default:
	}
}

// TestKnockSecretTakesOverOnlyAnUnusedMembership: what a knock's secret may not take
// over. A membership a page has spoken on (it got its welcome), one a moderator sent
// back or removed, another meeting's, or one whose knock has spent its budget of
// replacements: the join with the secret is a new knock, judged as one, and the
// member, if there, keeps its connection.
func TestKnockSecretTakesOverOnlyAnUnusedMembership(t *testing.T) {
	clock := newFakeClock() // it never moves: no budget fills up again
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	newKnock := func(t *testing.T, meeting, secret string) {
		t.Helper()
		c := srv.dial(t)
		_ = c.SendJoin(map[string]any{"meetingId": meeting, "name": "Kim", "replaceKnock": secret})
		if m := nextOf(t, c, "welcome", "lobby", "bye", "error"); m.Type != "lobby" || continued(c) {
			t.Fatalf("the join with the secret: %s", m.Raw)
		}
		c.Close()
	}

	t.Run("spoken on", func(t *testing.T) {
		mt := srv.createMeetingWith(t, `{"e2ee":false}`)
		mod := srv.joinModerator(t, mt, "Mod")
		kim, _, secret := admitGhost(t, srv, mod, mt.MeetingID)
		if _, err := kim.Send("media_state", map[string]any{"mic": false, "camera": true, "screen": false}); err != nil {
			t.Fatal(err)
		}
		expectType(t, mod, "participant_updated")
		newKnock(t, mt.MeetingID, secret)
		select {
		case <-kim.Done():
			t.Fatal("the member lost its connection")
		default:
		}
	})
	for _, how := range []string{"send_to_lobby", "remove"} {
		t.Run(how, func(t *testing.T) {
			mt := srv.createMeetingWith(t, `{"e2ee":false}`)
			mod := srv.joinModerator(t, mt, "Mod")
			kim, kimID, secret := admitGhost(t, srv, mod, mt.MeetingID)
			if _, err := mod.Send(how, map[string]any{"participantId": kimID}); err != nil {
				t.Fatal(err)
			}
			byeReason(t, kim)
			newKnock(t, mt.MeetingID, secret)
		})
	}
	t.Run("another meeting", func(t *testing.T) {
		mt := srv.createMeetingWith(t, `{"e2ee":false}`)
		other := srv.createMeetingWith(t, `{"e2ee":false}`)
		mod := srv.joinModerator(t, mt, "Mod")
		kim, _, secret := admitGhost(t, srv, mod, mt.MeetingID)
		newKnock(t, other.MeetingID, secret)
		select {
		case <-kim.Done():
			t.Fatal("the member lost its connection")
		default:
		}
	})
	t.Run("budget spent", func(t *testing.T) {
		mt := srv.createMeetingWith(t, `{"e2ee":false}`)
		mod := srv.joinModerator(t, mt, "Mod")
		kim := srv.knock(t, mt.MeetingID, "Kim", nil)
		firstID := waitingID(t, mod, "Kim")
		secret := knockSecretOf(t, kim)
		for range 3 { // the budget's burst
			next := srv.knock(t, mt.MeetingID, "Kim", map[string]any{"replaceKnock": secret})
			byeReason(t, kim)
			kim = next
		}
		// The first knock's id stands for the knock in its place (TestAdmitOfAReplacedKnock).
		if _, err := mod.Send("admit", map[string]any{"participantId": firstID}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := kim.AwaitWelcome(ctx); err != nil {
			t.Fatal(err)
		}
		newKnock(t, mt.MeetingID, secret)
	})
}

// TestKnockAgainTakesOverAParkedAdmission: the connection the admission went to was
// closed by the server's heartbeat before the page knocked again, and the membership
// waits parked for a resume nobody can make (its secret went in the lost welcome).
// The knock's secret takes it back as a resume would.
func TestKnockAgainTakesOverAParkedAdmission(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), ResumeGrace: testGrace})
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	kim, kimID, secret := admitGhost(t, srv, mod, mt.MeetingID)
	kim.ParticipantID = kimID
	dropAndSeeReconnecting(t, kim, mod)

	kim2 := srv.dial(t)
	_ = kim2.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Kim", "replaceKnock": secret})
	if m := nextOf(t, kim2, "welcome", "lobby", "bye", "error"); m.Type != "welcome" || !strings.Contains(string(m.Payload), `"participantId":"`+kimID+`"`) {
		t.Fatalf("the knock again: %s", m.Raw)
	}
	if p := participantOf(t, expectType(t, mod, "participant_resumed")); p.ID != kimID || p.Reconnecting {
		t.Fatalf("participant_resumed: %+v", p)
	}
}

// TestKnockProofCrossingTheAdmissionLeavesTheKnockSecret: in an end-to-end encrypted
// meeting the waiting page proves its link as soon as it has the knock's nonce, and a
// moderator may let the knock in before that proof arrives ("Admit anyway" while the
// link is being checked). The proof, sent from the waiting room, then reaches the
// server after the welcome went out; it says nothing of whether the page got that
// welcome. It counted as the page speaking after its welcome and spent the knock's
// secret: when the welcome had gone down a dying path, the page's knock again was
// judged as a new knock, and the first admission's member stood with nobody behind it.
func TestKnockProofCrossingTheAdmissionLeavesTheKnockSecret(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`) // end-to-end encrypted
	mod := srv.joinModerator(t, mt, "Mod")
	kim := srv.knock(t, mt.MeetingID, "Kim", nil)
	nonce, secret := lobbyNonce(t, kim), knockSecretOf(t, kim)
	var kimID string
	conntest.Eventually(t, "Kim's knock at the moderator", func() bool {
		if l := lastWaitingList(mod); len(l) == 1 {
			kimID = l[0].ParticipantID
		}
		return kimID != ""
	})
	if _, err := mod.Send("admit", map[string]any{"participantId": kimID}); err != nil {
		t.Fatal(err)
	}
	expectType(t, kim, "welcome") // the connection's; the page is not behind it any more
	// The proof the page sent from the waiting room, before the welcome could reach it.
	eph := bytes.Repeat([]byte{9}, 32)
	n, _ := e2ee.ParseKnockField(nonce)
	ki, _ := e2ee.DeriveMeetingKeys(bytes.Repeat([]byte{1}, 16))
	if _, err := kim.Send("knock_proof", map[string]any{"nonce": nonce, "proof": e2ee.EncodeKnockField(e2ee.KnockProof(ki, n, eph)), "eph": e2ee.EncodeKnockField(eph)}); err != nil {
		t.Fatal(err)
	}
	expectType(t, kim, "error") // handled: a knock proof is for the waiting room

	kim2 := srv.dial(t)
	_ = kim2.SendJoin(map[string]any{"meetingId": mt.MeetingID, "replaceKnock": secret})
	if m := nextOf(t, kim2, "welcome", "lobby", "bye", "error"); m.Type != "welcome" || !strings.Contains(string(m.Payload), `"participantId":"`+kimID+`"`) {
		t.Fatalf("the knock again after a proof that crossed the admission: %s", m.Raw)
	}
	if reason, _ := byeReason(t, kim); reason != "replaced" {
		t.Fatalf("the old connection: bye %q", reason)
	}
}
