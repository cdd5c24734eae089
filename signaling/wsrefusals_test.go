package signaling_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// wantJSONRefusal checks that resp is a refusal of the HTTP API's form (PROTOCOL.md,
// "Errors of the HTTP API"): status, a JSON body {"error", "code"} with code, its
// Content-Type and no-store.
func wantJSONRefusal(t *testing.T, what string, resp *http.Response, status int, code string) {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var body struct{ Error, Code string }
	if err := json.Unmarshal(b, &body); err != nil || resp.StatusCode != status || body.Code != code || body.Error == "" {
		t.Errorf("%s: %d %s %.80q, want %d JSON with code %q", what, resp.StatusCode, resp.Header.Get("Content-Type"), b, status, code)
		return
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %s %q, want %q", what, k, got, v)
		}
	}
}

// TestWebsocketHandshakeRefusalsAreJSON: a GET /ws that is no websocket handshake, one
// of another version, and one from another site's page are refused with the upgrader's
// status as the API's refusals are, JSON with a code, where gorilla answered in plain
// text ("Bad Request", "Forbidden"); the one of another version still says which the
// server speaks.
func TestWebsocketHandshakeRefusalsAreJSON(t *testing.T) {
	s := newTestServer(t)
	handshake := map[string]string{
		"Connection":            "Upgrade",
		"Upgrade":               "websocket",
		"Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key":     "dGhlIHNhbXBsZSBub25jZQ==",
	}
	for _, c := range []struct {
		name   string
		header map[string]string // over the handshake's; "" takes one out; nil: a plain GET
		status int
		code   string
	}{
		{"a plain GET", nil, http.StatusBadRequest, "invalid"},
		{"without Upgrade", map[string]string{"Upgrade": ""}, http.StatusBadRequest, "invalid"},
		{"version 8", map[string]string{"Sec-WebSocket-Version": "8"}, http.StatusBadRequest, "invalid"},
		{"another site's page", map[string]string{"Origin": "https://elsewhere.example"}, http.StatusForbidden, "cross_origin"},
	} {
		req, err := http.NewRequest(http.MethodGet, s.http.URL+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.header != nil {
			for k, v := range handshake {
				req.Header.Set(k, v)
			}
		}
		for k, v := range c.header {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := s.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		wantJSONRefusal(t, c.name, resp, c.status, c.code)
		_ = resp.Body.Close()
		if got := resp.Header.Get("Sec-WebSocket-Version"); got != "13" {
			t.Errorf("%s: Sec-WebSocket-Version %q, want 13", c.name, got)
		}
		if strings.Contains(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s: answered in plain text", c.name)
		}
	}
}

// TestWebsocketHandshakeByHeadSaysWhichMethod: a handshake sent as HEAD reaches the
// upgrader (the route "GET /ws" takes HEAD too), which refuses it with 405; a 405 must
// say which method would do (RFC 9110, 15.5.6), as the router's 405s at /ws say theirs,
// where refuseHandshake sent no Allow.
func TestWebsocketHandshakeByHeadSaysWhichMethod(t *testing.T) {
	s := newTestServer(t)
	req, err := http.NewRequest(http.MethodHead, s.http.URL+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="} {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodGet ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("a handshake by HEAD: %d %s, Allow %q, want 405 JSON with Allow GET",
			resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Allow"))
	}
}
