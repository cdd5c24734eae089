package signaling_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/secret"
	"conclave/signaling"
	"conclave/store"
)

// TestRoomsAPIRefusals: bad requests get a clear JSON error and change nothing.
func TestRoomsAPIRefusals(t *testing.T) {
	srv := newTestServer(t)
	taken := srv.createRoom(t, `{}`)
	for _, c := range []struct {
		name, method, path, body, key string
		want                          int
		msg                           string
	}{
		{"no key", http.MethodGet, "/api/rooms", "", "", http.StatusUnauthorized, "host key"},
		{"wrong key", http.MethodGet, "/api/rooms", "", "testhost." + secret.Random(20), http.StatusUnauthorized, "host key"},
		{"not json", http.MethodPost, "/api/rooms", `{`, testHostKey, http.StatusBadRequest, "JSON"},
		{"array", http.MethodPost, "/api/rooms", `[1]`, testHostKey, http.StatusBadRequest, "not an object"},
		{"null", http.MethodPost, "/api/rooms", ` null `, testHostKey, http.StatusBadRequest, "not an object"},
		{"null change", http.MethodPatch, "/api/rooms/" + taken.Room.ID, `null`, testHostKey, http.StatusBadRequest, "not an object"},
		{"wrong type", http.MethodPost, "/api/rooms", `{"e2ee":"yes"}`, testHostKey, http.StatusBadRequest, `"e2ee"`},
		{"short id", http.MethodPost, "/api/rooms", `{"id":"abc"}`, testHostKey, http.StatusBadRequest, "id must be"},
		{"id taken", http.MethodPost, "/api/rooms", `{"id":"` + taken.Room.ID + `"}`, testHostKey, http.StatusConflict, "another id"},
		{"short secret", http.MethodPost, "/api/rooms", `{"moderatorSecret":"short"}`, testHostKey, http.StatusBadRequest, "moderatorSecret"},
		{"plain title", http.MethodPost, "/api/rooms", `{"title":"Monday class"}`, testHostKey, http.StatusBadRequest, "title"},
		{"long title", http.MethodPost, "/api/rooms", `{"title":"e1.` + strings.Repeat("a", 1100) + `"}`, testHostKey, http.StatusBadRequest, "title"},
		{"long password", http.MethodPost, "/api/rooms", `{"password":"` + strings.Repeat("p", 200) + `"}`, testHostKey, http.StatusBadRequest, "password"},
		{"past", http.MethodPost, "/api/rooms", `{"expires":"2001-01-01T00:00:00Z"}`, testHostKey, http.StatusBadRequest, "past"},
		{"not a time", http.MethodPost, "/api/rooms", `{"expires":"tomorrow"}`, testHostKey, http.StatusBadRequest, "RFC 3339"},
		{"huge", http.MethodPost, "/api/rooms", `{"x":"` + strings.Repeat("a", 9000) + `"}`, testHostKey, http.StatusRequestEntityTooLarge, "larger"},
		{"patch id", http.MethodPatch, "/api/rooms/" + taken.Room.ID, `{"id":"` + secret.Random(16) + `"}`, testHostKey, http.StatusBadRequest, "rotate"},
		{"rotate settings", http.MethodPost, "/api/rooms/" + taken.Room.ID + "/rotate", `{"password":"x"}`, testHostKey, http.StatusBadRequest, "PATCH"},
		{"bad path id", http.MethodGet, "/api/rooms/nope", "", testHostKey, http.StatusNotFound, "no such room"},
	} {
		code, body := srv.api(t, c.method, c.path, c.body, c.key)
		var e struct{ Error string }
		if code != c.want || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, c.msg) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, code, body, c.want, c.msg)
		}
	}
	var list struct{ Rooms []roomView }
	srv.apiJSON(t, http.MethodGet, "/api/rooms", "", http.StatusOK, &list)
	if len(list.Rooms) != 1 {
		t.Fatalf("a refused request made a room: %+v", list.Rooms)
	}

	// Another site's page cannot use a visitor's browser against the API.
	req, _ := http.NewRequest(http.MethodGet, srv.http.URL+"/api/rooms", nil)
	req.Header.Set("Authorization", "Bearer "+testHostKey)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin: %d", resp.StatusCode)
	}
}

// TestForbiddenSaysWhy: the two 403s of creating a room or a meeting, the host's room
// limit and another site's request, carry their own code in a JSON body
// (PROTOCOL.md "Errors of the HTTP API"): the page told the host to delete rooms when a
// proxy passed on another Host, and could not tell either from the other.
func TestForbiddenSaysWhy(t *testing.T) {
	rooms := store.NewMemory()
	for range 1000 {
		if err := rooms.CreateRoom(context.Background(), store.Room{ID: secret.Random(16), HostID: "testhost", Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	srv := newTestServerWith(t, signaling.Config{Store: rooms})
	for _, tc := range []struct {
		path, origin, want string
	}{
		{"/api/rooms", "", "room_limit"},
		{"/api/meetings", "", "room_limit"},
		{"/api/rooms", "https://evil.example", "cross_origin"},
		{"/api/meetings", "https://evil.example", "cross_origin"},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.http.URL+tc.path, strings.NewReader(`{}`))
		req.Close = true
		req.Header.Set("Authorization", "Bearer "+testHostKey)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error, Code string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || err != nil || body.Code != tc.want || body.Error == "" {
			t.Errorf("POST %s (origin %q): %d %+v (%v), want 403 with code %q", tc.path, tc.origin, resp.StatusCode, body, err, tc.want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("POST %s: Content-Type %q", tc.path, ct)
		}
	}
	// The other refusals carry a code too: a wrong host key.
	code, b := srv.api(t, http.MethodGet, "/api/rooms", "", "testhost.d3Jvbmc")
	if code != http.StatusUnauthorized || !strings.Contains(string(b), `"code":"host_key"`) {
		t.Errorf("a wrong host key: %d %s", code, b)
	}
}

// TestUncheckedHostKeyIsNoInternalError: a POST /api/meetings whose host key could not be
// checked (the request ended while it waited its turn behind the address's guess being
// hashed) is a 503 `unavailable` whose message says so, as the Rooms API's does: it said
// "internal error", as if the server had failed.
func TestUncheckedHostKeyIsNoInternalError(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	hash, err := h.Hash(context.Background(), "an-older-host-key")
	if err != nil {
		t.Fatal(err)
	}
	// A host whose key is an argon2id hash: a wrong key waits for the hasher.
	srv := newTestServerWith(t, signaling.Config{Hasher: h, Hosts: []signaling.Host{{ID: "oldhost", Name: "old", KeyHash: hash}}})
	mux := http.NewServeMux()
	srv.sig.Register(mux)
	post := func(ctx context.Context) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/meetings", strings.NewReader(`{}`))
		req.RemoteAddr = "192.0.2.7:4000" // both from one address: the second waits its turn
		req.Header.Set("Authorization", "Bearer oldhost.wrong")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	release, err := h.Hold(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- post(context.Background()) }()
	conntest.Eventually(t, "the first guess to wait for the hasher", func() bool { return h.Waiting() == 1 })
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	rec := post(gone)
	var body struct{ Error, Code string }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%d %q: %v", rec.Code, rec.Body, err)
	}
	if rec.Code != http.StatusServiceUnavailable || body.Code != "unavailable" {
		t.Fatalf("a host key not checked: %d %+v, want 503 unavailable", rec.Code, body)
	}
	if strings.Contains(body.Error, "internal") || !strings.Contains(body.Error, "try again") {
		t.Errorf("a 503 says %q: no internal error, and the request may be sent again", body.Error)
	}
	release()
	if rec := <-first; rec.Code != http.StatusUnauthorized {
		t.Errorf("the wrong key: %d, want 401", rec.Code)
	}
}
