package signaling_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"conclave/e2ee"
	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

type lobbyKeyInfo struct{ From, Pub, Tag string }

// lastLobbyKeys returns the lobbyKeys of the last lobby message c received and how many
// lobby messages it received.
func lastLobbyKeys(c *testclient.Client) ([]lobbyKeyInfo, int) {
	var keys []lobbyKeyInfo
	n := 0
	for _, m := range c.All() {
		if m.Type != "lobby" {
			continue
		}
		var p struct{ LobbyKeys []lobbyKeyInfo }
		_ = json.Unmarshal(m.Payload, &p)
		keys = p.LobbyKeys
		n++
	}
	return keys, n
}

func lobbyKeyFor(id string, secret byte) map[string]any {
	ki, _ := e2ee.DeriveMeetingKeys(bytes.Repeat([]byte{secret}, 16))
	pub := bytes.Repeat([]byte{secret + 1}, 32)
	return map[string]any{"pub": e2ee.EncodeKnockField(pub), "tag": e2ee.EncodeKnockField(e2ee.LobbyKeyTag(ki, id, pub))}
}

// TestLobbyKeysReachKnockers: a moderator's lobby key reaches every waiting person as it
// was sent (the server cannot judge its tag), with the moderator's id; a knocker who
// comes later finds the keys in its first lobby message; a moderator who leaves or steps
// down takes its key away; the same key sent again changes nothing.
func TestLobbyKeysReachKnockers(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`)
	mod := srv.joinModerator(t, mt, "Mod")
	expectType(t, mod, "waiting_list")
	early := srv.knock(t, mt.MeetingID, "Early", nil)
	if keys, _ := lastLobbyKeys(early); keys != nil {
		t.Fatalf("lobby keys before any moderator sent one: %+v", keys)
	}

	k1 := lobbyKeyFor(mod.ParticipantID, 1)
	if _, err := mod.Send("lobby_key", k1); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the moderator's key at the early knocker", func() bool {
		keys, _ := lastLobbyKeys(early)
		return len(keys) == 1 && keys[0].From == mod.ParticipantID && keys[0].Pub == k1["pub"] && keys[0].Tag == k1["tag"]
	})
	_, before := lastLobbyKeys(early)

	// The same key again is no change; a second moderator's key (made under another
	// link: the server cannot tell) joins it, sorted by id.
	if _, err := mod.Send("lobby_key", k1); err != nil {
		t.Fatal(err)
	}
	mod2 := srv.joinModerator(t, mt, "Mod2")
	expectType(t, mod2, "waiting_list")
	k2 := lobbyKeyFor(mod2.ParticipantID, 5)
	if _, err := mod2.Send("lobby_key", k2); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "both keys at the early knocker", func() bool { keys, _ := lastLobbyKeys(early); return len(keys) == 2 })
	keys, after := lastLobbyKeys(early)
	if after != before+1 {
		t.Fatalf("%d lobby messages for the same key again and one new key", after-before)
	}
	if keys[0].From > keys[1].From || (keys[0].From != mod.ParticipantID && keys[1].From != mod.ParticipantID) {
		t.Fatalf("keys %+v", keys)
	}
	late := srv.knock(t, mt.MeetingID, "Late", nil)
	if keys, _ := lastLobbyKeys(late); len(keys) != 2 {
		t.Fatalf("the late knocker's first lobby message has %d keys", len(keys))
	}

	// Mod2 steps down: its key goes. Then it leaves for good; nothing more changes.
	if _, err := mod.Send("set_role", map[string]any{"participantId": mod2.ParticipantID, "role": "participant"}); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "only the first key", func() bool {
		keys, _ := lastLobbyKeys(late)
		return len(keys) == 1 && keys[0].From == mod.ParticipantID
	})
	// A participant may not publish one.
	if _, err := mod2.Send("lobby_key", k2); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, mod2); code != "not_allowed" {
		t.Fatalf("a participant's lobby key: %s", code)
	}
	// The moderator leaves: the knockers see no key and no moderator.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := mod.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "no keys after the moderator left", func() bool {
		var last struct {
			ModeratorPresent bool
			LobbyKeys        []lobbyKeyInfo
		}
		for _, m := range early.All() {
			if m.Type == "lobby" {
				last.LobbyKeys = nil
				_ = json.Unmarshal(m.Payload, &last)
			}
		}
		return !last.ModeratorPresent && last.LobbyKeys == nil
	})
}

// TestLobbyKeyRefusals: malformed keys, keys from a knocker, and keys in a meeting
// without end-to-end encryption are refused with their code and reach nobody.
func TestLobbyKeyRefusals(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`)
	mod := srv.joinModerator(t, mt, "Mod")
	expectType(t, mod, "waiting_list")
	k := srv.knock(t, mt.MeetingID, "Kim", nil)
	good := lobbyKeyFor(mod.ParticipantID, 1)
	pub, tag := good["pub"].(string), good["tag"].(string)
	for i, r := range []struct {
		payload any
		code    string
	}{
		{map[string]any{}, "invalid_field"},
		{map[string]any{"pub": pub}, "invalid_field"},
		{map[string]any{"tag": tag}, "invalid_field"},
		{map[string]any{"pub": pub[:42], "tag": tag}, "invalid_field"},
		{map[string]any{"pub": pub, "tag": tag + "A"}, "invalid_field"},
		{map[string]any{"pub": pub + "=", "tag": tag}, "invalid_field"},
		{map[string]any{"pub": pub, "tag": 7}, "bad_message"},
	} {
		id, err := mod.Send("lobby_key", r.payload)
		if err != nil {
			t.Fatal(err)
		}
		if code, ref := expectError(t, mod); code != r.code || ref != id {
			t.Fatalf("refusal %d: %s ref %q, want %s ref %q", i, code, ref, r.code, id)
		}
	}
	// A knocker may not send one.
	if _, err := k.Send("lobby_key", good); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, k); code != "not_allowed_in_state" {
		t.Fatalf("a knocker's lobby key: %s", code)
	}
	// Then the good one: it is the first change the knocker sees.
	if _, err := mod.Send("lobby_key", good); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the key at the knocker", func() bool { keys, _ := lastLobbyKeys(k); return len(keys) == 1 })
	if _, n := lastLobbyKeys(k); n != 2 {
		t.Fatalf("the knocker got %d lobby messages (its first and one for the key)", n)
	}

	plain := srv.createMeetingWith(t, `{"e2ee":false}`)
	pmod := srv.joinModerator(t, plain, "PlainMod")
	if _, err := pmod.Send("lobby_key", lobbyKeyFor(pmod.ParticipantID, 1)); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, pmod); code != "not_allowed" {
		t.Fatalf("a lobby key without e2ee: %s", code)
	}
}

// FuzzParseLobbyKey: the parser never panics, every refusal is one of its typed errors,
// and what it takes has two fields of 32 bytes in their one spelling.
func FuzzParseLobbyKey(f *testing.F) {
	k := lobbyKeyFor("p-mod", 1)
	good, _ := json.Marshal(k)
	for _, s := range []string{string(good), `{}`, `{"pub":5}`, `null`, ``, `[]`, `{"pub":"` + k["pub"].(string) + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		p, err := signaling.ParseLobbyKey(payload)
		if err != nil {
			if !errors.Is(err, signaling.ErrLobbyKeyShape) && !errors.Is(err, signaling.ErrLobbyKeyField) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, f := range []string{p.Pub, p.Tag} {
			if b, err := e2ee.ParseKnockField(f); err != nil || e2ee.EncodeKnockField(b) != f {
				t.Fatalf("took %q", f)
			}
		}
	})
}

// TestLobbyKeyRateLimited: each new lobby key reaches every knocker, so a moderator may
// send 4 at once and one every 5 seconds; the fifth at once is refused and reaches
// nobody, and one more is taken once 5 s have passed on the server's clock.
func TestLobbyKeyRateLimited(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	mt := srv.createMeetingWith(t, `{}`)
	mod := srv.joinModerator(t, mt, "Mod")
	expectType(t, mod, "waiting_list")
	k := srv.knock(t, mt.MeetingID, "Kim", nil)
	for i := byte(0); i < 4; i++ {
		if _, err := mod.Send("lobby_key", lobbyKeyFor(mod.ParticipantID, 10+i)); err != nil {
			t.Fatal(err)
		}
	}
	conntest.Eventually(t, "four new keys at the knocker", func() bool { _, n := lastLobbyKeys(k); return n == 5 })
	id, err := mod.Send("lobby_key", lobbyKeyFor(mod.ParticipantID, 20))
	if err != nil {
		t.Fatal(err)
	}
	if code, ref := expectError(t, mod); code != "rate_limited" || ref != id {
		t.Fatalf("the fifth key at once: %s ref %q", code, ref)
	}
	clock.Advance(5 * time.Second)
	last := lobbyKeyFor(mod.ParticipantID, 30)
	if _, err := mod.Send("lobby_key", last); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the key after 5 s", func() bool {
		keys, _ := lastLobbyKeys(k)
		return len(keys) == 1 && keys[0].Tag == last["tag"]
	})
	if _, n := lastLobbyKeys(k); n != 6 {
		t.Fatalf("the knocker got %d lobby messages, want its first, four keys and the last", n)
	}
}
