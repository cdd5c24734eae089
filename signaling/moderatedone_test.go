package signaling_test

import (
	"context"
	"encoding/json"
	"testing"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
)

// answerTo reads c's messages until the one whose ref is id, and returns it with the
// messages that came before it.
func answerTo(t *testing.T, c *testclient.Client, id string) (testclient.Message, []testclient.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	var before []testclient.Message
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("no answer to message %s: %v", id, err)
		}
		if m.Ref == id {
			return m, before
		}
		before = append(before, m)
	}
}

// TestModeratorActionsAreDone: every moderator message the server carries out is
// answered, to its sender only, with `done` naming it (ref), after what the action sent
// the moderator itself; a refused one with an error instead. The moderator's page said
// "Muted Ann", "Ann is now a moderator", "Ann was sent back to the waiting room" as it
// sent them, before the server agreed, and nothing answered a mute of a microphone that
// was off, an ask_unmute, or a role the member had already.
func TestModeratorActionsAreDone(t *testing.T) {
	srv := newTestServer(t)
	m := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	mod := srv.joinModerator(t, m, "Mona")
	ann := srv.join(t, m.MeetingID, "Ann")
	expectType(t, mod, "participant_joined")
	send := func(c *testclient.Client, typ string, payload map[string]any) string {
		t.Helper()
		id, err := c.Send(typ, payload)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	done := func(typ string, payload map[string]any) []testclient.Message {
		t.Helper()
		answer, before := answerTo(t, mod, send(mod, typ, payload))
		if answer.Type != "done" {
			t.Fatalf("%s: answered with %s %s, want done", typ, answer.Type, answer.Payload)
		}
		return before
	}
	target := map[string]any{"participantId": ann.ParticipantID}
	done("mute", map[string]any{"participantId": ann.ParticipantID, "source": "microphone"})
	done("mute", map[string]any{"participantId": ann.ParticipantID, "source": "microphone"}) // off already
	done("ask_unmute", target)
	done("stop_screen_share", target)
	done("mute_all", map[string]any{"source": "camera"})
	done("lower_all_hands", nil)
	// A new role: its participant_updated comes first, so the page's roster shows it.
	before := done("set_role", map[string]any{"participantId": ann.ParticipantID, "role": "presenter"})
	if !hasRole(before, ann.ParticipantID, "presenter") {
		t.Errorf("done came before Ann's new role: %v", before)
	}
	done("set_role", map[string]any{"participantId": ann.ParticipantID, "role": "presenter"}) // hers already

	// Refused: an error names it, and no done follows.
	answer, _ := answerTo(t, mod, send(mod, "mute", map[string]any{"participantId": "p-0123456789abcdef", "source": "camera"}))
	if answer.Type != "error" {
		t.Fatalf("a mute of nobody answered with %s", answer.Type)
	}
	answer, _ = answerTo(t, ann, send(ann, "mute", map[string]any{"participantId": mod.ParticipantID, "source": "microphone"}))
	if code := errorCode(t, answer); answer.Type != "error" || code != "not_allowed" {
		t.Fatalf("a participant's mute answered with %s %s", answer.Type, code)
	}

	before = done("send_to_lobby", target)
	left := false
	for _, msg := range before {
		left = left || msg.Type == "participant_left"
	}
	if !left {
		t.Errorf("done came before Ann left the meeting: %v", before)
	}
	for _, msg := range append(ann.All(), mod.All()...) {
		if msg.Type == "done" && msg.Ref == "" {
			t.Errorf("a done without a ref")
		}
	}
	for _, msg := range ann.All() {
		if msg.Type == "done" {
			t.Errorf("Ann got a done (ref %s): only the moderator's own messages are answered", msg.Ref)
		}
	}
}

func hasRole(msgs []testclient.Message, id, role string) bool {
	for _, msg := range msgs {
		var p struct {
			Participant struct{ ID, Role string } `json:"participant"`
		}
		if msg.Type == "participant_updated" && json.Unmarshal(msg.Payload, &p) == nil && p.Participant.ID == id && p.Participant.Role == role {
			return true
		}
	}
	return false
}

func errorCode(t *testing.T, msg testclient.Message) string {
	t.Helper()
	var p struct{ Code string }
	if err := json.Unmarshal(msg.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p.Code
}
