package signaling_test

import (
	"encoding/json"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/signaling"
)

// gateICE is an ICE source whose next call, once armed, waits until the test opens the
// gate. An admitted knock's connection asks for its welcome's ICE servers after the
// policy let it in and before its welcome (handleEvent, completeJoin's argument), so
// the test holds it in that moment, without timers. It hands out fakeICE's credentials,
// and remembers those of the call it held (held, read once the gate is open).
type gateICE struct {
	fakeICE
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	held    atomic.Value // string: the username the held call handed out
}

func newGateICE() *gateICE {
	return &gateICE{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gateICE) ICEServers(now time.Time, member netip.Addr) []signaling.ICEServer {
	if g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.release
		servers := g.fakeICE.ICEServers(now, member)
		g.held.Store(servers[0].Username)
		return servers
	}
	return g.fakeICE.ICEServers(now, member)
}

func (g *gateICE) open() { g.once.Do(func() { close(g.release) }) }

// awaitHeld returns once the armed call is held (what: the connection that makes it,
// for the failure).
func (g *gateICE) awaitHeld(t *testing.T, what string) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(conntest.Wait):
		t.Fatal(what + " never asked for its welcome's ICE servers")
	}
}

// askedFrom reports whether a connection from addr asked for its welcome's ICE servers,
// which it does once it has set up its media.
func (g *gateICE) askedFrom(addr string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	want := netip.MustParseAddr(addr)
	for _, a := range g.members {
		if a == want {
			return true
		}
	}
	return false
}

// TestKnockAgainInTheMomentBeforeTheWelcome: a page whose path died knocks again in the
// moment between a moderator's admit of its old knock and that knock's welcome (the
// policy has let it in, its connection has yet to set up its media and be welcomed).
// The knock again takes the admission: its connection is welcomed as the admitted
// member (a first welcome; the others are told it joined, once), and the old connection
// is told "replaced" and welcomed never. It was judged as a new knock: the person
// waited to be let in a second time while the first admission's member, nobody behind
// it, stood in the roster until the heartbeat timeout and the resume grace ran out.
func TestKnockAgainInTheMomentBeforeTheWelcome(t *testing.T) {
	gate := newGateICE()
	srv := newTestServerWith(t, signaling.Config{ICE: gate})
	t.Cleanup(gate.open) // before the server's shutdown (cleanups run last first)
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	kim := srv.knock(t, mt.MeetingID, "Kim", nil)
	kimID := waitingID(t, mod, "Kim")
	secret := knockSecretOf(t, kim)

	gate.armed.Store(true)
	if _, err := mod.Send("admit", map[string]any{"participantId": kimID}); err != nil {
		t.Fatal(err)
	}
	gate.awaitHeld(t, "the admitted knock's connection") // let in by the policy; its welcome waits
	kim2 := srv.dial(t)
	_ = kim2.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Kim", "replaceKnock": secret})
	// The knock again has either taken the admission (and waits for the old connection
	// to let go) or been answered.
	conntest.Eventually(t, "the knock again decided", func() bool {
		return signaling.AdmissionTakenOver(srv.sig, mt.MeetingID, kimID) || len(kim2.All()) > 0
	})
	gate.open()

	m := nextOf(t, kim2, "welcome", "lobby", "bye", "error")
	if m.Type != "welcome" {
		t.Fatalf("the knock again: %s; want the admitted knock's welcome", m.Raw)
	}
	var w struct {
		ParticipantID string
		Resumed       bool
		ResumeSecret  string
	}
	_ = json.Unmarshal(m.Payload, &w)
	if w.ParticipantID != kimID || w.Resumed || w.ResumeSecret == "" {
		t.Fatalf("welcome %+v: want the admitted knock's membership %s, a first welcome", w, kimID)
	}
	if reason, code := byeReason(t, kim); reason != "replaced" || code != signaling.CloseEjected {
		t.Fatalf("the old connection: bye %q close %d", reason, code)
	}
	for _, m := range kim.All() {
		if m.Type == "welcome" {
			t.Fatalf("the old connection was welcomed too: %s", m.Raw)
		}
	}

	// Everything the moderator is told of it has come once the page's first message
	// after its welcome has reached the moderator (one connection's messages arrive in
	// order, and the server handles the page's messages in order).
	if _, err := kim2.Send("media_state", map[string]any{"mic": false, "camera": true, "screen": false}); err != nil {
		t.Fatal(err)
	}
	expectType(t, mod, "participant_updated")
	joined := 0
	for _, m := range mod.All() {
		switch m.Type {
		case "participant_joined":
			if p := participantOf(t, m); p.ID != kimID || p.Name != "Kim" {
				t.Fatalf("the moderator was told %s joined; want only %s", m.Raw, kimID)
			}
			joined++
		case "participant_resumed", "participant_left":
			t.Fatalf("the moderator was told %s", m.Raw)
		case "waiting_list":
			var p struct{ Waiting []waitingEntry }
			_ = json.Unmarshal(m.Payload, &p)
			for _, e := range p.Waiting {
				if e.ParticipantID != kimID {
					t.Fatalf("the knock again waited as a new knock: %s", m.Raw)
				}
			}
		}
	}
	if joined != 1 {
		t.Fatalf("the moderator was told %d times that Kim joined; want once", joined)
	}
	// The TURN credentials made for the old connection's welcome, which never went out,
	// are revoked (the TURN server counts a member at their address until then); those
	// of the welcome that went out are not.
	if held, _ := gate.held.Load().(string); held == "" || !gate.revokedOnce(held) {
		t.Fatalf("the credentials made for the old connection's welcome (%q) were not revoked", held)
	}
	if kept := welcomeICE(t, m.Payload); len(kept) != 1 || gate.revokedOnce(kept[0].Username) {
		t.Fatalf("the welcome's credentials %+v revoked", kept)
	}
}
