package signaling_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"conclave/e2ee"
	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
	"conclave/internal/testclient"
	"conclave/signaling"
)

func keyMessages(c *testclient.Client) []struct{ From, Data string } {
	var out []struct{ From, Data string }
	for _, m := range c.All() {
		if m.Type != "e2ee" {
			continue
		}
		var p struct{ From, Data string }
		_ = json.Unmarshal(m.Payload, &p)
		out = append(out, p)
	}
	return out
}

// rateLimited counts the rate_limited errors c received.
func rateLimited(c *testclient.Client) int {
	n := 0
	for _, m := range c.All() {
		if m.Type == "error" && strings.Contains(string(m.Payload), `"rate_limited"`) {
			n++
		}
	}
	return n
}

// TestKeyRelay: key messages reach exactly the addressed member (or all other members),
// never a person in the lobby; oversized and flooding messages are refused without
// disturbing anyone else. The relay's budget runs on the fake clock, so the counts are
// exact whatever the machine's speed.
func TestKeyRelay(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	mt := srv.createMeetingWith(t, `{}`)
	mod := srv.joinModerator(t, mt, "Mod")
	expectType(t, mod, "waiting_list")
	a := srv.admitted(t, mod, mt.MeetingID, "A")
	b := srv.admitted(t, mod, mt.MeetingID, "B")
	lurker := srv.knock(t, mt.MeetingID, "Lurker", nil)

	// Welcome says whether the meeting is end-to-end encrypted (on by default).
	for _, m := range a.All() {
		if m.Type == "welcome" && !strings.Contains(string(m.Raw), `"e2ee":true`) {
			t.Fatalf("welcome without e2ee: %s", m.Raw)
		}
	}

	_, _ = a.Send("e2ee", map[string]any{"data": "identity-of-A"})
	_, _ = a.Send("e2ee", map[string]any{"to": b.ParticipantID, "data": "wrapped-key-for-B"})
	_, _ = mod.Send("e2ee", map[string]any{"to": a.ParticipantID, "data": "wrapped-key-for-A"})
	conntest.Eventually(t, "key messages to arrive", func() bool {
		return len(keyMessages(b)) == 2 && len(keyMessages(a)) == 1 && len(keyMessages(mod)) == 1
	})
	if got := keyMessages(b); got[0].From != a.ParticipantID || got[0].Data != "identity-of-A" || got[1].Data != "wrapped-key-for-B" {
		t.Fatalf("B got %+v", got)
	}
	if got := keyMessages(mod); got[0].Data != "identity-of-A" {
		t.Fatalf("the moderator got %+v (a key addressed to B?)", got)
	}
	if got := keyMessages(a); got[0].From != mod.ParticipantID || got[0].Data != "wrapped-key-for-A" {
		t.Fatalf("A got %+v (its own broadcast echoed?)", got)
	}

	// Addressed to someone in the lobby, or to nobody: refused, nothing delivered.
	id, _ := a.Send("e2ee", map[string]any{"to": waitingID(t, mod, "Lurker"), "data": "x"})
	if code, ref := expectError(t, a); code != "unknown_participant" || ref != id {
		t.Fatalf("key to a lobby member: %s", code)
	}
	// Oversized, or with characters no key message has (a control character went out
	// as six bytes, to every member).
	id, _ = a.Send("e2ee", map[string]any{"data": strings.Repeat("k", 8<<10+1)})
	if code, ref := expectError(t, a); code != "invalid_field" || ref != id {
		t.Fatalf("oversized key message: %s", code)
	}
	for _, data := range []string{strings.Repeat("\x01", 8<<10), "é", "tab\there", "x\x7f"} {
		id, _ = a.Send("e2ee", map[string]any{"data": data})
		if code, ref := expectError(t, a); code != "invalid_field" || ref != id {
			t.Fatalf("key message %.20q: %s", data, code)
		}
	}
	// A flood: refused once the burst is used; the others still get the allowed part only.
	// Two key messages of A's already took a token each (the one to the lobby member and
	// the oversized one were refused before the budget), and the clock stands still. The
	// budget is the one of a meeting of three members (the lobby does not count).
	flood := func(n int, label string) (delivered, limited int) {
		t.Helper()
		beforeKeys, beforeLimited := len(keyMessages(b)), rateLimited(a)
		for i := 0; i < n; i++ {
			_, _ = a.Send("e2ee", map[string]any{"to": b.ParticipantID, "data": fmt.Sprintf("%s-%d", label, i)})
		}
		conntest.Eventually(t, "an answer to every "+label+" message", func() bool {
			return len(keyMessages(b))-beforeKeys+rateLimited(a)-beforeLimited >= n
		})
		return len(keyMessages(b)) - beforeKeys, rateLimited(a) - beforeLimited
	}
	rate, burstF := e2ee.RelayLimits(3)
	burst, perSecond := int(burstF)-2, int(rate)
	if delivered, limited := flood(burst+15, "flood"); delivered != burst || limited != 15 {
		t.Fatalf("flood: %d delivered, %d rate limited; want %d and 15", delivered, limited, burst)
	}
	// One second later the budget has refilled by the sustained rate, no more.
	clock.Advance(time.Second)
	if delivered, limited := flood(perSecond+1, "refill"); delivered != perSecond || limited != 1 {
		t.Fatalf("after a second: %d delivered, %d rate limited; want %d and 1", delivered, limited, perSecond)
	}
	// The others carry on: chat and key messages still flow.
	_, _ = mod.Send("e2ee", map[string]any{"to": b.ParticipantID, "data": "after the flood"})
	conntest.Eventually(t, "a key message after the flood", func() bool {
		got := keyMessages(b)
		return got[len(got)-1].Data == "after the flood"
	})

	for _, m := range lurker.All() {
		if m.Type != "lobby" {
			t.Fatalf("the lobby member received %s", m.Raw)
		}
	}
}

// TestKeyRelayOnlyWhenEncrypted: a meeting without end-to-end encryption relays no key
// message: it would be a channel to everyone past the chat's setting and budget.
func TestKeyRelayOnlyWhenEncrypted(t *testing.T) {
	srv := newTestServer(t)
	plain := srv.createMeetingWith(t, `{"e2ee":false,"settings":{"lobby":false,"chat":false}}`)
	a := srv.join(t, plain.MeetingID, "A")
	b := srv.join(t, plain.MeetingID, "B")
	for _, payload := range []map[string]any{
		{"data": "any text I like, to everyone"},
		{"to": b.ParticipantID, "data": "to you"},
	} {
		id, _ := a.Send("e2ee", payload)
		if code, ref := expectError(t, a); code != "not_allowed" || ref != id {
			t.Fatalf("e2ee %v in a meeting without end-to-end encryption: %s", payload, code)
		}
	}
	// B hears of something later, and of no key message before it.
	_, _ = a.Send(signaling.TypeRaiseHand, map[string]any{"raised": true})
	expectType(t, b, signaling.TypeHands)
	if got := keyMessages(b); len(got) != 0 {
		t.Fatalf("B got key messages: %+v", got)
	}
}
