package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"conclave/internal/browsertest"
	"conclave/internal/testclient"
)

// TestForgedIdentityGetsNoKeys: a client without the meeting secret (a Go client, as a
// malicious server or an outsider with a bare link would be) publishes a public key with
// a forged tag. The browsers answer with their public identities at most, never with a
// media key, and show the intruder as unverified.
func TestForgedIdentityGetsNoKeys(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	ctx, cancel := testContext()
	defer cancel()
	ann := joinAt(ctx, t, srv, browsertest.KindChromium, links, "Ann", links.fragment(), false)
	bob := joinAt(ctx, t, srv, browsertest.KindChromium, links, "Bob", links.fragment(), false)
	waitSameColour(ctx, t, ann, bob, "camera")

	c, err := testclient.Dial(ctx, "ws"+strings.TrimPrefix(srv.url, "http")+"/ws")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Join(ctx, links.MeetingID, "e1.Zm9yZ2Vk"); err != nil {
		t.Fatal(err)
	}
	random := func(n int) string {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	identity, _ := json.Marshal(map[string]any{"v": 3, "t": "identity", "pub": random(32), "tag": random(32)})
	if _, err := c.Send("e2ee", map[string]any{"data": string(identity)}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*participant{ann, bob} {
		js := `window.conclave.e2ee.unverified().includes(` + jsString(c.ParticipantID) + `) && !!document.querySelector('.e2ee-unverified[data-participant-id="` + c.ParticipantID + `"]')`
		if err := p.tab.WaitFor(ctx, js); err != nil {
			t.Fatalf("%s does not show the forged participant as unverified: %v", p.name, err)
		}
	}
	time.Sleep(2 * time.Second) // time for any (wrong) key message to arrive
	for _, m := range c.All() {
		if m.Type != "e2ee" {
			continue
		}
		var p struct{ From, Data string }
		_ = json.Unmarshal(m.Payload, &p)
		var d struct{ T string }
		_ = json.Unmarshal([]byte(p.Data), &d)
		if d.T != "identity" {
			t.Fatalf("the forged participant received a %q key message from %s", d.T, p.From)
		}
	}
	// The two real participants still see each other.
	waitSameColour(ctx, t, bob, ann, "camera")
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
