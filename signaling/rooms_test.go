package signaling_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/secret"
	"conclave/signaling"
	"conclave/store"
)

// The Rooms API as a host uses it (PROTOCOL.md, "Rooms API"): making, reading,
// changing, rotating and deleting its rooms (what it refuses: roomrefusals_test.go).

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
	resp, b := s.request(t, nil, method, path, body, key)
	return resp.StatusCode, b
}

// request sends one request as the holder of key ("" for none) with client, or on a
// connection of its own when client is nil, and reads the answer.
func (s *testServer) request(t testing.TB, client *http.Client, method, path, body, key string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if client == nil {
		client, req.Close = http.DefaultClient, true
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
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
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := c.JoinWith(ctx, fields); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// closeAll waits until the meeting of id has ended (everyone in it closed).
func closeAll(t *testing.T, s *testServer, id string) {
	t.Helper()
	conntest.Eventually(t, "the meeting to end", func() bool { return s.sig.Registry().Get(id) == nil })
}

// TestRoomsAreTheHostsOwn: another host neither sees nor changes a host's room; it is
// answered like a room that does not exist.
func TestRoomsAreTheHostsOwn(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Hosts: []signaling.Host{otherHost()}})
	mine := srv.createRoom(t, `{}`)
	path := "/api/rooms/" + mine.Room.ID
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, path, ""},
		{http.MethodPatch, path, `{"password":"taken over"}`},
		{http.MethodPost, path + "/rotate", ""},
		{http.MethodDelete, path, ""},
	} {
		code, body := srv.api(t, c.method, c.path, c.body, otherHostKey)
		if code != http.StatusNotFound || !strings.Contains(string(body), `"error":"no such room"`) {
			t.Fatalf("%s %s as another host: %d %s", c.method, c.path, code, body)
		}
	}
	code, body := srv.api(t, http.MethodGet, "/api/rooms", "", otherHostKey)
	if code != http.StatusOK || strings.TrimSpace(string(body)) != `{"rooms":[]}` {
		t.Fatalf("another host's list: %d %s", code, body)
	}
	var still roomView
	srv.apiJSON(t, http.MethodGet, path, "", http.StatusOK, &still)
	if still.PasswordSet {
		t.Fatal("another host changed the room")
	}
}

// TestRoomRotate: rotation gives the room a new id and moderator secret; the old links
// stop at once (the meeting going on under them ends with bye ended), the new ones work,
// and the old moderator secret does not open the new id.
func TestRoomRotate(t *testing.T) {
	srv := newTestServer(t)
	room := srv.createRoom(t, `{"settings":{"lobby":false},"password":"pw"}`)
	old := room.Room.ID
	mod := joinRoomAsModerator(t, srv, old, room.ModeratorSecret, "Mod")
	guest := inWith(t, srv, old, "Guest", map[string]any{"password": "pw"})

	newID := secret.Random(16)
	var rot roomCreated
	srv.apiJSON(t, http.MethodPost, "/api/rooms/"+old+"/rotate", `{"id":"`+newID+`","title":"e1.rekeyed"}`, http.StatusOK, &rot)
	if rot.Room.ID != newID || len(rot.ModeratorSecret) < 22 || rot.ModeratorSecret == room.ModeratorSecret || rot.Room.Title != "e1.rekeyed" || !rot.Room.PasswordSet || rot.Room.Settings.Lobby {
		t.Fatalf("rotated %+v", rot)
	}
	for _, c := range []*testclient.Client{mod, guest} {
		if reason, _ := byeReason(t, c); reason != "ended" {
			t.Fatalf("the meeting under the old id: bye %q", reason)
		}
	}
	refusedUnknown(t, srv, old, map[string]any{"moderatorSecret": room.ModeratorSecret})
	if code, _ := srv.api(t, http.MethodGet, "/api/rooms/"+old, "", testHostKey); code != http.StatusNotFound {
		t.Fatalf("GET old id: %d", code)
	}
	stale := srv.dial(t)
	_ = stale.SendJoin(map[string]any{"meetingId": newID, "name": "Stale", "moderatorSecret": room.ModeratorSecret})
	if code, _ := expectError(t, stale); code != "wrong_moderator_secret" {
		t.Fatalf("old moderator secret on the new id: %s", code)
	}
	joinRoomAsModerator(t, srv, newID, rot.ModeratorSecret, "Mod again")

	// A chosen secret is not echoed; an id taken is a conflict; a rotation to itself is
	// refused.
	chosen := secret.Random(16)
	other := srv.createRoom(t, `{}`)
	var rot2 roomCreated
	srv.apiJSON(t, http.MethodPost, "/api/rooms/"+other.Room.ID+"/rotate", `{"moderatorSecret":"`+chosen+`"}`, http.StatusOK, &rot2)
	if rot2.ModeratorSecret != "" || rot2.Room.ID == other.Room.ID {
		t.Fatalf("rotate with a chosen secret: %+v", rot2)
	}
	srv.apiJSON(t, http.MethodPost, "/api/rooms/"+rot2.Room.ID+"/rotate", `{"id":"`+newID+`"}`, http.StatusConflict, nil)
	srv.apiJSON(t, http.MethodPost, "/api/rooms/"+rot2.Room.ID+"/rotate", `{"id":"`+rot2.Room.ID+`"}`, http.StatusBadRequest, nil)
	joinRoomAsModerator(t, srv, rot2.Room.ID, chosen, "Chosen")
}

// TestRoomDelete: deleting a room ends its meeting (bye ended) and its links.
func TestRoomDelete(t *testing.T) {
	srv := newTestServer(t)
	room := srv.createRoom(t, `{"settings":{"lobby":false}}`)
	id := room.Room.ID
	a := inWith(t, srv, id, "A", nil)
	srv.apiJSON(t, http.MethodDelete, "/api/rooms/"+id, "", http.StatusNoContent, nil)
	if reason, _ := byeReason(t, a); reason != "ended" {
		t.Fatalf("bye %q", reason)
	}
	refusedUnknown(t, srv, id, nil)
	srv.apiJSON(t, http.MethodGet, "/api/rooms/"+id, "", http.StatusNotFound, nil)
	srv.apiJSON(t, http.MethodDelete, "/api/rooms/"+id, "", http.StatusNotFound, nil)
}

// TestStoredHostsMayCreateRooms: a host in the store (`conclave host add`) is
// authenticated like a configured one.
func TestStoredHostsMayCreateRooms(t *testing.T) {
	rooms := store.NewMemory()
	sec := secret.Random(24)
	if err := rooms.CreateHost(context.Background(), store.Host{ID: "stored", Name: "Stored", KeyHash: secret.KeyedHash(sec)}); err != nil {
		t.Fatal(err)
	}
	srv := newTestServerWith(t, signaling.Config{Store: rooms})
	code, body := srv.api(t, http.MethodPost, "/api/rooms", `{}`, "stored."+sec)
	if code != http.StatusCreated {
		t.Fatalf("stored host: %d %s", code, body)
	}
	if code, _ := srv.api(t, http.MethodPost, "/api/rooms", `{}`, "stored."+secret.Random(24)); code != http.StatusUnauthorized {
		t.Fatalf("wrong key of a stored host: %d", code)
	}
	// The configured test host does not see the stored host's room.
	var list struct{ Rooms []roomView }
	srv.apiJSON(t, http.MethodGet, "/api/rooms", "", http.StatusOK, &list)
	if len(list.Rooms) != 0 {
		t.Fatalf("list %+v", list.Rooms)
	}
}
