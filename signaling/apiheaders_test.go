package signaling_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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

// TestAPIRefusesOtherMethodsAndPathsAsJSON: a method a path of the API or /ws does not
// serve is 405 with Allow, and a path under /api/ that is none of the API's 404, each
// as the API's other refusals are (PROTOCOL.md, "Errors of the HTTP API"): JSON with a
// code, no-store and the API's headers, where the mux answered plain text, and in the
// binary, whose web client serves "/", the web client's 404 page answered (so it did
// for /ws and for /api/ outside /api/meetings and /api/rooms). The API's routes, the
// web client's notice and its other paths are answered as before.
func TestAPIRefusesOtherMethodsAndPathsAsJSON(t *testing.T) {
	s := newTestServer(t)
	mux := http.NewServeMux()
	s.sig.Register(mux)
	webClient := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { // as in the binary
		w.WriteHeader(http.StatusTeapot)
	})
	mux.Handle("/", webClient)
	mux.Handle("/api/notice", webClient)
	web := httptest.NewServer(mux)
	t.Cleanup(web.Close)
	const id = "AAAAAAAAAAAAAAAAAAAAAA"
	for _, c := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodPut, "/api/rooms", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, POST"},
		{http.MethodDelete, "/api/meetings", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{http.MethodGet, "/api/meetings", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{http.MethodPost, "/api/meetings/" + id, http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{http.MethodPut, "/api/rooms/" + id, http.StatusMethodNotAllowed, "method_not_allowed", "DELETE, GET, HEAD, PATCH"},
		{http.MethodPost, "/api/rooms/" + id, http.StatusMethodNotAllowed, "method_not_allowed", "DELETE, GET, HEAD, PATCH"},
		{http.MethodGet, "/api/rooms/" + id + "/rotate", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{http.MethodOptions, "/api/rooms", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, POST"},
		{http.MethodGet, "/api/rooms/" + id + "/links", http.StatusNotFound, "not_found", ""},
		{http.MethodPost, "/api/rooms/", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/api/rooms/" + id + "/", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/api/meetings/", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/api/meetings/" + id + "/status", http.StatusNotFound, "not_found", ""},
		{http.MethodPost, "/ws", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{http.MethodPut, "/ws", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{http.MethodGet, "/api/other", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/api/", http.StatusNotFound, "not_found", ""},
		{http.MethodDelete, "/api/v2/rooms", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/api/rooms", http.StatusUnauthorized, "host_key", ""},
		{http.MethodHead, "/api/rooms/" + id, http.StatusUnauthorized, "", ""},
		{http.MethodGet, "/api/meetings/" + id, http.StatusNotFound, "", ""},
	} {
		req, err := http.NewRequest(c.method, web.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := web.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		what := c.method + " " + c.path
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d %q, want %d", what, resp.StatusCode, b, c.status)
			continue
		}
		if c.code != "" {
			var body struct{ Error, Code string }
			if err := json.Unmarshal(b, &body); err != nil || body.Code != c.code || body.Error == "" ||
				resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s: %s %q (%v), want JSON with code %q", what, resp.Header.Get("Content-Type"), b, err, c.code)
			}
		}
		if got := resp.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s: Allow %q, want %q", what, got, c.allow)
		}
		for k, v := range map[string]string{
			"Cache-Control":           "no-store",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			"X-Content-Type-Options":  "nosniff",
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s %q, want %q", what, k, got, v)
			}
		}
	}
	for _, path := range []string{"/api/notice", "/apiary", "/m/" + id} {
		if resp, err := web.Client().Get(web.URL + path); err != nil {
			t.Fatal(err)
		} else if _ = resp.Body.Close(); resp.StatusCode != http.StatusTeapot {
			t.Errorf("GET %s: %d, want the web client's answer", path, resp.StatusCode)
		}
	}
}
