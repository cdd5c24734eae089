package signaling_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"conclave/e2ee"
	"conclave/internal/conntest"
)

// TestNamesTravelOnlyInKeyEnvelopes: issue 14's test of names under session keys
// (e2ee/FORMAT.md, "Names"). Three Go members run a browser's key schedule with a display
// name each; the names a tool also put into `join` are dropped by the server. Every
// member learns the others' names from their key envelopes, no byte any member received
// from the server holds a name, and every key envelope the server relayed stays shut to
// each key the link secret yields: someone with the link who is not in the meeting opens
// no name.
func TestNamesTravelOnlyInKeyEnvelopes(t *testing.T) {
	names := []string{"Alice Quixote", "Bob Ümlaut 🎻", "Carol Nightingale"}
	joinNames := []string{"Join-name Alpha", "Join-name Bravo", "Join-name Charlie"}
	mt := joinE2EEMembers(t, joinNames, names)
	secret, clients, models := mt.secret, mt.clients, mt.models
	conntest.Eventually(t, "every member holding every other's name", func() bool {
		for i, m := range models {
			for j, c := range clients {
				if i == j {
					continue
				}
				if got, ok := m.NameOf(c.ParticipantID); !ok || got != names[j] {
					return false
				}
			}
		}
		return true
	})

	// The server relayed no name: neither the ones in join nor the ones in the envelopes.
	var wrapped [][]byte
	var senders, recipients []string
	for i, c := range clients {
		for _, msg := range c.All() {
			for _, n := range append(append([]string{}, names...), joinNames...) {
				if bytes.Contains(msg.Raw, []byte(n)) {
					t.Fatalf("member %d received %q in a %s message", i, n, msg.Type)
				}
			}
			var p struct{ From, Data string }
			if msg.Type != "e2ee" || json.Unmarshal(msg.Payload, &p) != nil {
				continue
			}
			var km struct{ T, Wrapped string }
			if json.Unmarshal([]byte(p.Data), &km) != nil || km.T != "key" {
				continue
			}
			w, err := base64.RawURLEncoding.DecodeString(km.Wrapped)
			if err != nil {
				t.Fatal(err)
			}
			wrapped, senders, recipients = append(wrapped, w), append(senders, p.From), append(recipients, c.ParticipantID)
		}
	}
	if len(wrapped) < len(names)*(len(names)-1) {
		t.Fatalf("only %d key envelopes relayed", len(wrapped))
	}
	// Every key the link gives, as the pairwise key, under the true ids: nothing opens.
	for i, w := range wrapped {
		if len(w) <= e2ee.WrappedSize {
			t.Fatalf("envelope %d carries no name (%d bytes)", i, len(w))
		}
		for k, key := range e2ee.LinkDerivableKeys(secret) {
			if got, err := e2ee.UnwrapKey(key, senders[i], recipients[i], w); !errors.Is(err, e2ee.ErrAuth) {
				t.Fatalf("link key %d opens envelope %d: %q, %v", k, i, got.Name, err)
			}
		}
	}
}

// TestJoinNameInPlainMeeting: a meeting without end-to-end encryption keeps names as
// before (the server relays the one in join), and refuses a join without one: with
// not_encrypted when the page speaks E2EE (its link holds a key).
func TestJoinNameInPlainMeeting(t *testing.T) {
	srv := newTestServer(t)
	plain := srv.createMeetingWith(t, `{"e2ee":false,"settings":{"lobby":false}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := srv.dial(t)
	if err := a.Join(ctx, plain.MeetingID, "Plain Alice"); err != nil {
		t.Fatal(err)
	}
	b := srv.dial(t)
	if err := b.Join(ctx, plain.MeetingID, "Plain Bob"); err != nil {
		t.Fatal(err)
	}
	m := expectType(t, a, "participant_joined")
	if p := participantOf(t, m); p.Name != "Plain Bob" {
		t.Fatalf("participant_joined: %+v", p)
	}
	c := srv.dial(t)
	if err := c.SendJoin(map[string]any{"meetingId": plain.MeetingID, "e2ee": 0}); err != nil {
		t.Fatal(err)
	}
	e := expectType(t, c, "error")
	var ep struct{ Code string }
	_ = json.Unmarshal(e.Payload, &ep)
	if ep.Code != "invalid_field" {
		t.Fatalf("a nameless join to a plain meeting: %s", e.Payload)
	}
	// A page that speaks E2EE and sends no name holds a key for this link: told at once
	// that the meeting is not encrypted, and closed.
	d := srv.dial(t)
	if err := d.SendJoin(map[string]any{"meetingId": plain.MeetingID}); err != nil {
		t.Fatal(err)
	}
	e = expectType(t, d, "error")
	ep.Code = ""
	_ = json.Unmarshal(e.Payload, &ep)
	if ep.Code != "not_encrypted" {
		t.Fatalf("a nameless join with e2ee to a plain meeting: %s", e.Payload)
	}
}
