package signaling_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
)

// resumeRefusal is the code and ref of the error that answers c's resume; a welcome fails
// the test at once.
func resumeRefusal(t *testing.T, c *testclient.Client) (code, ref string) {
	t.Helper()
	m := nextOf(t, c, "welcome", "error")
	if m.Type == "welcome" {
		t.Fatalf("a bad resume was taken: %s", m.Payload)
	}
	var p struct{ Code string }
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p.Code, m.Ref
}

// TestBadResumeChangesNothing: a resume the server cannot read is refused with a typed
// error, the membership it names untouched (still reconnecting, nobody told anything),
// even when it carries the member's right secret; after the refusals that leave the
// connection open, the same connection resumes with the right secret.
func TestBadResumeChangesNothing(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id, sec := alice.ParticipantID, alice.ResumeSecret
	meeting := f.meeting.MeetingID
	// The admit's done goes out after Alice's welcome, from the moderator's own session:
	// on a loaded machine it came after her drop was told, among what the refusals must
	// not send. The moderator has it before the drop.
	settled(t, f.srv, f.mod)
	dropAndSeeReconnecting(t, alice, f.mod)
	seen := len(f.mod.All())
	resume := func(fields map[string]any) map[string]any {
		p := map[string]any{"version": 1, "meetingId": meeting, "participantId": id, "secret": sec}
		for k, v := range fields {
			if v == nil {
				delete(p, k)
			} else {
				p[k] = v
			}
		}
		return p
	}

	// Refusals that close the connection, each on its own.
	for i, tc := range []struct {
		payload any
		code    string
		close   int
	}{
		{nil, "unsupported_version", 4400},
		{map[string]any{}, "unsupported_version", 4400},
		{resume(map[string]any{"version": 2}), "unsupported_version", 4400},
		{resume(map[string]any{"secret": sec + "="}), "resume_failed", 4401},
		{resume(map[string]any{"secret": sec[1:]}), "resume_failed", 4401},
		{resume(map[string]any{"secret": nil}), "resume_failed", 4401},
		{resume(map[string]any{"secret": strings.ToUpper(sec)}), "resume_failed", 4401},
	} {
		c := f.srv.dial(t)
		ref, err := c.Send("resume", tc.payload)
		if err != nil {
			t.Fatal(err)
		}
		code, gotRef := resumeRefusal(t, c)
		if cl := waitClosed(t, c); code != tc.code || gotRef != ref || cl != tc.close {
			t.Errorf("closing case %d %v: %s (ref %q, close %d), want %s (ref %q, close %d)", i, tc.payload, code, gotRef, cl, tc.code, ref, tc.close)
		}
	}

	// Refusals that leave the connection open, one after another on one connection.
	c := f.srv.dial(t)
	for i, tc := range []struct {
		payload any
		code    string
	}{
		{"x", "bad_message"},
		{[]int{1}, "bad_message"},
		{resume(map[string]any{"version": "1"}), "bad_message"},
		{resume(map[string]any{"version": 1.5}), "bad_message"},
		{resume(map[string]any{"secret": 7}), "bad_message"},
		{resume(map[string]any{"media": "on"}), "bad_message"},
		{resume(map[string]any{"media": map[string]any{"mic": "yes"}}), "bad_message"},
		{resume(map[string]any{"meetingId": nil}), "invalid_field"},
		{resume(map[string]any{"participantId": nil}), "invalid_field"},
		{resume(map[string]any{"meetingId": meeting + "/x"}), "invalid_field"},
		{resume(map[string]any{"participantId": id + " "}), "invalid_field"},
		{resume(map[string]any{"participantId": strings.Repeat("p", 65)}), "invalid_field"},
	} {
		ref, err := c.Send("resume", tc.payload)
		if err != nil {
			t.Fatal(err)
		}
		if code, gotRef := resumeRefusal(t, c); code != tc.code || gotRef != ref {
			t.Errorf("case %d %v: %s (ref %q), want %s (ref %q)", i, tc.payload, code, gotRef, tc.code, ref)
		}
	}
	for _, m := range f.mod.All()[seen:] {
		t.Errorf("a refused resume told the moderator %s %s", m.Type, m.Payload)
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := c.Resume(ctx, meeting, id, sec); err != nil {
		t.Fatalf("the resume after the refusals: %v", err)
	}
	expectType(t, f.mod, "participant_resumed")
}
