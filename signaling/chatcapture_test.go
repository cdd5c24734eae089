package signaling_test

import (
	"encoding/json"
	"errors"
	"testing"

	"conclave/e2ee"
	"conclave/internal/conntest"
	"conclave/internal/e2eeclient"
)

// TestChatCapturedOpensWithNoLinkKey: issue 14's test of chat under session keys. Three
// Go members run a browser's key schedule (internal/e2eeclient); one sends a chat text
// of version 3 ("e3.", e2ee/FORMAT.md "Chat (version 3)") under its own media key. The
// string the server relays is captured (what a server keeps after the meeting), and
// every key the link secret yields fails on it, as the media key R and as the chat key
// KT itself, under every member's id, while a member that got the sender's key reads it.
func TestChatCapturedOpensWithNoLinkKey(t *testing.T) {
	const n = 3
	mt := joinE2EEMembers(t, []string{"M0", "M1", "M2"}, nil)
	secret, clients, models := mt.secret, mt.clients, mt.models
	alice, bob := clients[0], clients[1]
	conntest.Eventually(t, "everyone verified and bob holding alice's key", func() bool {
		_, ok := models[1].KeyFrom(alice.ParticipantID)
		return ok && len(models[0].Verified()) == n-1 && len(models[2].Verified()) == n-1
	})

	own := models[0].OwnKey()
	sent, err := e2ee.EncryptChat(own.Raw, own.Index, alice.ParticipantID, "meet at the north gate", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send("chat", map[string]any{"text": sent}); err != nil {
		t.Fatal(err)
	}
	var captured string
	conntest.Eventually(t, "the relayed chat at bob", func() bool {
		for _, m := range bob.All() {
			var p struct{ From, Text string }
			if m.Type == "chat" && json.Unmarshal(m.Payload, &p) == nil && p.From == alice.ParticipantID {
				captured = p.Text
				return true
			}
		}
		return false
	})
	if captured != sent {
		t.Fatal("the server changed the chat text it relayed")
	}

	// A member that got alice's key reads it (following the ratchet of later joins).
	k, _ := models[1].KeyFrom(alice.ParticipantID)
	for steps := 0; k.Index != own.Index; steps++ {
		if steps == e2ee.MaxRatchet {
			t.Fatalf("bob's key of alice at %d, alice's at %d", k.Index, own.Index)
		}
		k = e2eeclient.Key{Index: k.Index + 1, Raw: e2ee.Ratchet(k.Raw)}
	}
	if got, _, err := e2ee.DecryptChat(k.Raw, alice.ParticipantID, captured); err != nil || got != "meet at the north gate" {
		t.Fatalf("bob reads %q, %v", got, err)
	}
	// The link secret, found after the meeting, opens nothing of it.
	keys := e2ee.LinkDerivableKeys(secret)
	if len(keys) < 10 {
		t.Fatalf("only %d link keys", len(keys))
	}
	for i, key := range keys {
		for _, c := range clients {
			if got, _, err := e2ee.DecryptChat(key, c.ParticipantID, captured); !errors.Is(err, e2ee.ErrAuth) {
				t.Fatalf("link key %d as R: %q, %v", i, got, err)
			}
			if got, _, err := e2ee.DecryptChatUnder(key, c.ParticipantID, captured); !errors.Is(err, e2ee.ErrAuth) {
				t.Fatalf("link key %d as KT: %q, %v", i, got, err)
			}
		}
		if got, err := e2ee.DecryptText(key, e2ee.TextChat, alice.ParticipantID, captured); err == nil {
			t.Fatalf("link key %d opens it as a version 1 text: %q", i, got)
		}
	}
}
