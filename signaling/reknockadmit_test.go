package signaling_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"conclave/internal/testclient"
)

// replacedKnock knocks as name and knocks again twice with the first knock's secret (a
// page whose path died twice); it returns the last connection and the ids of the
// three knocks, as the moderator saw them, oldest first.
func (s *testServer) replacedKnock(t *testing.T, mod *testclient.Client, meeting, name string) (*testclient.Client, []string) {
	t.Helper()
	c := s.knock(t, meeting, name, nil)
	ids := []string{waitingID(t, mod, name)}
	secret := knockSecretOf(t, c)
	for range 2 {
		next := s.knock(t, meeting, name, map[string]any{"replaceKnock": secret})
		if reason, _ := byeReason(t, c); reason != "replaced" {
			t.Fatalf("%s's knock: bye %q", name, reason)
		}
		var id string
		eventually(t, name+"'s knock again in the waiting list", func() bool {
			id = waitingID(t, mod, name)
			return id != ids[len(ids)-1]
		})
		ids, c = append(ids, id), next
	}
	return c, ids
}

// TestAdmitOfAReplacedKnock: a moderator's Admit or Deny on a knock whose page has
// knocked again since (the waiting list with the new knock not yet drawn on the
// moderator's page) acts on the knock in its place, in that meeting only. It was
// refused as for nobody ("no such person"), and the person waited until the moderator
// found the new entry and clicked again.
func TestAdmitOfAReplacedKnock(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	other := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	otherMod := srv.joinModerator(t, other, "Other Mod")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	act := func(c *testclient.Client, typ string, payload map[string]any) testclient.Message {
		t.Helper()
		ref, err := c.Send(typ, payload)
		if err != nil {
			t.Fatal(err)
		}
		for {
			m, err := c.Next(ctx)
			if err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			if m.Ref == ref {
				return m
			}
		}
	}

	// Admit on the first knock and on the one between lets the last one in.
	for i, name := range []string{"Kim", "Kai"} {
		last, ids := srv.replacedKnock(t, mod, mt.MeetingID, name)
		if m := act(mod, "admit", map[string]any{"participantId": ids[i]}); m.Type != "done" {
			t.Fatalf("admit of %s's knock %d: %s", name, i, m.Raw)
		}
		if err := last.AwaitWelcome(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if last.ParticipantID != ids[2] {
			t.Fatalf("%s came in as %s; want its standing knock %s", name, last.ParticipantID, ids[2])
		}
	}

	// Deny on the first knock refuses the last.
	ann, ids := srv.replacedKnock(t, mod, mt.MeetingID, "Ann")
	if m := act(mod, "deny", map[string]any{"participantId": ids[0]}); m.Type != "done" {
		t.Fatalf("deny: %s", m.Raw)
	}
	if reason, _ := byeReason(t, ann); reason != "denied" {
		t.Fatalf("Ann: bye %q", reason)
	}

	// Admit all with the ids the moderator saw.
	carl, ids := srv.replacedKnock(t, mod, mt.MeetingID, "Carl")
	if m := act(mod, "admit_all", map[string]any{"participantIds": []string{ids[0]}}); m.Type != "done" {
		t.Fatalf("admit_all: %s", m.Raw)
	}
	if err := carl.AwaitWelcome(ctx); err != nil {
		t.Fatalf("Carl: %v", err)
	}

	// Another meeting's moderator names nobody with that meeting's replaced knock.
	bob, ids := srv.replacedKnock(t, mod, mt.MeetingID, "Bob")
	if m := act(otherMod, "admit", map[string]any{"participantId": ids[0]}); m.Type != "error" || !strings.Contains(string(m.Raw), `"unknown_participant"`) {
		t.Fatalf("another meeting's moderator: %s", m.Raw)
	}
	// Bob's own meeting still lets him in by the id its moderator saw.
	if m := act(mod, "admit", map[string]any{"participantId": ids[1]}); m.Type != "done" {
		t.Fatalf("admit of Bob's knock: %s", m.Raw)
	}
	if err := bob.AwaitWelcome(ctx); err != nil {
		t.Fatalf("Bob: %v", err)
	}
}
