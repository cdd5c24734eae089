package signaling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/lobby"
	"conclave/signaling"
)

// answerOf sends a moderator message from c and returns the server's answer to it (its
// `done` or `error`, by ref) and every message c received between the send and the
// answer, in order. Read from everything c received, so nothing is skipped.
func answerOf(t *testing.T, c *testclient.Client, typ string, payload any) (answer testclient.Message, between []testclient.Message) {
	t.Helper()
	from := len(c.All())
	ref, err := c.Send(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the answer to "+typ, func() bool {
		between = between[:0]
		for _, m := range c.AllFrom(from) {
			if m.Ref == ref && (m.Type == "done" || m.Type == "error") {
				answer = m
				return true
			}
			between = append(between, m)
		}
		return false
	})
	return answer, between
}

// waitingListsIn is the participant ids of each waiting_list among ms, in order.
func waitingListsIn(ms []testclient.Message) [][]string {
	var out [][]string
	for _, m := range ms {
		if m.Type != "waiting_list" {
			continue
		}
		var p struct {
			Waiting []struct{ ParticipantID string }
		}
		_ = json.Unmarshal(m.Payload, &p)
		ids := []string{}
		for _, w := range p.Waiting {
			ids = append(ids, w.ParticipantID)
		}
		out = append(out, ids)
	}
	return out
}

// TestDenyAllOfThoseShown: deny_all denies, in one step, the knocks the moderator's page
// named: each gets `bye` `denied`, and the moderator's list, before the `done`, has the
// others only. (That the policy makes one list, not one per knock, lobby's TestAct and
// FuzzLobby check: the session's queue keeps only the latest list still unsent, so the
// wire cannot tell.) A knock that came after the list the moderator saw keeps waiting
// (it is let in after), and a member named among them stays a member.
func TestDenyAllOfThoseShown(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`)
	mod := srv.joinModerator(t, mt, "Mod")
	pat := srv.admitted(t, mod, mt.MeetingID, "Pat")
	a := srv.knock(t, mt.MeetingID, "Ada", nil)
	b := srv.knock(t, mt.MeetingID, "Bo", nil)
	shown := []string{waitingID(t, mod, "Ada"), waitingID(t, mod, "Bo")}
	// Cy knocks after the moderator's page drew the list it denies.
	late := srv.knock(t, mt.MeetingID, "Cy", nil)
	idLate := waitingID(t, mod, "Cy")

	answer, between := answerOf(t, mod, "deny_all", map[string]any{"participantIds": append(shown, pat.ParticipantID)})
	if answer.Type != "done" {
		t.Fatalf("deny_all of the knocks shown: %s", answer.Raw)
	}
	if lists := waitingListsIn(between); len(lists) != 1 || !slices.Equal(lists[0], []string{idLate}) {
		t.Fatalf("the moderator got the waiting lists %v before the done, want one with Cy (%s) alone", lists, idLate)
	}
	for _, m := range between {
		if m.Type == "participant_left" {
			t.Fatalf("deny_all naming a member took it out of the meeting: %s", m.Raw)
		}
	}
	for name, c := range map[string]*testclient.Client{"Ada": a, "Bo": b} {
		if reason, code := byeReason(t, c); reason != "denied" || code != signaling.CloseRefused {
			t.Fatalf("%s: bye %q close %d, want denied %d", name, reason, code, signaling.CloseRefused)
		}
	}
	// Cy still waits: a moderator can let him in.
	if answer, _ := answerOf(t, mod, "admit", map[string]any{"participantId": idLate}); answer.Type != "done" {
		t.Fatalf("admit of Cy after deny_all: %s", answer.Raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := late.AwaitWelcome(ctx); err != nil {
		t.Fatalf("Cy, who knocked after the list shown: %v", err)
	}
}

// TestDenyAllRefusedChangesNothing: a deny_all from someone who is no moderator is
// refused (not_allowed), and so is one without participantIds or with an entry that is
// not an id (invalid_field); none of them denies anyone or sends a waiting list.
func TestDenyAllRefusedChangesNothing(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`)
	mod := srv.joinModerator(t, mt, "Mod")
	pat := srv.admitted(t, mod, mt.MeetingID, "Pat")
	w := srv.knock(t, mt.MeetingID, "Wendy", nil)
	wid := waitingID(t, mod, "Wendy")

	refusals := []struct {
		by      *testclient.Client
		payload any
		want    string
	}{
		{pat, map[string]any{"participantIds": []string{wid}}, "not_allowed"},
		{mod, nil, "invalid_field"},
		{mod, map[string]any{}, "invalid_field"},
		{mod, map[string]any{"participantIds": nil}, "invalid_field"},
		{mod, map[string]any{"participantIds": []string{wid, "not an id"}}, "invalid_field"},
		{mod, map[string]any{"participantIds": []string{wid, ""}}, "invalid_field"},
	}
	for _, r := range refusals {
		modFrom := len(mod.All())
		answer, _ := answerOf(t, r.by, "deny_all", r.payload)
		if answer.Type != "error" || errorCode(t, answer) != r.want {
			t.Fatalf("deny_all %v: %s, want %s", r.payload, answer.Raw, r.want)
		}
		// Had it denied Wendy, the moderator's list without her would have been sent
		// before the refusal was.
		if lists := waitingListsIn(mod.AllFrom(modFrom)); len(lists) != 0 {
			t.Fatalf("the refused deny_all %v sent the waiting lists %v", r.payload, lists)
		}
	}
	// Wendy still waits, and is let in.
	if answer, _ := answerOf(t, mod, "admit", map[string]any{"participantId": wid}); answer.Type != "done" {
		t.Fatalf("admit of Wendy: %s", answer.Raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := w.AwaitWelcome(ctx); err != nil {
		t.Fatalf("Wendy after the refused deny_all: %v", err)
	}
}

// TestDenyAllOfReplacedKnocks: deny_all naming knocks whose pages have knocked again
// since (the moderator's page had not drawn the new list: PROTOCOL.md "Knocking again")
// denies the knocks in their places, as deny and admit_all do, by the first knock of
// the request (the one waiting_list `continues` names) or one between.
func TestDenyAllOfReplacedKnocks(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	kim, kimIDs := srv.replacedKnock(t, mod, mt.MeetingID, "Kim")
	ann, annIDs := srv.replacedKnock(t, mod, mt.MeetingID, "Ann")
	if got := continuesOf(mod); got[kimIDs[2]] != kimIDs[0] || got[annIDs[2]] != annIDs[0] {
		t.Fatalf("the waiting list's continues %v; want Kim's and Ann's first knocks", got)
	}
	answer, between := answerOf(t, mod, "deny_all", map[string]any{"participantIds": []string{kimIDs[0], annIDs[1]}})
	if answer.Type != "done" {
		t.Fatalf("deny_all of replaced knocks: %s", answer.Raw)
	}
	if lists := waitingListsIn(between); len(lists) != 1 || len(lists[0]) != 0 {
		t.Fatalf("the moderator got the waiting lists %v, want one empty", lists)
	}
	for name, c := range map[string]*testclient.Client{"Kim": kim, "Ann": ann} {
		if reason, _ := byeReason(t, c); reason != "denied" {
			t.Fatalf("%s's knock in the place of the one named: bye %q", name, reason)
		}
	}
}

// TestKnocksNamedAtMostTheWaitingRoom: an admit_all or a deny_all naming more knocks than
// the waiting room holds is refused (invalid_field) and changes nothing, since each id
// that is nobody waiting costs a look through the meeting's connections under its lock
// (a moderator's batch of thousands of short ids slowed its own meeting), and a page
// names one waiting list's knocks, never more. As many as it holds are taken. Both with
// the default bound and one set by the operator.
func TestKnocksNamedAtMostTheWaitingRoom(t *testing.T) {
	for _, maxWaiting := range []int{0, 3} {
		bound := maxWaiting
		if bound == 0 {
			bound = lobby.DefaultMaxWaiting
		}
		srv := newTestServerWith(t, signaling.Config{Lobby: lobby.Config{MaxWaiting: maxWaiting}})
		mt := srv.createMeetingWith(t, `{}`)
		mod := srv.joinModerator(t, mt, "Mod")
		w := srv.knock(t, mt.MeetingID, "Wendy", nil)
		wid := waitingID(t, mod, "Wendy")
		// Wendy's id first, then ids of nobody waiting.
		named := func(n int) []string {
			ids := []string{wid}
			for i := 1; i < n; i++ {
				ids = append(ids, fmt.Sprintf("nobody-%d", i))
			}
			return ids
		}
		for _, typ := range []string{"deny_all", "admit_all"} {
			modFrom := len(mod.All())
			answer, _ := answerOf(t, mod, typ, map[string]any{"participantIds": named(bound + 1)})
			if answer.Type != "error" || errorCode(t, answer) != "invalid_field" {
				t.Fatalf("%s of %d ids in a waiting room of %d: %s, want invalid_field", typ, bound+1, bound, answer.Raw)
			}
			if lists := waitingListsIn(mod.AllFrom(modFrom)); len(lists) != 0 {
				t.Fatalf("the refused %s of %d ids sent the waiting lists %v", typ, bound+1, lists)
			}
		}
		// Wendy still waits; a list as long as the waiting room holds lets her in.
		if answer, _ := answerOf(t, mod, "admit_all", map[string]any{"participantIds": named(bound)}); answer.Type != "done" {
			t.Fatalf("admit_all of %d ids in a waiting room of %d: %s", bound, bound, answer.Raw)
		}
		ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
		err := w.AwaitWelcome(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Wendy after the refused lists (bound %d): %v", bound, err)
		}
	}
}
