package signaling_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"conclave/e2ee"
	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

type waitingKnock struct {
	ParticipantID string `json:"participantId"`
	Name          string `json:"name"`
	KnockNonce    string `json:"knockNonce"`
	KnockProof    string `json:"knockProof"`
}

// waitingLists returns every waiting_list c received, in order.
func waitingLists(c *testclient.Client) [][]waitingKnock {
	var out [][]waitingKnock
	for _, m := range c.All() {
		if m.Type != "waiting_list" {
			continue
		}
		var p struct{ Waiting []waitingKnock }
		_ = json.Unmarshal(m.Payload, &p)
		out = append(out, p.Waiting)
	}
	return out
}

// knockEntry returns name's entry in the last waiting list c received.
func knockEntry(c *testclient.Client, name string) (waitingKnock, bool) {
	lists := waitingLists(c)
	if len(lists) == 0 {
		return waitingKnock{}, false
	}
	for _, w := range lists[len(lists)-1] {
		if knockerName(c, w.Name, w.KnockNonce) == name {
			return w, true
		}
	}
	return waitingKnock{}, false
}

// lobbyNonce returns the knockNonce of the first lobby message c received.
func lobbyNonce(t *testing.T, c *testclient.Client) string {
	t.Helper()
	for _, m := range c.All() {
		if m.Type == "lobby" {
			var p struct{ KnockNonce string }
			_ = json.Unmarshal(m.Payload, &p)
			return p.KnockNonce
		}
	}
	t.Fatal("no lobby message")
	return ""
}

// TestKnockProofPassesThroughUnjudged: in an end-to-end encrypted meeting each knock gets
// its own 32-byte nonce, and whatever well-formed proof the knocker sends reaches every
// moderator with that nonce as it was sent: a right proof and one made under another
// link alike, since the server has no key to tell them apart. A moderator who arrives
// later gets the proofs too.
func TestKnockProofPassesThroughUnjudged(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`)
	mod := srv.joinModerator(t, mt, "Mod")
	expectType(t, mod, "waiting_list")
	right := srv.knock(t, mt.MeetingID, "Right", nil)
	wrong := srv.knock(t, mt.MeetingID, "Wrong", nil)

	rightNonce, wrongNonce := lobbyNonce(t, right), lobbyNonce(t, wrong)
	for _, n := range []string{rightNonce, wrongNonce} {
		if _, err := e2ee.ParseKnockField(n); err != nil {
			t.Fatalf("nonce %q: %v", n, err)
		}
	}
	if rightNonce == wrongNonce {
		t.Fatal("two knocks share a nonce")
	}
	conntest.Eventually(t, "both knocks with their nonces and no proof", func() bool {
		r, ok1 := knockEntry(mod, "Right")
		w, ok2 := knockEntry(mod, "Wrong")
		return ok1 && ok2 && r.KnockNonce == rightNonce && w.KnockNonce == wrongNonce && r.KnockProof == "" && w.KnockProof == ""
	})

	ki, _ := e2ee.DeriveMeetingKeys(bytes.Repeat([]byte{1}, 16))
	otherKI, _ := e2ee.DeriveMeetingKeys(bytes.Repeat([]byte{2}, 16))
	eph := bytes.Repeat([]byte{9}, 32)
	proof := func(key []byte, nonce string) string {
		n, _ := e2ee.ParseKnockField(nonce)
		return e2ee.EncodeKnockField(e2ee.KnockProof(key, n, eph))
	}
	rightProof, wrongProof := proof(ki, rightNonce), proof(otherKI, wrongNonce)
	ephField := e2ee.EncodeKnockField(eph)
	if _, err := right.Send("knock_proof", map[string]any{"nonce": rightNonce, "proof": rightProof, "eph": ephField}); err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Send("knock_proof", map[string]any{"nonce": wrongNonce, "proof": wrongProof, "eph": ephField}); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "both proofs at the moderator", func() bool {
		r, _ := knockEntry(mod, "Right")
		w, _ := knockEntry(mod, "Wrong")
		return r.KnockProof == rightProof && w.KnockProof == wrongProof
	})

	// A second moderator gets the list with the proofs in its first waiting_list.
	mod2 := srv.joinModerator(t, mt, "Mod2")
	expectType(t, mod2, "waiting_list")
	r, _ := knockEntry(mod2, "Right")
	w, _ := knockEntry(mod2, "Wrong")
	if r.KnockNonce != rightNonce || r.KnockProof != rightProof || w.KnockProof != wrongProof {
		t.Fatalf("the second moderator sees %+v and %+v", r, w)
	}
	// The knockers were told nothing else (no error), and admitting the wrong one works.
	for _, c := range []*testclient.Client{right, wrong} {
		for _, m := range c.All() {
			if m.Type != "lobby" {
				t.Fatalf("a knocker got %s", m.Raw)
			}
		}
	}
	if _, err := mod.Send("admit", map[string]any{"participantId": w.ParticipantID}); err != nil {
		t.Fatal(err)
	}
	expectType(t, wrong, "welcome")
}

// TestKnockProofRefusals: a malformed proof, a proof of the wrong shape, a second proof,
// a proof in a meeting without end-to-end encryption and a proof from a member are each
// refused with their code and change nothing: the moderator gets no waiting list for
// them, and the knock's one proof still goes through afterwards.
func TestKnockProofRefusals(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`)
	mod := srv.joinModerator(t, mt, "Mod")
	expectType(t, mod, "waiting_list")
	k := srv.knock(t, mt.MeetingID, "Kim", nil)
	conntest.Eventually(t, "Kim waiting", func() bool { _, ok := knockEntry(mod, "Kim"); return ok })
	kn := lobbyNonce(t, k)
	before := len(waitingLists(mod))

	good := e2ee.EncodeKnockField(bytes.Repeat([]byte{7}, 32))
	sealed := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{5}, 40))
	var tooMany []any
	for i := range signaling.MaxKnockNames + 1 {
		tooMany = append(tooMany, map[string]any{"to": fmt.Sprint("p-", i), "sealed": sealed})
	}
	// At most 19: the 20th refusal in a row closes the connection (too_many_errors). The
	// fields' other spellings are FuzzParseKnockProof's seeds.
	refusals := []struct {
		payload any
		code    string
	}{
		{map[string]any{}, "invalid_field"},
		{map[string]any{"nonce": good, "proof": good, "eph": good}, "invalid_field"}, // not this knock's nonce
		{map[string]any{"proof": good, "eph": good}, "invalid_field"},
		{map[string]any{"nonce": kn, "proof": good[:42], "eph": good}, "invalid_field"},
		{map[string]any{"nonce": kn, "proof": good + "A", "eph": good}, "invalid_field"},
		{map[string]any{"nonce": kn, "proof": strings.Repeat("A", 42) + "B", "eph": good}, "invalid_field"}, // not canonical
		{map[string]any{"nonce": kn, "proof": strings.Repeat("A", 4000), "eph": good}, "invalid_field"},
		{map[string]any{"nonce": kn, "proof": 5, "eph": good}, "bad_message"},
		{map[string]any{"nonce": kn, "proof": []string{good}, "eph": good}, "bad_message"},
		// The ephemeral key and the sealed names (e2ee/FORMAT.md, "Names").
		{map[string]any{"nonce": kn, "proof": good}, "invalid_field"},
		{map[string]any{"nonce": kn, "proof": good, "eph": good[:42]}, "invalid_field"},
		{map[string]any{"nonce": kn, "proof": good, "eph": good, "names": "Kim"}, "bad_message"},
		{map[string]any{"nonce": kn, "proof": good, "eph": good, "names": []any{map[string]any{"to": "p-mod", "sealed": "AAAA"}}}, "invalid_field"},
		{map[string]any{"nonce": kn, "proof": good, "eph": good, "names": []any{map[string]any{"to": "p-mod", "sealed": sealed + "="}}}, "invalid_field"},
		{map[string]any{"nonce": kn, "proof": good, "eph": good, "names": []any{map[string]any{"to": "p-mod", "sealed": strings.Repeat("A", 400)}}}, "invalid_field"},
		{map[string]any{"nonce": kn, "proof": good, "eph": good, "names": []any{map[string]any{"to": "", "sealed": sealed}}}, "invalid_field"},
		{map[string]any{"nonce": kn, "proof": good, "eph": good, "names": []any{map[string]any{"to": "p-a", "sealed": sealed}, map[string]any{"to": "p-a", "sealed": sealed}}}, "invalid_field"},
		{map[string]any{"nonce": kn, "proof": good, "eph": good, "names": tooMany}, "invalid_field"},
	}
	for i, r := range refusals {
		id, err := k.Send("knock_proof", r.payload)
		if err != nil {
			t.Fatal(err)
		}
		code, ref := expectError(t, k)
		if code != r.code || ref != id {
			t.Fatalf("refusal %d (%v): %s ref %q, want %s ref %q", i, r.payload, code, ref, r.code, id)
		}
	}
	if _, err := k.Send("knock_proof", map[string]any{"nonce": kn, "proof": good, "eph": good}); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the good proof at the moderator", func() bool { e, _ := knockEntry(mod, "Kim"); return e.KnockProof == good })
	if n := len(waitingLists(mod)) - before; n != 1 {
		t.Fatalf("the moderator got %d waiting lists for one accepted proof and %d refused ones", n, len(refusals))
	}
	// A second proof is refused, and the first one stays.
	other := e2ee.EncodeKnockField(bytes.Repeat([]byte{8}, 32))
	if _, err := k.Send("knock_proof", map[string]any{"nonce": kn, "proof": other, "eph": good}); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, k); code != "invalid_field" {
		t.Fatalf("second proof: %s", code)
	}
	if _, err := mod.Send("admit", map[string]any{"participantId": waitingID(t, mod, "Kim")}); err != nil {
		t.Fatal(err)
	}
	expectType(t, k, "welcome")
	// The proof's list and the admission's (which reaches the moderator in its own time);
	// the refused second proof sent none before it.
	conntest.Eventually(t, "the waiting list after the admission", func() bool { return len(waitingLists(mod))-before >= 2 })
	if lists := waitingLists(mod); len(lists)-before != 2 || len(lists[len(lists)-1]) != 0 {
		t.Fatalf("the moderator got %d waiting lists, the last %+v", len(lists)-before, lists[len(lists)-1])
	}
	// A member may not send one.
	if _, err := k.Send("knock_proof", map[string]any{"nonce": kn, "proof": good, "eph": good}); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, k); code != "not_allowed_in_state" {
		t.Fatalf("a member's proof: %s", code)
	}

	// Without end-to-end encryption there is no nonce and no proof.
	plain := srv.createMeetingWith(t, `{"e2ee":false}`)
	pmod := srv.joinModerator(t, plain, "PlainMod")
	expectType(t, pmod, "waiting_list")
	pk := srv.knock(t, plain.MeetingID, "Pia", nil)
	if n := lobbyNonce(t, pk); n != "" {
		t.Fatalf("a meeting without e2ee sends the nonce %q", n)
	}
	if _, err := pk.Send("knock_proof", map[string]any{"nonce": good, "proof": good, "eph": good}); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, pk); code != "not_allowed" {
		t.Fatalf("a proof without e2ee: %s", code)
	}
	e, _ := knockEntry(pmod, "Pia")
	if e.KnockNonce != "" || e.KnockProof != "" {
		t.Fatalf("a meeting without e2ee lists %+v", e)
	}
}

// FuzzParseKnockProof: the parser never panics, every refusal is one of its typed
// errors, and what it takes is a proof of 32 bytes in its one spelling.
func FuzzParseKnockProof(f *testing.F) {
	good := e2ee.EncodeKnockField(bytes.Repeat([]byte{7}, 32))
	sealed := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{5}, 40))
	for _, s := range []string{
		`{"nonce":"` + good + `","proof":"` + good + `","eph":"` + good + `"}`, `{}`, `{"proof":5}`, `{"proof":null}`, `null`, ``, `[]`,
		`{"proof":"` + good + `A"}`, `{"proof":"` + good[:42] + `B"}`, `{"nonce":"` + good + `","proof":"` + good + `","eph":"` + good + `","x":1}`,
		`{"nonce":"` + good + `","proof":"` + good + `","eph":"` + good + `","names":[{"to":"p-m","sealed":"` + sealed + `"}]}`,
		`{"nonce":"` + good + `","proof":"` + good + `","eph":"` + good + `","names":[{"to":"p-m","sealed":"` + sealed + `"},{"to":"p-m","sealed":"` + sealed + `"}]}`,
		`{"nonce":"` + good + `","proof":"` + good + `","eph":"` + good + `","names":[{"to":"p\u0000m","sealed":"` + sealed + `"}]}`,
		`{"nonce":"` + good + `","proof":"` + good + `","eph":"` + good + `","names":{"to":"p-m"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		p, err := signaling.ParseKnockProof(payload)
		if err != nil {
			if !errors.Is(err, signaling.ErrKnockProofShape) && !errors.Is(err, signaling.ErrKnockProofField) && !errors.Is(err, signaling.ErrKnockNames) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, f := range []string{p.Nonce, p.Proof, p.Eph} {
			b, perr := e2ee.ParseKnockField(f)
			if perr != nil || len(b) != 32 || e2ee.EncodeKnockField(b) != f {
				t.Fatalf("took %q", f)
			}
		}
		if len(p.Names) > signaling.MaxKnockNames {
			t.Fatalf("took %d names", len(p.Names))
		}
		seen := map[string]bool{}
		for _, n := range p.Names {
			b, derr := base64.RawURLEncoding.Strict().DecodeString(n.Sealed)
			if seen[n.To] || !e2ee.ValidID(n.To) || derr != nil || len(b) < e2ee.MinSealedNameSize || len(b) > e2ee.MaxSealedNameSize {
				t.Fatalf("took the name %+v", n)
			}
			seen[n.To] = true
		}
	})
}
