package signaling_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"

	"conclave/e2ee"
	"conclave/internal/conntest"
	"conclave/internal/testclient"
)

// lastLobby is the knock nonce and lobby keys of the last lobby message c received.
func lastLobby(c *testclient.Client) (nonce string, keys []lobbyKeyInfo) {
	for _, m := range c.All() {
		if m.Type != "lobby" {
			continue
		}
		var p struct {
			KnockNonce string
			LobbyKeys  []lobbyKeyInfo
		}
		_ = json.Unmarshal(m.Payload, &p)
		nonce, keys = p.KnockNonce, p.LobbyKeys
	}
	return nonce, keys
}

type sealedEntry struct {
	waitingKnock
	KnockEph  string `json:"knockEph"`
	KnockName string `json:"knockName"`
}

// lastEntry is the only entry of the last waiting list c received.
func lastEntry(c *testclient.Client) (sealedEntry, bool) {
	var e []sealedEntry
	for _, m := range c.All() {
		if m.Type == "waiting_list" {
			var p struct{ Waiting []sealedEntry }
			_ = json.Unmarshal(m.Payload, &p)
			e = p.Waiting
		}
	}
	if len(e) != 1 {
		return sealedEntry{}, false
	}
	return e[0], true
}

// TestKnockNamesSealedToEachModerator: a knocker seals its name to each moderator's
// lobby key (e2ee/FORMAT.md, "Names"); the server keeps no name and hands each moderator
// only the name sealed to it, byte for byte, which opens with that moderator's key
// alone. When the moderators' keys change, the knock starts over with a fresh nonce, so
// the name is sealed anew to the new set; nothing the server sent anyone holds the name.
func TestKnockNamesSealedToEachModerator(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`)
	secret := bytes.Repeat([]byte{1}, 16)
	ki, _ := e2ee.DeriveMeetingKeys(secret)
	publish := func(mod *testclient.Client) *ecdh.PrivateKey {
		priv, _ := ecdh.X25519().GenerateKey(rand.Reader)
		pub := priv.PublicKey().Bytes()
		if _, err := mod.Send("lobby_key", map[string]any{"pub": e2ee.EncodeKnockField(pub), "tag": e2ee.EncodeKnockField(e2ee.LobbyKeyTag(ki, mod.ParticipantID, pub))}); err != nil {
			t.Fatal(err)
		}
		return priv
	}
	const name = "Kim Sealed-Knock"
	// answer proves the link for the knock's current nonce and seals the name to each
	// lobby key, as a browser does.
	answer := func(k *testclient.Client, wantKeys int) (nonce string, sealed map[string][]byte) {
		var keys []lobbyKeyInfo
		conntest.Eventually(t, "the lobby keys at the knocker", func() bool {
			nonce, keys = lastLobby(k)
			return len(keys) == wantKeys
		})
		n, _ := e2ee.ParseKnockField(nonce)
		eph, _ := ecdh.X25519().GenerateKey(rand.Reader)
		sealed = map[string][]byte{}
		var names []map[string]string
		for _, lk := range keys {
			pub, _ := e2ee.ParseKnockField(lk.Pub)
			s, err := e2ee.SealKnockName(eph, pub, n, lk.From, name, nil)
			if err != nil {
				t.Fatal(err)
			}
			sealed[lk.From] = s
			names = append(names, map[string]string{"to": lk.From, "sealed": b64(s)})
		}
		proof := e2ee.KnockProof(ki, n, eph.PublicKey().Bytes())
		if _, err := k.Send("knock_proof", map[string]any{"nonce": nonce, "proof": e2ee.EncodeKnockField(proof), "eph": e2ee.EncodeKnockField(eph.PublicKey().Bytes()), "names": names}); err != nil {
			t.Fatal(err)
		}
		return nonce, sealed
	}
	opens := func(mod *testclient.Client, priv *ecdh.PrivateKey, nonce string) {
		t.Helper()
		var e sealedEntry
		conntest.Eventually(t, "the sealed name at "+mod.ParticipantID, func() bool {
			var ok bool
			e, ok = lastEntry(mod)
			return ok && e.KnockNonce == nonce && e.KnockName != ""
		})
		n, _ := e2ee.ParseKnockField(nonce)
		eph, _ := e2ee.ParseKnockField(e.KnockEph)
		sealed := unb64(t, e.KnockName)
		if got, err := e2ee.OpenKnockName(priv, eph, n, mod.ParticipantID, sealed); err != nil || got != name {
			t.Fatalf("%s opens %q, %v", mod.ParticipantID, got, err)
		}
		if e.Name != "" {
			t.Fatalf("the server gave the name %q", e.Name)
		}
	}

	mod1 := srv.joinModerator(t, mt, "Mod1")
	expectType(t, mod1, "waiting_list")
	priv1 := publish(mod1)
	k := srv.knock(t, mt.MeetingID, "Join-name Kim", nil)
	nonce1, _ := answer(k, 1)
	opens(mod1, priv1, nonce1)

	// A second moderator: a fresh nonce for the knock, with no proof and no name until
	// the knocker answers it, sealing its name to both.
	mod2 := srv.joinModerator(t, mt, "Mod2")
	priv2 := publish(mod2)
	conntest.Eventually(t, "a new nonce with both keys", func() bool { n, keys := lastLobby(k); return n != nonce1 && len(keys) == 2 })
	conntest.Eventually(t, "the renewed knock at the first moderator", func() bool {
		e, ok := lastEntry(mod1)
		return ok && e.KnockNonce != nonce1 && e.KnockProof == "" && e.KnockName == ""
	})
	nonce2, sealed := answer(k, 2)
	opens(mod1, priv1, nonce2)
	opens(mod2, priv2, nonce2)
	e1, _ := lastEntry(mod1)
	e2, _ := lastEntry(mod2)
	if !bytes.Equal(unb64(t, e1.KnockName), sealed[mod1.ParticipantID]) || !bytes.Equal(unb64(t, e2.KnockName), sealed[mod2.ParticipantID]) {
		t.Fatal("a moderator got another moderator's sealed name, or bytes the knocker did not send")
	}
	n2, _ := e2ee.ParseKnockField(nonce2)
	eph, _ := e2ee.ParseKnockField(e1.KnockEph)
	if _, err := e2ee.OpenKnockName(priv2, eph, n2, mod2.ParticipantID, unb64(t, e1.KnockName)); err == nil {
		t.Fatal("the second moderator opens the name sealed to the first")
	}
	for _, c := range []*testclient.Client{mod1, mod2, k} {
		for _, m := range c.All() {
			for _, s := range []string{name, "Join-name Kim"} { // spaces: never part of base64url
				if bytes.Contains(m.Raw, []byte(s)) {
					t.Fatalf("%q in a %s message", s, m.Type)
				}
			}
		}
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
