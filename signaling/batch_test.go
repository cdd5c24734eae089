package signaling_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"conclave/e2ee"
	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// batch is an e2ee_batch payload addressing each id with data "<label>-<id>".
func batch(label string, ids ...string) map[string]any {
	envs := make([]map[string]string, 0, len(ids))
	for _, id := range ids {
		envs = append(envs, map[string]string{"to": id, "data": label + "-" + id})
	}
	return map[string]any{"envelopes": envs}
}

// TestKeyBatch: a batch reaches each recipient as its own ordinary e2ee message from the
// sender; every kind of bad batch is refused with its code before anything is delivered;
// an envelope for a member that just left is dropped without refusing the batch; and a
// batch costs its sender one message of the relay budget, which grows with the meeting.
func TestKeyBatch(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, MaxParticipants: 5})
	mt := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	a := srv.join(t, mt.MeetingID, "A")
	b := srv.join(t, mt.MeetingID, "B")
	c := srv.join(t, mt.MeetingID, "C")
	d := srv.join(t, mt.MeetingID, "D")
	recipients := []*testclient.Client{b, c, d}

	// One batch, three recipients, each its own envelope as an e2ee from A.
	_, _ = a.Send("e2ee_batch", batch("k1", b.ParticipantID, c.ParticipantID, d.ParticipantID))
	for _, r := range recipients {
		conntest.Eventually(t, "the batch's envelope", func() bool { return len(keyMessages(r)) == 1 })
		if got := keyMessages(r)[0]; got.From != a.ParticipantID || got.Data != "k1-"+r.ParticipantID {
			t.Fatalf("%s got %+v", r.ParticipantID, got)
		}
	}

	// Bad batches: each refused with its code, nothing delivered.
	big := strings.Repeat("x", 3<<10) // three of them exceed a batch's 8 KiB floor
	bad := []struct {
		name, code string
		payload    any
	}{
		{"empty", "invalid_field", map[string]any{"envelopes": []any{}}},
		{"no envelopes", "invalid_field", map[string]any{}},
		{"not a list", "bad_message", map[string]any{"envelopes": "x"}},
		{"more than the meeting can hold", "invalid_field", batch("k", b.ParticipantID, c.ParticipantID, d.ParticipantID, "p-a", "p-b")},
		{"never a member", "unknown_participant", batch("k", b.ParticipantID, "p-0000000000000000")},
		{"the sender", "invalid_field", batch("k", b.ParticipantID, a.ParticipantID)},
		{"twice the same", "invalid_field", batch("k", b.ParticipantID, c.ParticipantID, b.ParticipantID)},
		{"no to", "invalid_field", map[string]any{"envelopes": []map[string]string{{"data": "k"}}}},
		{"empty data", "invalid_field", map[string]any{"envelopes": []map[string]string{{"to": b.ParticipantID}}}},
		{"data over 8 KiB", "invalid_field", map[string]any{"envelopes": []map[string]string{{"to": b.ParticipantID, "data": strings.Repeat("x", 8<<10+1)}}}},
		{"too much in all", "invalid_field", map[string]any{"envelopes": []map[string]string{
			{"to": b.ParticipantID, "data": big}, {"to": c.ParticipantID, "data": big}, {"to": d.ParticipantID, "data": big}}}},
	}
	for _, tc := range bad {
		id, _ := a.Send("e2ee_batch", tc.payload)
		if code, ref := expectError(t, a); code != tc.code || ref != id {
			t.Fatalf("%s: %s (ref %q), want %s", tc.name, code, ref, tc.code)
		}
	}
	// A marker after the refusals: had any of them delivered something, it would come first.
	_, _ = a.Send("e2ee", map[string]any{"data": "marker"})
	for _, r := range recipients {
		conntest.Eventually(t, "the marker", func() bool { return len(keyMessages(r)) >= 2 })
		if got := keyMessages(r); len(got) != 2 || got[1].Data != "marker" {
			t.Fatalf("%s got %+v after the bad batches", r.ParticipantID, got)
		}
	}

	// D leaves; a batch that still names it (A had not heard yet) reaches the others.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	expectType(t, a, "participant_left")
	_, _ = a.Send("e2ee_batch", batch("k2", b.ParticipantID, c.ParticipantID, d.ParticipantID))
	for _, r := range []*testclient.Client{b, c} {
		conntest.Eventually(t, "the rotation", func() bool { return len(keyMessages(r)) == 3 })
		if got := keyMessages(r)[2]; got.Data != "k2-"+r.ParticipantID {
			t.Fatalf("%s got %+v", r.ParticipantID, got)
		}
	}

	// The budget: a meeting of three now. A batch costs one message however many it
	// reaches. A has sent three (k1, the marker, k2; refused batches cost nothing), but
	// the leave shrank the budget to a meeting of three's burst, of which k2 used one.
	rate, burst := e2ee.RelayLimits(3)
	allowed := int(burst) - 1
	before := rateLimited(a)
	for i := 0; i < allowed+2; i++ {
		_, _ = a.Send("e2ee_batch", batch(fmt.Sprintf("f%d", i), b.ParticipantID, c.ParticipantID))
	}
	conntest.Eventually(t, "an answer to every batch", func() bool {
		return len(keyMessages(c))-3+rateLimited(a)-before >= allowed+2
	})
	if got, limited := len(keyMessages(c))-3, rateLimited(a)-before; got != allowed || limited != 2 {
		t.Fatalf("%d batches delivered, %d rate limited; want %d and 2", got, limited, allowed)
	}
	// A second later the sustained rate is back, and a newcomer's arrival adds its share.
	clock.Advance(time.Second)
	e := srv.join(t, mt.MeetingID, "E")
	_, burst4 := e2ee.RelayLimits(4)
	want := int(rate) + int(burst4-burst)
	before = rateLimited(a)
	for i := 0; i < want+1; i++ {
		_, _ = a.Send("e2ee", map[string]any{"to": e.ParticipantID, "data": fmt.Sprintf("n%d", i)})
	}
	conntest.Eventually(t, "an answer to every message", func() bool {
		return len(keyMessages(e))+rateLimited(a)-before >= want+1
	})
	if got, limited := len(keyMessages(e)), rateLimited(a)-before; got != want || limited != 1 {
		t.Fatalf("after a second and a join: %d delivered, %d rate limited; want %d and 1", got, limited, want)
	}
	if n := len(errorsOf(b)) + len(errorsOf(c)); n != 0 {
		t.Fatalf("the recipients got %d errors", n)
	}
}

// TestKeyBatchNeedsE2EEMeeting: batches exist for end-to-end encrypted meetings only, and
// only members send them.
func TestKeyBatchNeedsE2EEMeeting(t *testing.T) {
	srv := newTestServer(t)
	plain := srv.createMeetingWith(t, `{"e2ee":false,"settings":{"lobby":false}}`)
	a := srv.join(t, plain.MeetingID, "A")
	b := srv.join(t, plain.MeetingID, "B")
	id, _ := a.Send("e2ee_batch", batch("k", b.ParticipantID))
	if code, ref := expectError(t, a); code != "not_allowed" || ref != id {
		t.Fatalf("batch in a meeting without e2ee: %s", code)
	}
	c := srv.dial(t)
	id, _ = c.Send("e2ee_batch", batch("k", b.ParticipantID))
	if code, ref := expectError(t, c); code != "not_allowed_in_state" || ref != id {
		t.Fatalf("batch before join: %s", code)
	}
	if got := keyMessages(b); len(got) != 0 {
		t.Fatalf("B got %+v", got)
	}
}

// errorsOf lists the error messages c received.
func errorsOf(c *testclient.Client) []testclient.Message {
	var out []testclient.Message
	for _, m := range c.All() {
		if m.Type == "error" {
			out = append(out, m)
		}
	}
	return out
}
