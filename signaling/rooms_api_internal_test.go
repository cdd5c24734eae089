package signaling

import (
	"strings"
	"testing"
	"time"
)

// FuzzDecodeRoomRequest: whatever a client sends, the rooms API's decoder never panics,
// and what it accepts is well formed: empty or a JSON object (PROTOCOL.md: null was taken
// for {}), an id of 128 bits, an opaque title in its bounds,
// a bounded password, a moderator secret of 128 bits or more, an expiry in the future.
func FuzzDecodeRoomRequest(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"id":"AAAAAAAAAAAAAAAAAAAAAA"}`, `{"id":"AAAAAAAAAAAAAAAAAAAAAB"}`,
		`{"title":"e1.abc.def","password":"pw","e2ee":false}`, `{"title":"e1."}`, `{"title":"x"}`,
		`{"settings":{"lobby":false,"screenShare":true,"unmute":null,"chat":1}}`,
		`{"expires":null}`, `{"expires":"2031-01-01T00:00:00Z"}`, `{"expires":"2029-01-01T00:00:00+02:00"}`,
		`{"expires":5}`, `{"moderatorSecret":"AAAAAAAAAAAAAAAAAAAAAA"}`, `{"moderatorSecret":"short"}`,
		`{"password":"` + strings.Repeat("p", 129) + `"}`, `{"unknown":{"deep":[1,2,3]}}`, `{"id":1}`,
	} {
		f.Add([]byte(seed))
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeRoomRequest(body, now)
		if err != nil {
			if req != (roomRequest{}) || err.status != 400 || err.msg == "" {
				t.Fatalf("a refusal with a result or without a message: %+v %+v", req, err)
			}
			return
		}
		if b := strings.TrimSpace(string(body)); b != "" && !strings.HasPrefix(b, "{") {
			t.Fatalf("accepted a body that is no JSON object: %q", body)
		}
		if req.ID != nil && !validRoomID(*req.ID) {
			t.Fatalf("accepted id %q", *req.ID)
		}
		if req.Title != nil && (len(*req.Title) > maxTitleChars || (*req.Title != "" && !strings.HasPrefix(*req.Title, "e1."))) {
			t.Fatalf("accepted title %q", *req.Title)
		}
		if req.Password != nil && passwordTooLong(*req.Password) {
			t.Fatal("accepted a long password")
		}
		if ms := req.ModeratorSecret; ms != nil && (len(*ms) < minModSecretChars || !isBase64URL(*ms)) {
			t.Fatalf("accepted moderator secret %q", *ms)
		}
		if req.ExpiresSet && !req.Expires.IsZero() && !req.Expires.After(now) {
			t.Fatalf("accepted expiry %v", req.Expires)
		}
	})
}

// TestValidRoomID: exactly 22 characters of base64url; the non-canonical last
// character of 128 bits is refused, so one room has one id.
func TestValidRoomID(t *testing.T) {
	for id, want := range map[string]bool{
		"AAAAAAAAAAAAAAAAAAAAAA":  true,
		"AAAAAAAAAAAAAAAAAAAAAw":  true,
		"AAAAAAAAAAAAAAAAAAAAAB":  false, // non-zero padding bits
		"AAAAAAAAAAAAAAAAAAAAA":   false,
		"AAAAAAAAAAAAAAAAAAAAAAA": false,
		"AAAAAAAAAAAAAAAAAAAA+A":  false,
		"":                        false,
	} {
		if validRoomID(id) != want {
			t.Errorf("validRoomID(%q) = %v", id, !want)
		}
	}
}
