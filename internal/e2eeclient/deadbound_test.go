package e2eeclient

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// recorder is a Sender that keeps to whom each identity went ("" for everyone).
type recorder struct{ identityTo []string }

func (r *recorder) Send(typ string, payload any) (string, error) {
	if p, ok := payload.(map[string]string); ok && typ == "e2ee" {
		var msg keyMessage
		if json.Unmarshal([]byte(p["data"]), &msg) == nil && msg.T == "identity" {
			r.identityTo = append(r.identityTo, p["to"])
		}
	}
	return "", nil
}

// TestDeadIDsAreBoundedAsThePagesAre: the ids that left a member remembers are bounded
// by MaxDeadIDs, the web client's bound (e2ee/roster.js MAX_DEAD_IDS, read here so the
// two cannot drift), where the Go reference client remembered every one without end.
// Once full it takes no id it does not hold already (no identity goes to it), an id
// it held that leaves then is not remembered but never comes back, and an id that left
// before stays dead.
func TestDeadIDsAreBoundedAsThePagesAre(t *testing.T) {
	src, err := os.ReadFile("../../web/static/js/e2ee/roster.js")
	if err != nil {
		t.Fatal(err)
	}
	found := regexp.MustCompile(`export const MAX_DEAD_IDS = (\d+);`).FindSubmatch(src)
	if found == nil {
		t.Fatal("roster.js declares no MAX_DEAD_IDS")
	}
	if n, _ := strconv.Atoi(string(found[1])); n != MaxDeadIDs {
		t.Fatalf("the page remembers %d dead ids, the Go client %d", n, MaxDeadIDs)
	}

	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	out := &recorder{}
	m, err := New(secret, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start("self", []string{"early"}); err != nil {
		t.Fatal(err)
	}
	event := func(typ, id string) {
		t.Helper()
		var payload any = map[string]string{"participantId": id}
		if typ == "participant_joined" {
			payload = map[string]any{"participant": map[string]string{"id": id}}
		}
		b, _ := json.Marshal(payload)
		if err := m.Handle(typ, b); err != nil {
			t.Fatal(err)
		}
	}
	event("participant_joined", "first-to-leave")
	event("participant_left", "first-to-leave")
	for i := range MaxDeadIDs - 1 {
		id := fmt.Sprintf("gone-%d", i)
		event("participant_joined", id)
		event("participant_left", id)
	}
	if n := len(m.dead); n != MaxDeadIDs {
		t.Fatalf("%d dead ids remembered, want %d", n, MaxDeadIDs)
	}

	out.identityTo = nil
	event("participant_joined", "newcomer")
	event("participant_left", "early") // held since the welcome, leaves once full
	event("participant_joined", "early")
	event("participant_joined", "first-to-leave")
	if len(out.identityTo) != 0 {
		t.Errorf("once full, identities went to %q, want none", out.identityTo)
	}
	if n := len(m.dead); n != MaxDeadIDs {
		t.Errorf("%d dead ids remembered once full, want %d", n, MaxDeadIDs)
	}
	for _, id := range []string{"newcomer", "early", "first-to-leave"} {
		if _, ok := m.peers[id]; ok {
			t.Errorf("%s taken into the roster once full", id)
		}
	}
}
