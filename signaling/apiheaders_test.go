package signaling_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAPIAnswersCarryTheirHeaders: every route of the signaling server answers with
// the headers that keep an answer from being read as a page or a script, framed,
// fetched from another origin or given a referrer, its refusals included: a missing
// host key, an unknown meeting, another site's Origin, a websocket handshake that is not
// one.
func TestAPIAnswersCarryTheirHeaders(t *testing.T) {
	s := newTestServer(t)
	want := map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'",
		"Cross-Origin-Resource-Policy": "same-origin",
		"Referrer-Policy":              "no-referrer",
	}
	for _, c := range []struct {
		method, path, origin string
		status               int
	}{
		{http.MethodPost, "/api/meetings", "", http.StatusUnauthorized},
		{http.MethodPost, "/api/meetings", "https://elsewhere.example", http.StatusForbidden},
		{http.MethodGet, "/api/meetings/AAAAAAAAAAAAAAAAAAAAAA", "", http.StatusNotFound},
		{http.MethodGet, "/api/rooms", "", http.StatusUnauthorized},
		{http.MethodDelete, "/api/rooms/AAAAAAAAAAAAAAAAAAAAAA", "", http.StatusUnauthorized},
		{http.MethodGet, "/ws", "", http.StatusBadRequest},
	} {
		req, err := http.NewRequest(c.method, s.http.URL+c.path, strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		resp, err := s.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s %s (%d): %s %q, want %q", c.method, c.path, resp.StatusCode, k, got, v)
			}
		}
	}
}
