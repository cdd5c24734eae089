package signaling_test

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
)

// keyShape lists the object keys of a JSON value, recursively ("payload.settings.lobby"),
// taking the first element of arrays: the shape of a message, not its values.
func keyShape(v any, prefix string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out[prefix+k] = true
			keyShape(e, prefix+k+".", out)
		}
	case []any:
		if len(x) > 0 {
			keyShape(x[0], prefix+"[].", out)
		}
	}
}

func shapeOf(t *testing.T, raw []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	out := map[string]bool{}
	keyShape(v, "", out)
	return out
}

func missing(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestWorkedExampleWelcomeIsComplete: the `welcome` of PROTOCOL.md's worked example has
// exactly the fields a real server sends (every one of them, nothing invented).
func TestWorkedExampleWelcomeIsComplete(t *testing.T) {
	doc, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	var example []byte
	for _, line := range strings.Split(string(doc), "\n") {
		if rest, ok := strings.CutPrefix(line, `server → {"type":"welcome"`); ok {
			example = []byte(`{"type":"welcome"` + rest)
		}
	}
	if example == nil {
		t.Fatal("PROTOCOL.md has no worked-example welcome line")
	}

	srv := newTestServer(t)
	m := srv.createMeetingWith(t, `{"e2ee":false,"settings":{"lobby":false}}`)
	srv.joinModerator(t, m, "Bob") // Bob is in the meeting, as in the example
	alice := srv.dial(t)
	if _, err := alice.Send("join", map[string]any{"version": 1, "meetingId": m.MeetingID, "name": "Alice",
		"media": map[string]any{"mic": true, "camera": true, "screen": false}}); err != nil {
		t.Fatal(err)
	}
	real := expectType(t, alice, "welcome")
	want, got := shapeOf(t, real.Raw), shapeOf(t, example)
	if m := missing(want, got); len(m) > 0 {
		t.Errorf("the worked example's welcome lacks %v (the server sends %s)", m, real.Raw)
	}
	if m := missing(got, want); len(m) > 0 {
		t.Errorf("the worked example's welcome has %v, which the server does not send (%s)", m, real.Raw)
	}
}

// TestParticipantUpdatedRecipients: after a media_state, participant_updated goes to the
// other members only; after a role change, to everyone, the member included.
func TestParticipantUpdatedRecipients(t *testing.T) {
	srv := newTestServer(t)
	m := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	mod := srv.joinModerator(t, m, "Mod")
	pat := srv.join(t, m.MeetingID, "Pat")
	expectType(t, mod, "participant_joined")
	updates := func(c *testclient.Client) int {
		n := 0
		for _, msg := range c.All() {
			if msg.Type == "participant_updated" && strings.Contains(string(msg.Payload), pat.ParticipantID) {
				n++
			}
		}
		return n
	}

	_, _ = pat.Send("media_state", map[string]any{"mic": false, "camera": true, "screen": false})
	expectType(t, mod, "participant_updated")
	// A barrier: Pat's chat echo comes after anything the media_state made for Pat.
	id, _ := pat.Send("chat", map[string]any{"text": "barrier"})
	if msg := expectType(t, pat, "chat"); msg.Ref != id {
		t.Fatalf("chat echo ref %q, want %q", msg.Ref, id)
	}
	if n := updates(pat); n != 0 {
		t.Fatalf("Pat got %d participant_updated about its own media_state", n)
	}

	_, _ = mod.Send("set_role", map[string]any{"participantId": pat.ParticipantID, "role": "presenter"})
	for _, c := range []*testclient.Client{mod, pat} {
		conntest.Eventually(t, "participant_updated after the role change", func() bool {
			for _, msg := range c.All() {
				if msg.Type == "participant_updated" && strings.Contains(string(msg.Payload), `"role":"presenter"`) {
					return true
				}
			}
			return false
		})
	}
}
