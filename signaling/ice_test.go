package signaling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"conclave/internal/testclient"
	"conclave/signaling"
)

// fakeICE hands out numbered credentials and remembers the times it was asked at and
// the usernames revoked.
type fakeICE struct {
	mu      sync.Mutex
	calls   []time.Time
	members []netip.Addr
	revoked []string
}

func (f *fakeICE) Revoke(servers []signaling.ICEServer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range servers {
		f.revoked = append(f.revoked, s.Username)
	}
}

// revokedOnce reports whether username was revoked, exactly once.
func (f *fakeICE) revokedOnce(username string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, u := range f.revoked {
		if u == username {
			n++
		}
	}
	return n == 1
}

func (f *fakeICE) ICEServers(now time.Time, member netip.Addr) []signaling.ICEServer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, now)
	f.members = append(f.members, member)
	return []signaling.ICEServer{{
		URLs:       []string{"turn:192.0.2.1:3478?transport=udp", "turn:192.0.2.1:3478?transport=tcp"},
		Username:   fmt.Sprintf("%d:user%d", now.Unix(), len(f.calls)),
		Credential: fmt.Sprintf("secret%d", len(f.calls)),
	}}
}

func welcomeICE(t *testing.T, raw json.RawMessage) []signaling.ICEServer {
	t.Helper()
	var w struct {
		ICEServers []signaling.ICEServer `json:"iceServers"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatal(err)
	}
	return w.ICEServers
}

// TestWelcomeCarriesFreshICEServers: with TURN on, every welcome carries the ICE
// servers with credentials made for it, at the server's clock.
func TestWelcomeCarriesFreshICEServers(t *testing.T) {
	clock := newFakeClock()
	ice := &fakeICE{}
	srv := newTestServerWith(t, signaling.Config{Clock: clock, ICE: ice})
	m := srv.createMeeting(t)
	var got [][]signaling.ICEServer
	for _, name := range []string{"Ann", "Ben"} {
		got = append(got, welcomeICE(t, joinWelcome(t, srv, m, name)))
	}
	for i, servers := range got {
		if len(servers) != 1 || len(servers[0].URLs) != 2 || servers[0].Credential != fmt.Sprintf("secret%d", i+1) {
			t.Fatalf("welcome %d iceServers = %+v", i, servers)
		}
	}
	if got[0][0].Username == got[1][0].Username {
		t.Fatal("two welcomes share credentials")
	}
	ice.mu.Lock()
	defer ice.mu.Unlock()
	for _, at := range ice.calls {
		if !at.Equal(clock.Now()) {
			t.Fatalf("asked at %v, the server clock says %v", at, clock.Now())
		}
	}
	// The TURN server is told each member's address (its websocket's), whose first
	// relays it answers beyond the bound in all that forged requests spend.
	for i, member := range ice.members {
		if member != netip.MustParseAddr("127.0.0.1") {
			t.Fatalf("welcome %d: the TURN server was told the member is at %v, want 127.0.0.1", i, member)
		}
	}
}

// TestWelcomeWithoutTURNHasNoICEServers: without TURN the field is absent.
func TestWelcomeWithoutTURNHasNoICEServers(t *testing.T) {
	srv := newTestServer(t)
	if servers := welcomeICE(t, joinWelcome(t, srv, srv.createMeeting(t), "Ann")); servers != nil {
		t.Fatalf("iceServers = %+v", servers)
	}
}

// joinWelcome joins name to meeting and returns the welcome's payload.
func joinWelcome(t *testing.T, srv *testServer, meeting, name string) json.RawMessage {
	t.Helper()
	c := srv.dial(t)
	if _, err := c.Send("join", map[string]any{"version": 1, "e2ee": 6, "meetingId": meeting, "name": name,
		"media": map[string]any{"mic": false, "camera": false, "screen": false}}); err != nil {
		t.Fatal(err)
	}
	return expectType(t, c, "welcome").Payload
}

// TestTURNCredentialsEndWithTheMembership: the TURN credentials of a member's welcome
// are revoked when it is a member no more (it left, was removed or sent back to the
// waiting room, the meeting ended), before it or the others are told, and not before:
// a relay outlived its member, and a removed person kept relaying for as long as its
// client refreshed the allocation.
func TestTURNCredentialsEndWithTheMembership(t *testing.T) {
	ice := &fakeICE{}
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), ICE: ice})
	mt := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	mod := srv.joinModerator(t, mt, "Mod")
	username := func(c *testclient.Client) string {
		t.Helper()
		servers := welcomeOf(t, c).ICEServers
		if len(servers) != 1 || servers[0].Username == "" {
			t.Fatalf("iceServers = %+v", servers)
		}
		return servers[0].Username
	}
	members := map[string]*testclient.Client{}
	for _, name := range []string{"Ann", "Bo", "Cy", "Dee"} {
		members[name] = srv.join(t, mt.MeetingID, name)
		expectType(t, mod, "participant_joined")
	}
	stillIn := func(names ...string) {
		t.Helper()
		for _, name := range names {
			if ice.revokedOnce(username(members[name])) {
				t.Fatalf("%s's credentials were revoked while it is in the meeting", name)
			}
		}
	}
	gone := func(name string) {
		t.Helper()
		if !ice.revokedOnce(username(members[name])) {
			t.Fatalf("%s is gone, its TURN credentials were not revoked (once)", name)
		}
	}
	stillIn("Ann", "Bo", "Cy", "Dee")

	if _, err := mod.Send("remove", map[string]any{"participantId": welcomeOf(t, members["Bo"]).ParticipantID}); err != nil {
		t.Fatal(err)
	}
	if reason, _ := byeReason(t, members["Bo"]); reason != "removed" {
		t.Fatalf("bye %q", reason)
	}
	gone("Bo")
	if _, err := mod.Send("send_to_lobby", map[string]any{"participantId": welcomeOf(t, members["Cy"]).ParticipantID}); err != nil {
		t.Fatal(err)
	}
	if reason, _ := byeReason(t, members["Cy"]); reason != "sent_to_lobby" {
		t.Fatalf("bye %q", reason)
	}
	gone("Cy")
	stillIn("Ann", "Dee")
	if _, err := members["Ann"].Send("leave", nil); err != nil {
		t.Fatal(err)
	}
	annLeft := false
	for i := 0; i < 3 && !annLeft; i++ { // Bo's and Cy's may come first
		var p signaling.ParticipantLeftPayload
		_ = json.Unmarshal(expectType(t, mod, "participant_left").Payload, &p)
		annLeft = p.ParticipantID == welcomeOf(t, members["Ann"]).ParticipantID
	}
	if !annLeft {
		t.Fatal("the moderator was not told that Ann left")
	}
	gone("Ann")
	stillIn("Dee")
	if ice.revokedOnce(username(mod)) {
		t.Fatal("the moderator's credentials were revoked")
	}

	if _, err := mod.Send("end_meeting", nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testclient.Client{mod, members["Dee"]} {
		if reason, _ := byeReason(t, c); reason != "ended" {
			t.Fatalf("bye %q", reason)
		}
	}
	gone("Dee")
	members["Mod"] = mod
	gone("Mod")
}

// TestResumeEndsTheLastConnectionsTURN: a resume's welcome carries new TURN
// credentials, and those of the connection it replaced are revoked (its media went
// with it); the new ones live on until the membership ends. Kept, every resume (one
// every 10 s after the first five, taking over a live connection with the member's secret) added
// credentials for 16 relays each, refreshed for as long as the member stayed: one
// member of a meeting without a waiting room filled the server's 2000 relays.
func TestResumeEndsTheLastConnectionsTURN(t *testing.T) {
	ice := &fakeICE{}
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), ICE: ice, ResumeGrace: testGrace})
	mt := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	mod := srv.joinModerator(t, mt, "Mod")
	c := srv.join(t, mt.MeetingID, "Ann")
	expectType(t, mod, "participant_joined")
	w := welcomeOf(t, c)
	user := w.ICEServers[0].Username
	for i := range 3 {
		next := srv.dial(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := next.Resume(ctx, mt.MeetingID, w.ParticipantID, w.ResumeSecret) // c is still connected
		cancel()
		if err != nil {
			t.Fatalf("resume %d: %v", i+1, err)
		}
		<-c.Done() // replaced
		rw := welcomeOf(t, next)
		if len(rw.ICEServers) != 1 || rw.ICEServers[0].Username == user {
			t.Fatalf("resume %d: iceServers %+v", i+1, rw.ICEServers)
		}
		if !ice.revokedOnce(user) {
			t.Fatalf("resume %d: the replaced connection's TURN credentials were not revoked (once)", i+1)
		}
		if ice.revokedOnce(rw.ICEServers[0].Username) {
			t.Fatalf("resume %d: the new credentials were revoked", i+1)
		}
		c, user = next, rw.ICEServers[0].Username
		w.ResumeSecret = rw.ResumeSecret
	}
	if _, err := c.Send("leave", nil); err != nil {
		t.Fatal(err)
	}
	var left signaling.ParticipantLeftPayload
	_ = json.Unmarshal(expectType(t, mod, "participant_left").Payload, &left)
	if left.ParticipantID != w.ParticipantID || !ice.revokedOnce(user) {
		t.Fatalf("Ann left (%q), her last credentials were not revoked (once)", left.ParticipantID)
	}
}

// TestResumeRemovedBeforeItsWelcomeRevokesItsCredentials: a resume whose member a
// moderator removes in the moment before its welcome (its connection holds the
// membership and has asked for its welcome's ICE servers) is welcomed never, and the
// TURN credentials made for that welcome are revoked with those of the connection
// before it: handed to nobody, they opened no relay, but the TURN server counts a
// member at the address they were made for until they are revoked, and nothing else
// would revoke them.
func TestResumeRemovedBeforeItsWelcomeRevokesItsCredentials(t *testing.T) {
	gate := newGateICE()
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), ICE: gate, ResumeGrace: testGrace})
	t.Cleanup(gate.open) // before the server's shutdown (cleanups run last first)
	mt := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	mod := srv.joinModerator(t, mt, "Mod")
	ann := srv.join(t, mt.MeetingID, "Ann")
	expectType(t, mod, "participant_joined")
	w := welcomeOf(t, ann)
	first := w.ICEServers[0].Username

	gate.armed.Store(true)
	back := srv.dial(t)
	if err := back.SendResume(mt.MeetingID, w.ParticipantID, w.ResumeSecret, nil); err != nil {
		t.Fatal(err)
	}
	gate.awaitHeld(t, "the resume") // it holds the membership; its welcome waits
	if _, err := mod.Send("remove", map[string]any{"participantId": w.ParticipantID}); err != nil {
		t.Fatal(err)
	}
	var left signaling.ParticipantLeftPayload
	_ = json.Unmarshal(expectType(t, mod, "participant_left").Payload, &left)
	if left.ParticipantID != w.ParticipantID {
		t.Fatalf("participant_left %+v, want Ann's", left)
	}
	gate.open()
	// The removal reaches the resume's connection once its welcome was given up.
	if reason, _ := byeReason(t, back); reason != "removed" {
		t.Fatalf("the resume: bye %q, want removed", reason)
	}
	for _, m := range back.All() {
		if m.Type == "welcome" {
			t.Fatalf("the removed member's resume was welcomed: %s", m.Raw)
		}
	}
	if !gate.revokedOnce(first) {
		t.Fatalf("the credentials of Ann's first welcome (%q) were not revoked (once)", first)
	}
	if held, _ := gate.held.Load().(string); held == "" || !gate.revokedOnce(held) {
		t.Fatalf("the credentials made for the resume's welcome (%q), which never went out, were not revoked", held)
	}
}
