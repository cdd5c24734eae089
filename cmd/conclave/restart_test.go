package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
)

// api sends an authorised JSON request and decodes the answer into out.
func (r *running) api(t *testing.T, method, path, key, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, r.url+strings.TrimPrefix(path, "/"), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// TestRoomLastsAcrossRestart: a host prepares a room on one run of the real server with
// a data directory; the server stops and starts again; the room is still listed and
// someone joins it with the link made before the restart.
func TestRoomLastsAcrossRestart(t *testing.T) {
	env, data, _ := dataEnv(t)
	var out bytes.Buffer
	if err := hostCommand([]string{"add", "Dana"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`(?m)^\s+([0-9a-f]{12}\.\S+)$`).FindStringSubmatch(out.String())[1]

	first := start(t, "-data", data)
	var made struct {
		Room struct {
			ID string `json:"id"`
		} `json:"room"`
	}
	if code := first.api(t, http.MethodPost, "/api/rooms", key, `{"settings":{"lobby":false},"e2ee":false}`, &made); code != http.StatusCreated || made.Room.ID == "" {
		t.Fatalf("create room: %d %+v", code, made)
	}
	first.stop(t)

	second := start(t, "-data", data)
	var list struct {
		Rooms []struct {
			ID string `json:"id"`
		} `json:"rooms"`
	}
	if code := second.api(t, http.MethodGet, "/api/rooms", key, "", &list); code != http.StatusOK || len(list.Rooms) != 1 || list.Rooms[0].ID != made.Room.ID {
		t.Fatalf("rooms after the restart: %d %+v", code, list)
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	c, err := testclient.Dial(ctx, "ws"+strings.TrimPrefix(second.url, "http")+"ws")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Join(ctx, made.Room.ID, "Ada"); err != nil {
		t.Fatalf("joining the room made before the restart: %v", err)
	}
}

// TestOneTimeKeyRoomsEndWithTheServer: a one-time key is valid until the server stops,
// and so are the rooms made with it: after a restart its room is gone, not orphaned in
// the data directory.
func TestOneTimeKeyRoomsEndWithTheServer(t *testing.T) {
	_, data, _ := dataEnv(t)
	first := start(t, "-data", data)
	key := regexp.MustCompile(`#host=(\S+)`).FindStringSubmatch(first.stdout)
	if key == nil {
		t.Fatalf("no one-time key in %q", first.stdout)
	}
	var made struct {
		MeetingID string `json:"meetingId"`
	}
	if code := first.api(t, http.MethodPost, "/api/meetings", key[1], "", &made); code != http.StatusCreated {
		t.Fatalf("create meeting: %d", code)
	}
	if code := first.api(t, http.MethodGet, "/api/meetings/"+made.MeetingID, "", "", nil); code != http.StatusOK {
		t.Fatalf("the new meeting: %d", code)
	}
	first.stop(t)

	second := start(t, "-data", data)
	if code := second.api(t, http.MethodGet, "/api/meetings/"+made.MeetingID, "", "", nil); code != http.StatusNotFound {
		t.Fatalf("a one-time key's room after the restart: %d, want 404", code)
	}
}
