package signaling_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"conclave/internal/testclient"
	"conclave/secret"
	"conclave/signaling"
	"conclave/store"
)

// otherHostKey belongs to a second host, who must never see the test host's rooms.
const otherHostKey = "otherhost." + "YW5vdGhlci1ob3N0LXNlY3JldA"

func otherHost() signaling.Host {
	return signaling.Host{ID: "otherhost", Name: "other", KeyHash: secret.KeyedHash(strings.TrimPrefix(otherHostKey, "otherhost."))}
}

// roomView mirrors the API's view of a room.
type roomView struct {
	ID          string         `json:"id"`
	Title       string         `json:"title"`
	Settings    store.Settings `json:"settings"`
	E2EE        bool           `json:"e2ee"`
	PasswordSet bool           `json:"passwordSet"`
	Created     time.Time      `json:"created"`
	Expires     *time.Time     `json:"expires"`
	URL         string         `json:"url"`
}

type roomCreated struct {
	Room            roomView `json:"room"`
	ModeratorSecret string   `json:"moderatorSecret"`
}

// api sends one request to the rooms API as the holder of key ("" for none).
func (s *testServer) api(t testing.TB, method, path, body, key string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// apiJSON is api expecting status want, decoding the answer into out (when not nil).
func (s *testServer) apiJSON(t testing.TB, method, path, body string, want int, out any) {
	t.Helper()
	code, b := s.api(t, method, path, body, testHostKey)
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

func (s *testServer) createRoom(t testing.TB, body string) roomCreated {
	t.Helper()
	var out roomCreated
	s.apiJSON(t, http.MethodPost, "/api/rooms", body, http.StatusCreated, &out)
	return out
}

// welcomeOf returns the welcome c received.
func welcomeOf(t testing.TB, c *testclient.Client) signaling.WelcomePayload {
	t.Helper()
	for _, m := range c.All() {
		if m.Type == "welcome" {
			var w signaling.WelcomePayload
			if err := json.Unmarshal(m.Payload, &w); err != nil {
				t.Fatal(err)
			}
			return w
		}
	}
	t.Fatal("no welcome received")
	return signaling.WelcomePayload{}
}

func joinRoomAsModerator(t *testing.T, s *testServer, id, modSecret, name string) *testclient.Client {
	t.Helper()
	return s.joinModerator(t, createdMeeting{MeetingID: id, ModeratorSecret: modSecret}, name)
}

// refusedUnknown checks that a join of id is answered unknown_meeting.
func refusedUnknown(t *testing.T, s *testServer, id string, extra map[string]any) {
	t.Helper()
	c := s.dial(t)
	fields := map[string]any{"meetingId": id, "name": "Late"}
	for k, v := range extra {
		fields[k] = v
	}
	_ = c.SendJoin(fields)
	if code, _ := expectError(t, c); code != "unknown_meeting" {
		t.Fatalf("join of %s: %s, want unknown_meeting", id, code)
	}
}

// TestRoomsAPI: a host creates a room (with its own id and moderator secret, or the
// server's), lists it, reads it, changes it; a meeting made from it has its settings,
// password and moderator secret.
func TestRoomsAPI(t *testing.T) {
	srv := newTestServer(t)
	ownID, ownSecret := secret.Random(16), secret.Random(16)
	a := srv.createRoom(t, `{"id":"`+ownID+`","moderatorSecret":"`+ownSecret+`","title":"e1.abc.def","settings":{"lobby":false,"chat":false},"password":"pw","extra":"ignored"}`)
	if a.Room.ID != ownID || a.ModeratorSecret != "" || a.Room.URL != "/m/"+ownID || a.Room.Title != "e1.abc.def" ||
		!a.Room.PasswordSet || !a.Room.E2EE || a.Room.Settings.Lobby || a.Room.Settings.Chat || !a.Room.Settings.Unmute || a.Room.Expires != nil {
		t.Fatalf("created %+v", a)
	}
	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	b := srv.createRoom(t, `{"e2ee":false,"expires":"`+expires.Format(time.RFC3339)+`"}`)
	if len(b.ModeratorSecret) < 22 || b.Room.E2EE || b.Room.PasswordSet || b.Room.Expires == nil || !b.Room.Expires.Equal(expires) || !b.Room.Settings.Lobby {
		t.Fatalf("created %+v", b)
	}

	var list struct{ Rooms []roomView }
	srv.apiJSON(t, http.MethodGet, "/api/rooms", "", http.StatusOK, &list)
	if len(list.Rooms) != 2 {
		t.Fatalf("list %+v", list)
	}
	var got roomView
	srv.apiJSON(t, http.MethodGet, "/api/rooms/"+ownID, "", http.StatusOK, &got)
	if got.ID != ownID || got.Title != "e1.abc.def" {
		t.Fatalf("get %+v", got)
	}
	code, body := srv.api(t, http.MethodGet, "/api/rooms/"+ownID, "", testHostKey)
	if code != http.StatusOK || strings.Contains(string(body), "argon2") || strings.Contains(string(body), "hmac") {
		t.Fatalf("the view shows a hash: %s", body)
	}

	// The meeting made from the room: no waiting room, chat off, password asked.
	mod := joinRoomAsModerator(t, srv, ownID, ownSecret, "Mod")
	if w := welcomeOf(t, mod); w.Settings.Lobby || w.Settings.Chat || !w.Settings.PasswordRequired || !w.E2EE {
		t.Fatalf("welcome %+v", w)
	}
	guest := srv.dial(t)
	_ = guest.SendJoin(map[string]any{"meetingId": ownID, "name": "Guest"})
	if code, _ := expectError(t, guest); code != "password_required" {
		t.Fatalf("join without password: %s", code)
	}
	g := inWith(t, srv, ownID, "Guest", map[string]any{"password": "pw"})

	// A change applies to the room, not to the meeting going on: its moderators change
	// that one in the meeting. The next meeting starts from the changed room.
	var patched roomView
	srv.apiJSON(t, http.MethodPatch, "/api/rooms/"+ownID, `{"password":"","settings":{"chat":true},"title":"e1.new"}`, http.StatusOK, &patched)
	if patched.PasswordSet || !patched.Settings.Chat || patched.Settings.Lobby || patched.Title != "e1.new" || patched.ID != ownID {
		t.Fatalf("patched %+v", patched)
	}
	late := srv.dial(t)
	_ = late.SendJoin(map[string]any{"meetingId": ownID, "name": "Late"})
	if code, _ := expectError(t, late); code != "password_required" {
		t.Fatalf("the live meeting took the room's change: %s", code)
	}
	for _, c := range []*testclient.Client{mod, g, late} {
		c.Close()
	}
	closeAll(t, srv, ownID)
	next := inWith(t, srv, ownID, "Next", nil)
	if w := welcomeOf(t, next); w.Settings.PasswordRequired || !w.Settings.Chat {
		t.Fatalf("the next meeting: %+v", w.Settings)
	}

	srv.apiJSON(t, http.MethodPatch, "/api/rooms/"+b.Room.ID, `{"expires":null}`, http.StatusOK, &patched)
	if patched.Expires != nil {
		t.Fatalf("expires null left %v", patched.Expires)
	}
}

// inWith joins id as name with extra join fields and waits for the welcome.
func inWith(t *testing.T, s *testServer, id, name string, extra map[string]any) *testclient.Client {
	t.Helper()
	c := s.dial(t)
	fields := map[string]any{"meetingId": id, "name": name}
	for k, v := range extra {
		fields[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.JoinWith(ctx, fields); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// closeAll waits until the meeting of id has ended (everyone in it closed).
func closeAll(t *testing.T, s *testServer, id string) {
	t.Helper()
	eventually(t, 5*time.Second, "the meeting to end", func() bool { return s.sig.Registry().Get(id) == nil })
}
