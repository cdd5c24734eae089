package main

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"conclave/e2ee"
	"conclave/signaling"
	"conclave/store"
)

// FuzzParseHostLink: any text is a host link or errBadLink, never a panic; an accepted
// one has an http(s) origin with nothing after the host, a host key of the server's
// form (signaling.ParseHostKey) and a 32-byte rk;
// an error never carries the text (it may hold secrets).
func FuzzParseHostLink(f *testing.F) {
	rk := strings.Repeat("A", 43)
	for _, s := range []string{
		"https://meet.example.org/#host=0123456789ab.c2VjcmV0&rk=" + rk,
		"http://127.0.0.1:8080/#rk=" + rk + "&host=a.b&x=1",
		"https://x/#host=a%2Eb&rk=" + rk, "https://x/#host=a.b.c&rk=" + rk, "https://x/#host=a+b.c&rk=" + rk, "https://x/#host=a.b&rk=%zz", "https://x/?host=a.b&rk=" + rk,
		"", "#", "https://", "javascript:alert(1)#host=a.b&rk=" + rk, "https://u@x/#host=a.b&rk=" + rk,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := parseHostLink(s)
		if err != nil {
			if !errors.Is(err, errBadLink) {
				t.Fatalf("%q: %v is not errBadLink", s, err)
			}
			if len(s) > 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("the error echoes the link: %v", err)
			}
			return
		}
		if !strings.HasPrefix(l.origin, "https://") && !strings.HasPrefix(l.origin, "http://") || strings.ContainsAny(strings.SplitN(l.origin, "://", 2)[1], "/#?@") {
			t.Fatalf("%q: origin %q", s, l.origin)
		}
		if len(l.rk) != e2ee.RoomSecretSize {
			t.Fatalf("%q: %+v", s, l)
		}
		if _, _, ok := signaling.ParseHostKey(l.hostKey); !ok {
			t.Fatalf("%q: accepted a host key the server refuses unread", s)
		}
	})
}

// FuzzDecodeRoomsAnswer: any answer of a server is a decoded value or an error; a room
// accepted has an id that is safe in a link (22 characters of base64url); a refusal's
// message is one printable line.
func FuzzDecodeRoomsAnswer(f *testing.F) {
	f.Add(200, []byte(`{"rooms":[{"id":"AAAAAAAAAAAAAAAAAAAAAA","title":"e1.x","settings":{"lobby":true},"e2ee":true,"passwordSet":false,"created":"2026-01-01T00:00:00Z"}]}`))
	f.Add(200, []byte(`{"rooms":[{"id":"../../etc"}]}`))
	f.Add(201, []byte(`{"room":{"id":"AAAAAAAAAAAAAAAAAAAAAA","expires":"2030-01-01T00:00:00Z"}}`))
	f.Add(404, []byte(`{"error":"no such room"}`))
	f.Add(401, []byte(`{"error":"a\u001b[2Jb\nc"}`))
	f.Add(500, []byte(`<html>`))
	f.Add(204, []byte(nil))
	f.Fuzz(func(t *testing.T, status int, data []byte) {
		for _, out := range []any{&roomList{}, &roomMade{}, &apiRoom{}} {
			err := decodeRoomsAnswer(status, data, out)
			if ae, ok := errors.AsType[*roomsAPIError](err); ok {
				if strings.ContainsFunc(ae.Message, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
					t.Fatalf("message with control characters: %q", ae.Message)
				}
				continue
			}
			if err != nil || status == http.StatusNoContent {
				continue
			}
			var rooms []apiRoom
			switch v := out.(type) {
			case *roomList:
				rooms = v.Rooms
			case *roomMade:
				rooms = []apiRoom{v.Room}
			case *apiRoom:
				rooms = []apiRoom{*v}
			}
			for _, r := range rooms {
				if !e2ee.ValidRoomID(r.ID) {
					t.Fatalf("accepted room id %q", r.ID)
				}
			}
		}
	})
}

// FuzzDecodeAdminHost: a body of POST /hosts on the admin socket is a host the store
// can keep, or refused.
func FuzzDecodeAdminHost(f *testing.F) {
	f.Add([]byte(`{"id":"0123456789ab","name":"Ann","keyHash":"$hmac-sha256$a2V5$bWFj","created":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"id":"0123456789ab","name":"\u0000","keyHash":"$hmac-sha256$x"}`))
	f.Add([]byte(`{"id":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := decodeAdminHost(body)
		if err != nil {
			return
		}
		if !hostIDPattern.MatchString(h.ID) || !validHostName(h.Name) || !utf8.ValidString(h.Name) || !strings.HasPrefix(h.KeyHash, "$hmac-sha256$") || h.Created.IsZero() {
			t.Fatalf("accepted %+v", h)
		}
		if err := store.NewMemory().CreateHost(t.Context(), h); err != nil {
			t.Fatalf("accepted a host the store refuses: %+v: %v", h, err)
		}
	})
}

// FuzzDecodeAdminAnswer: any answer on the admin socket is a value, a store error or a
// plain error; never a panic.
func FuzzDecodeAdminAnswer(f *testing.F) {
	f.Add(200, []byte(`[{"id":"0123456789ab","name":"Ann","created":"2026-01-01T00:00:00Z"}]`))
	f.Add(404, []byte(`{"error":"not found","code":"not-found"}`))
	f.Add(409, []byte(`{"error":"exists","code":"exists"}`))
	f.Add(500, []byte(`{"error":"disk full"}`))
	f.Add(200, []byte(`{"host":{"id":"x"},"rooms":3}`))
	f.Fuzz(func(t *testing.T, status int, data []byte) {
		var hosts []hostRow
		_ = decodeAdminAnswer(status, data, &hosts)
		var removed removedHost
		err := decodeAdminAnswer(status, data, &removed)
		if errors.Is(err, store.ErrNotFound) && status != http.StatusNotFound {
			t.Fatalf("status %d became not-found", status)
		}
		var rooms []roomRow
		_ = decodeAdminAnswer(status, data, &rooms)
	})
}
