package signaling_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"conclave/internal/testclient"
	"conclave/signaling"
)

// handsOf decodes a hands message into the ids in order and who changed it.
func handsOf(t *testing.T, m testclient.Message) (ids []string, by string) {
	t.Helper()
	var p signaling.HandsPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatal(err)
	}
	ids = []string{}
	for _, h := range p.Hands {
		ids = append(ids, h.ParticipantID)
	}
	return ids, p.By
}

// expectHands waits for c's next hands message and checks the queue.
func expectHands(t *testing.T, c *testclient.Client, want ...string) string {
	t.Helper()
	got, by := handsOf(t, expectType(t, c, signaling.TypeHands))
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s sees hands %v, want %v", c.ParticipantID, got, want)
	}
	return by
}

// TestHandsQueueInOrder: three members raise their hands; the moderator (and everyone)
// sees them in the order of raising, a late joiner learns the queue after its welcome,
// a participant cannot lower another's hand, the moderator can lower one or all.
func TestHandsQueueInOrder(t *testing.T) {
	s := newTestServer(t)
	m := s.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	mod := s.joinModerator(t, m, "Mod")
	a := s.join(t, m.MeetingID, "A")
	b := s.join(t, m.MeetingID, "B")
	c := s.join(t, m.MeetingID, "C")

	raise := func(who *testclient.Client, up bool) {
		t.Helper()
		if _, err := who.Send(signaling.TypeRaiseHand, map[string]any{"raised": up}); err != nil {
			t.Fatal(err)
		}
	}
	raise(b, true)
	expectHands(t, mod, b.ParticipantID)
	raise(c, true)
	expectHands(t, mod, b.ParticipantID, c.ParticipantID)
	raise(a, true)
	if by := expectHands(t, mod, b.ParticipantID, c.ParticipantID, a.ParticipantID); by != a.ParticipantID {
		t.Fatalf("by %q, want A", by)
	}
	for _, who := range []*testclient.Client{a, b, c} {
		expectHands(t, who, b.ParticipantID)
		expectHands(t, who, b.ParticipantID, c.ParticipantID)
		expectHands(t, who, b.ParticipantID, c.ParticipantID, a.ParticipantID)
	}

	late := s.join(t, m.MeetingID, "Late")
	expectHands(t, late, b.ParticipantID, c.ParticipantID, a.ParticipantID)

	// A participant may lower only its own hand.
	for _, typ := range []string{signaling.TypeLowerHand, signaling.TypeLowerAllHands} {
		if _, err := a.Send(typ, map[string]any{"participantId": b.ParticipantID}); err != nil {
			t.Fatal(err)
		}
		if code, _ := expectError(t, a); code != string(signaling.CodeNotAllowed) {
			t.Fatalf("%s by a participant: %s", typ, code)
		}
	}
	if _, err := a.Send(signaling.TypeRaiseHand, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, a); code != string(signaling.CodeInvalidField) {
		t.Fatalf("raise_hand without raised: %s", code)
	}

	if _, err := mod.Send(signaling.TypeLowerHand, map[string]any{"participantId": c.ParticipantID}); err != nil {
		t.Fatal(err)
	}
	if by := expectHands(t, c, b.ParticipantID, a.ParticipantID); by != mod.ParticipantID {
		t.Fatalf("C's hand lowered by %q, want the moderator", by)
	}
	if _, err := mod.Send(signaling.TypeLowerAllHands, nil); err != nil {
		t.Fatal(err)
	}
	expectHands(t, late, b.ParticipantID, a.ParticipantID)
	expectHands(t, late)
}

// TestOnlyModeratorsMuteAll: a participant's mute_all is refused and changes nothing;
// the moderator's reaches every participant (all: true), not the moderators, and the
// server then holds the microphone: unmuting is refused while the unmute setting is off.
func TestOnlyModeratorsMuteAll(t *testing.T) {
	s := newTestServer(t)
	m := s.createMeetingWith(t, `{"settings":{"lobby":false,"unmute":false}}`)
	mod := s.joinModerator(t, m, "Mod")
	mod2 := s.joinModerator(t, m, "Mod2")
	a := s.join(t, m.MeetingID, "A")
	b := s.join(t, m.MeetingID, "B")

	if _, err := a.Send(signaling.TypeMuteAll, map[string]any{"source": "microphone"}); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, a); code != string(signaling.CodeNotAllowed) {
		t.Fatalf("mute_all by a participant: %s", code)
	}
	if _, err := mod.Send(signaling.TypeMuteAll, map[string]any{"source": "speaker"}); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, mod); code != string(signaling.CodeInvalidField) {
		t.Fatalf("mute_all with a bad source: %s", code)
	}
	for _, source := range []string{"microphone", "camera"} {
		if _, err := mod.Send(signaling.TypeMuteAll, map[string]any{"source": source}); err != nil {
			t.Fatal(err)
		}
	}
	for _, who := range []*testclient.Client{a, b} {
		for _, want := range []string{"mute_microphone", "mute_camera"} {
			var p signaling.MediaCommandPayload
			if err := json.Unmarshal(expectType(t, who, signaling.TypeMediaCommand).Payload, &p); err != nil {
				t.Fatal(err)
			}
			// The first command is the moderator's: the participant's refused one did nothing.
			if p.Command != want || p.By != mod.ParticipantID || !p.All {
				t.Fatalf("%s got %+v, want %s by the moderator for all", who.ParticipantID, p, want)
			}
		}
	}
	// The server holds the mute: unmuting is refused (the unmute setting is off).
	if _, err := a.Send(signaling.TypeMediaState, map[string]any{"mic": true}); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, a); code != string(signaling.CodeNotAllowed) {
		t.Fatalf("unmuting after mute_all: %s", code)
	}
	// The moderators were spared: a message after the mute reaches them before any command.
	if _, err := mod.Send(signaling.TypeReaction, map[string]any{"emoji": "👍"}); err != nil {
		t.Fatal(err)
	}
	for _, who := range []*testclient.Client{mod, mod2} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for {
			msg, err := who.Next(ctx)
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			if msg.Type == signaling.TypeMediaCommand {
				cancel()
				t.Fatalf("moderator %s was muted: %s", who.ParticipantID, msg.Payload)
			}
			if msg.Type == signaling.TypeReaction {
				break
			}
		}
		cancel()
	}
}

// TestReactionsRateLimited: reactions reach every member, the sender included; a burst
// of five passes, the sixth is refused until the (fake) clock moves on a second, and
// anything outside the fixed set is refused.
func TestReactionsRateLimited(t *testing.T) {
	clock := newFakeClock()
	s := newTestServerWith(t, signaling.Config{Clock: clock})
	m := s.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	a := s.join(t, m.MeetingID, "A")
	b := s.join(t, m.MeetingID, "B")

	send := func(emoji string) {
		t.Helper()
		if _, err := a.Send(signaling.TypeReaction, map[string]any{"emoji": emoji}); err != nil {
			t.Fatal(err)
		}
	}
	expectReaction := func(who *testclient.Client, emoji string) {
		t.Helper()
		var p signaling.ReactionOutPayload
		if err := json.Unmarshal(expectType(t, who, signaling.TypeReaction).Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.From != a.ParticipantID || p.Emoji != emoji {
			t.Fatalf("%s got reaction %+v, want %s from A", who.ParticipantID, p, emoji)
		}
	}
	burst := []string{"👍", "👏", "😂", "😮", "❤️"}
	for _, e := range burst {
		send(e)
	}
	for _, e := range burst {
		expectReaction(b, e)
		expectReaction(a, e)
	}
	send("🎉")
	if code, _ := expectError(t, a); code != string(signaling.CodeRateLimited) {
		t.Fatalf("sixth reaction: %s", code)
	}
	clock.Advance(time.Second)
	send("🎉")
	expectReaction(b, "🎉") // the refused one never reached B: this is the next
	for _, bad := range []string{"💩", "", "👍👍", "<b>"} {
		send(bad)
		if code, _ := expectError(t, a); code != string(signaling.CodeInvalidField) {
			t.Fatalf("reaction %q: %s", bad, code)
		}
	}
}

// FuzzHandMessages: the parsers of raise_hand and reaction never panic, accept only a
// given boolean and a reaction of the fixed set, and refuse with a typed error.
func FuzzHandMessages(f *testing.F) {
	for _, s := range []string{
		`{"type":"raise_hand","payload":{"raised":true}}`,
		`{"type":"raise_hand","payload":{"raised":false}}`,
		`{"type":"raise_hand","payload":{"raised":"yes"}}`,
		`{"type":"raise_hand"}`,
		`{"type":"reaction","id":"r","payload":{"emoji":"👍"}}`,
		`{"type":"reaction","payload":{"emoji":"❤️"}}`,
		`{"type":"reaction","payload":{"emoji":"❤"}}`,
		`{"type":"reaction","payload":{"emoji":7}}`,
		`{"type":"mute_all","payload":{"source":"camera"}}`,
		`{"type":"lower_hand","payload":{"participantId":"p-1"}}`,
		`{"type":"reaction","payload":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := signaling.DecodeEnvelope(data)
		if err != nil {
			return
		}
		raised, rerr := signaling.ParseRaiseHand(env)
		if rerr == nil {
			var p struct{ Raised bool }
			if json.Unmarshal(env.Payload, &p) != nil || p.Raised != raised {
				t.Fatalf("raise_hand %q parsed as %v", data, raised)
			}
		} else if rerr.Code != signaling.CodeInvalidField && rerr.Code != signaling.CodeBadMessage {
			t.Fatalf("raise_hand refused with %s", rerr.Code)
		}
		emoji, eerr := signaling.ParseReaction(env)
		if eerr == nil && !slices.Contains(signaling.Reactions, emoji) {
			t.Fatalf("reaction %q accepted", emoji)
		}
		if eerr != nil && eerr.Code != signaling.CodeInvalidField && eerr.Code != signaling.CodeBadMessage {
			t.Fatalf("reaction refused with %s", eerr.Code)
		}
	})
}
