package signaling_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"conclave/secret"
	"conclave/signaling"
	"conclave/store"
)

// What one host key may make (PROTOCOL.md, "Limits"): at most 1000 rooms, and room
// ids at a bounded rate, so that no host can fill the store; other hosts are not held
// back.

// TestRoomsPerHostBounded: a host keeps at most 1000 rooms, one-off ones included, so
// one host key cannot fill the store; other hosts are not affected.
func TestRoomsPerHostBounded(t *testing.T) {
	rooms := store.NewMemory()
	for range 1000 {
		if err := rooms.CreateRoom(context.Background(), store.Room{ID: secret.Random(16), HostID: "testhost", Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	srv := newTestServerWith(t, signaling.Config{Store: rooms, Hosts: []signaling.Host{otherHost()}})
	srv.apiJSON(t, http.MethodPost, "/api/rooms", `{}`, http.StatusForbidden, nil)
	resp, err := srv.post(`{}`, "Bearer "+testHostKey)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST /api/meetings at the limit: %d", resp.StatusCode)
	}
	if code, body := srv.api(t, http.MethodPost, "/api/rooms", `{}`, otherHostKey); code != http.StatusCreated {
		t.Fatalf("another host: %d %s", code, body)
	}
}

// crowdedStore holds each count of a host's rooms until a second one is under way
// (or a while has passed), so that parallel creations that count apart both count
// before either creates.
type crowdedStore struct {
	*store.Memory
	mu      sync.Mutex
	inside  int
	crowded chan struct{}
}

func (c *crowdedStore) Rooms(ctx context.Context, hostID string) ([]store.Room, error) {
	c.mu.Lock()
	if c.inside++; c.inside == 2 {
		close(c.crowded)
	}
	c.mu.Unlock()
	select {
	case <-c.crowded:
	case <-time.After(100 * time.Millisecond):
	}
	return c.Memory.Rooms(ctx, hostID)
}

// TestRoomsPerHostBoundedInParallel: creations in parallel at 999 rooms (rooms and
// one-off meetings, each with a password to hash) leave the host with 1000, not one
// more each.
func TestRoomsPerHostBoundedInParallel(t *testing.T) {
	rooms := &crowdedStore{Memory: store.NewMemory(), crowded: make(chan struct{})}
	for range 999 {
		if err := rooms.CreateRoom(context.Background(), store.Room{ID: secret.Random(16), HostID: "testhost", Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	srv := newTestServerWith(t, signaling.Config{Store: rooms})
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			if i%2 == 0 {
				codes[i], _ = srv.api(t, http.MethodPost, "/api/rooms", `{"password":"pw"}`, testHostKey)
				return
			}
			resp, err := srv.post(`{"password":"pw"}`, "Bearer "+testHostKey)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	mine, err := rooms.Rooms(context.Background(), "testhost")
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1000 || slices.Index(codes, http.StatusCreated) < 0 {
		t.Fatalf("the host keeps %d rooms, bound 1000 (answers %v)", len(mine), codes)
	}
}

// TestRoomIDsAtABoundedRate: a host makes as many room ids at once as it may keep
// rooms, then one every 30 s, by creating rooms, one-off meetings or rotated links
// alike, refused meanwhile with 429 and when to try again: every id a room had stays
// retired in the store for good, so a host key looping create and delete would grow
// it without end. A creation or rotation refused because its id is taken (409) makes
// no id and spends none. Another host is not held back.
func TestRoomIDsAtABoundedRate(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Hosts: []signaling.Host{otherHost()}})
	client := &http.Client{Timeout: 10 * time.Second} // keeps its connection: a thousand requests
	t.Cleanup(client.CloseIdleConnections)
	send := func(method, path, key string) (*http.Response, []byte) {
		t.Helper()
		return srv.request(t, client, method, path, `{}`, key)
	}
	var kept roomCreated
	var withdrawn string // the id of a room deleted: retired for good
	for i := range 999 { // created and deleted: the host keeps none of them
		resp, b := send(http.MethodPost, "/api/rooms", testHostKey)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("room %d: %d %s", i, resp.StatusCode, b)
		}
		if i == 0 {
			if err := json.Unmarshal(b, &kept); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var r roomCreated
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if resp, b := send(http.MethodDelete, "/api/rooms/"+r.Room.ID, testHostKey); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("delete %d: %d %s", i, resp.StatusCode, b)
		}
		withdrawn = r.Room.ID
	}
	// One id left: taken ids, refused, spend none of it.
	for range 3 {
		for _, path := range []string{"/api/rooms", "/api/rooms/" + kept.Room.ID + "/rotate"} {
			if resp, b := srv.request(t, client, http.MethodPost, path, `{"id":"`+withdrawn+`"}`, testHostKey); resp.StatusCode != http.StatusConflict {
				t.Fatalf("POST %s with a withdrawn id and one id left: %d %s, want 409", path, resp.StatusCode, b)
			}
		}
	}
	if resp, b := send(http.MethodPost, "/api/rooms", testHostKey); resp.StatusCode != http.StatusCreated {
		t.Fatalf("the last id after refused ones: %d %s", resp.StatusCode, b)
	}
	refused := func(method, path string) {
		t.Helper()
		resp, b := send(method, path, testHostKey)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "30" {
			t.Fatalf("%s %s past the budget: %d %s, Retry-After %q; want 429, 30", method, path, resp.StatusCode, b, resp.Header.Get("Retry-After"))
		}
	}
	refused(http.MethodPost, "/api/rooms")
	refused(http.MethodPost, "/api/meetings")
	refused(http.MethodPost, "/api/rooms/"+kept.Room.ID+"/rotate")
	if resp, b := send(http.MethodGet, "/api/rooms/"+kept.Room.ID, testHostKey); resp.StatusCode != http.StatusOK {
		t.Fatalf("the room a refused rotate named: %d %s", resp.StatusCode, b)
	}
	if resp, b := send(http.MethodPost, "/api/rooms", otherHostKey); resp.StatusCode != http.StatusCreated {
		t.Fatalf("another host: %d %s", resp.StatusCode, b)
	}
	clock.Advance(30 * time.Second)
	if resp, b := send(http.MethodPost, "/api/rooms/"+kept.Room.ID+"/rotate", testHostKey); resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate 30 s later: %d %s", resp.StatusCode, b)
	}
	refused(http.MethodPost, "/api/meetings")
}
