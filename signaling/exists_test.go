package signaling_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"conclave/signaling"
)

// TestMeetingExists: GET and HEAD /api/meetings/{id} say only whether a meeting can be
// joined: 200 {"exists":true} for a live meeting, 404 {"exists":false} for an id never
// made, one that is not an id at all, and a meeting that ended (unused past its time).
func TestMeetingExists(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	id := srv.createMeeting(t)

	status := func(method, id string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.http.URL+"/api/meetings/"+id, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Close = true
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: Cache-Control %q", method, id, cc)
		}
		return resp.StatusCode, strings.TrimSpace(string(b))
	}

	if code, body := status(http.MethodGet, id); code != 200 || body != `{"exists":true}` {
		t.Fatalf("live meeting: %d %q", code, body)
	}
	if code, body := status(http.MethodHead, id); code != 200 || body != "" {
		t.Fatalf("HEAD live meeting: %d %q", code, body)
	}
	for _, bad := range []string{
		"AAAAAAAAAAAAAAAAAAAAAA",     // the shape of an id, never made
		strings.Repeat("A", 65),      // longer than any id
		"abc.def", "%C3%A4", "a%2Fb", // not base64url
		id + "x",
	} {
		if code, body := status(http.MethodGet, bad); code != 404 || body != `{"exists":false}` {
			t.Errorf("id %q: %d %q", bad, code, body)
		}
	}
	if code, _ := status(http.MethodPost, id); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", code)
	}

	// The meeting ends after 10 minutes unused, but its one-off room lasts a day: the
	// link still works; after the day the answer says the meeting is gone.
	clock.Advance(11 * time.Minute)
	if code, body := status(http.MethodGet, id); code != 200 || body != `{"exists":true}` {
		t.Fatalf("one-off room after its meeting ended: %d %q", code, body)
	}
	clock.Advance(24 * time.Hour)
	if code, body := status(http.MethodGet, id); code != 404 || body != `{"exists":false}` {
		t.Fatalf("expired room: %d %q", code, body)
	}
}
