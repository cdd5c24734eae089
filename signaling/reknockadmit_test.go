package signaling_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
	"conclave/internal/testclient"
	"conclave/lobby"
	"conclave/signaling"
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
		conntest.Eventually(t, name+"'s knock again in the waiting list", func() bool {
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

// advanceHeard moves clock on by d in steps the server's heartbeat lets pass: before
// each step every client in cs pings and has its pong, so each of the server's ping
// ticks (20 s apart, the step) finds each client heard since the tick before.
func advanceHeard(t *testing.T, clock *fakeclock.Clock, d time.Duration, cs ...*testclient.Client) {
	t.Helper()
	const step = 20 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	for moved := time.Duration(0); moved < d; moved += step {
		for _, c := range cs {
			ref, err := c.Send("ping", map[string]any{"n": 1})
			if err != nil {
				t.Fatal(err)
			}
			for {
				m, err := c.Next(ctx)
				if err != nil {
					t.Fatalf("waiting for the pong: %v", err)
				}
				if m.Type == "pong" && m.Ref == ref {
					break
				}
			}
		}
		clock.Advance(step)
	}
}

// TestReplacedKnocksKeptAreBounded: a knock keeps the ids of the knocks it took the
// place of, for an admit naming one of them (TestAdmitOfAReplacedKnock). Only its budget
// of replacements (one a minute past the first three) bounded them, by the knock's time:
// a longer -knock-timeout let them grow with it. Past 8 the oldest are forgotten, all
// but the first, by which the moderators' pages know the request (continues): an admit
// naming a forgotten one is for nobody, one naming the first lets in the knock that
// stands for it now.
func TestReplacedKnocksKeptAreBounded(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Lobby: lobby.Config{KnockTTL: 24 * time.Hour}})
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	kim := srv.knock(t, mt.MeetingID, "Kim", nil)
	ids := []string{waitingID(t, mod, "Kim")}
	secret := knockSecretOf(t, kim)
	for i := 1; i <= 9; i++ { // the ninth forgets the second knock
		if i > 3 { // past the budget's burst: a minute gives one replacement more
			advanceHeard(t, clock, time.Minute, mod, kim)
		}
		next := srv.knock(t, mt.MeetingID, "Kim", map[string]any{"replaceKnock": secret})
		if !continued(next) {
			t.Fatalf("knock again %d did not continue the knock", i)
		}
		if reason, _ := byeReason(t, kim); reason != "replaced" {
			t.Fatalf("knock again %d: the knock it replaced got bye %q", i, reason)
		}
		var id string
		conntest.Eventually(t, "the knock again in the waiting list", func() bool {
			id = waitingID(t, mod, "Kim")
			return id != ids[len(ids)-1]
		})
		ids, kim = append(ids, id), next
	}
	if c := continuesOf(mod)[ids[9]]; c != ids[0] {
		t.Fatalf("the knock continues %q; want the first, %s", c, ids[0])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admit := func(id string) testclient.Message {
		t.Helper()
		ref, err := mod.Send("admit", map[string]any{"participantId": id})
		if err != nil {
			t.Fatal(err)
		}
		for {
			m, err := mod.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.Ref == ref {
				return m
			}
		}
	}
	if m := admit(ids[1]); m.Type != "error" || !strings.Contains(string(m.Payload), `"unknown_participant"`) {
		t.Fatalf("admit of the second knock, forgotten: %s", m.Raw)
	}
	if m := admit(ids[0]); m.Type != "done" {
		t.Fatalf("admit of the first knock: %s", m.Raw)
	}
	if err := kim.AwaitWelcome(ctx); err != nil {
		t.Fatal(err)
	}
	if kim.ParticipantID != ids[9] {
		t.Fatalf("Kim came in as %s; want the standing knock %s", kim.ParticipantID, ids[9])
	}
}
