package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestBinaryRefusesOtherAPIPathsAsJSON: in the binary, where the web client serves "/",
// a method /ws does not serve and a path under /api/ that is none of the API's are
// refused as the API's other refusals are (JSON with a code, no-store, the API's CSP,
// Allow on the 405), where the web client's 404 page answered both; so are a method the
// web client's notice does not serve and a GET /ws that is no websocket handshake, where
// the web client and gorilla answered in plain text; the web client still serves its
// notice under /api/ and its 404 page elsewhere.
func TestBinaryRefusesOtherAPIPathsAsJSON(t *testing.T) {
	r := start(t)
	do := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, r.url+path, nil)
		if err != nil {
			t.Fatal(err)
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
		return resp, b
	}
	for _, c := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodPost, "/ws", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{http.MethodDelete, "/ws", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{http.MethodGet, "/api/other", http.StatusNotFound, "not_found", ""},
		{http.MethodPost, "/api/", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/api/notices", http.StatusNotFound, "not_found", ""},
		{http.MethodPost, "/api/notice", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{http.MethodGet, "/ws", http.StatusBadRequest, "invalid", ""},
	} {
		resp, b := do(c.method, c.path)
		var body struct{ Error, Code string }
		what := c.method + " " + c.path
		if err := json.Unmarshal(b, &body); err != nil || resp.StatusCode != c.status || body.Code != c.code || body.Error == "" {
			t.Errorf("%s: %d %s %.60q, want %d JSON with code %q", what, resp.StatusCode, resp.Header.Get("Content-Type"), b, c.status, c.code)
			continue
		}
		for k, v := range map[string]string{
			"Allow":                   c.allow,
			"Cache-Control":           "no-store",
			"Content-Type":            "application/json",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s %q, want %q", what, k, got, v)
			}
		}
	}
	if resp, b := do(http.MethodGet, "/api/notice"); resp.StatusCode != http.StatusOK || !json.Valid(b) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /api/notice: %d %s %.60q, want the web client's notice", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if resp, b := do(http.MethodGet, "/nothing"); resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "<html") {
		t.Errorf("GET /nothing: %d %.60q, want the web client's 404 page", resp.StatusCode, b)
	}
}
