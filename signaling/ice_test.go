package signaling_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"conclave/signaling"
)

// fakeICE hands out numbered credentials and remembers the times it was asked at.
type fakeICE struct {
	mu    sync.Mutex
	calls []time.Time
}

func (f *fakeICE) ICEServers(now time.Time) []signaling.ICEServer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, now)
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
	if _, err := c.Send("join", map[string]any{"version": 1, "e2ee": 5, "meetingId": meeting, "name": name,
		"media": map[string]any{"mic": false, "camera": false, "screen": false}}); err != nil {
		t.Fatal(err)
	}
	return expectType(t, c, "welcome").Payload
}
