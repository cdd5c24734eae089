package signaling_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"conclave/secret"
	"conclave/signaling"
	"conclave/store"
)

// hostLookups is a room store that counts its lookups of hosts.
type hostLookups struct {
	*store.Memory
	n atomic.Int64
}

func (s *hostLookups) Host(ctx context.Context, id string) (store.Host, error) {
	s.n.Add(1)
	return s.Memory.Host(ctx, id)
}

// TestMalformedHostKeyIsRefusedUnread: a host key of another form than the documented
// one (PROTOCOL.md, "Rooms API": an id of 1 to 64 characters of base64url, a dot, a
// secret of base64url) is answered 401 host_key, as a missing one is, before the store
// is asked or a hash computed: an id of any length was looked up, and its right secret
// let in. The longest id of the form still works.
func TestMalformedHostKeyIsRefusedUnread(t *testing.T) {
	const sec = "c2VjcmV0LW9mLWEtbG9uZy1pZA"
	longest, tooLong := strings.Repeat("h", 64), strings.Repeat("h", 65)
	rooms := &hostLookups{Memory: store.NewMemory()}
	srv := newTestServerWith(t, signaling.Config{Store: rooms, Hosts: []signaling.Host{
		{ID: longest, Name: "longest", KeyHash: secret.KeyedHash(sec)},
		{ID: tooLong, Name: "too long", KeyHash: secret.KeyedHash(sec)},
	}})
	for _, key := range []string{
		tooLong + "." + sec,
		strings.Repeat("h", 8<<10) + "." + sec,
		"host id." + sec,
		"hößt." + sec,
		longest + "." + sec + ".x",
		longest + "." + sec + "!",
	} {
		for _, path := range []string{"/api/rooms", "/api/meetings"} {
			resp, b := srv.request(t, nil, http.MethodPost, path, `{}`, key)
			var body struct{ Error, Code string }
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("POST %s with %.20q…: %d %q: %v", path, key, resp.StatusCode, b, err)
			}
			if resp.StatusCode != http.StatusUnauthorized || body.Code != "host_key" || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("POST %s with %.20q… (%d characters): %d %+v, want 401 host_key", path, key, len(key), resp.StatusCode, body)
			}
		}
	}
	if n := rooms.n.Load(); n != 0 {
		t.Errorf("malformed host keys were looked up in the store %d times", n)
	}
	if code, b := srv.api(t, http.MethodPost, "/api/rooms", `{}`, longest+"."+sec); code != http.StatusCreated {
		t.Errorf("a host id of 64 characters: %d %s, want 201", code, b)
	}
}

// TestBearerSchemeIsCaseInsensitive: the scheme of the Authorization header is taken in
// any case (RFC 9110, section 11.1: "bearer", "BEARER"), where only "Bearer" was and a
// client that wrote it otherwise got 401 with a right key. What follows the scheme is
// as before: one space, then the key; a scheme without its space is no host key.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	srv := newTestServer(t)
	authorized := func(header string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.http.URL+"/api/rooms", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, bytes.TrimSpace(b.Bytes())
	}
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		if code, b := authorized(scheme + " " + testHostKey); code != http.StatusOK {
			t.Errorf("GET /api/rooms with %q and the right key: %d %s, want 200", scheme, code, b)
		}
	}
	for _, header := range []string{"bearer" + testHostKey, "bearer\t" + testHostKey, "bearer:" + testHostKey, "bearers " + testHostKey} {
		if code, b := authorized(header); code != http.StatusUnauthorized {
			t.Errorf("GET /api/rooms with %.12q…: %d %s, want 401", header, code, b)
		}
	}
}
