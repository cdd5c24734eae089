package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"conclave/e2ee"
	"conclave/internal/conntest"
	"conclave/internal/testcert"
	"conclave/internal/testclient"
)

// newRK makes a host's room secret as the landing page does.
func newRK(t *testing.T) string {
	t.Helper()
	b := make([]byte, e2ee.RoomSecretSize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// oneTimeKey is the host key a test server printed.
func (r *running) oneTimeKey(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`#host=(\S+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no one-time key in %q", r.stdout)
	}
	return m[1]
}

// hostCLI runs `conclave room` as a host would (the same entry point as main), with
// stdin, and returns what it printed.
func hostCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := hostRoomCommandIO(args, strings.NewReader(stdin), &out, io.Discard, time.Now)
	if err == nil && !hostMode(args) {
		t.Fatalf("%v is not host mode", args)
	}
	return out.String(), err
}

// printedLinks reads the two links the room commands print.
func printedLinks(t *testing.T, out string) (participant, moderator *url.URL) {
	t.Helper()
	p := regexp.MustCompile(`Participant link:\s+(\S+)`).FindStringSubmatch(out)
	m := regexp.MustCompile(`Moderator link:\s+(\S+)`).FindStringSubmatch(out)
	if p == nil || m == nil {
		t.Fatalf("no links in %q", out)
	}
	pu, err1 := url.Parse(p[1])
	mu, err2 := url.Parse(m[1])
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return pu, mu
}

func linkID(u *url.URL) string { return strings.TrimPrefix(u.Path, "/m/") }

func fragment(u *url.URL, name string) string {
	v, _ := url.ParseQuery(u.Fragment)
	return v.Get(name)
}

// dialWS opens a Go client's websocket to the server.
func (r *running) dialWS(t *testing.T) *testclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	c, err := testclient.Dial(ctx, "ws"+strings.TrimPrefix(r.url, "http")+"ws")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// next waits for the next message of one of the types (others are skipped).
func next(t *testing.T, c *testclient.Client, types ...string) testclient.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %v: %v", types, err)
		}
		for _, typ := range types {
			if m.Type == typ {
				return m
			}
		}
	}
}

// payloadField reads one string field of a message's payload.
func payloadField(t *testing.T, m testclient.Message, field string) string {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatal(err)
	}
	s, _ := p[field].(string)
	return s
}

// TestHostRoomCommandsAgainstServer: a host prepares a room with `conclave room -link`
// against a real running server; a participant opens its link and knocks, the moderator
// link lets the moderator in, who admits them; `links` shows the same links again;
// `rotate` ends the meeting, the old link is refused and the new one works; `set`
// changes settings (visible in the API and to the next person joining); `list` shows
// the decrypted title; `delete` ends the links.
func TestHostRoomCommandsAgainstServer(t *testing.T) {
	srv := start(t)
	key := srv.oneTimeKey(t)
	rk := newRK(t)
	link := srv.url + "#host=" + key + "&rk=" + rk
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("Kreide-42\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The link from a file (not the command line), the password from a file.
	linkFile := filepath.Join(t.TempDir(), "link")
	if err := os.WriteFile(linkFile, []byte(link+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(48 * time.Hour).Truncate(time.Minute)
	out, err := hostCLI(t, "", "-link-file", linkFile, "create", "-title", "Chemie 9b", "-password-file", pwFile, "-lobby", "-expires", until.Format("2006-01-02T15:04"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if strings.Contains(out, rk) || strings.Contains(out, key) {
		t.Fatalf("create printed the host key or rk: %q", out)
	}
	part, mod := printedLinks(t, out)
	id := linkID(part)
	if linkID(mod) != id || fragment(part, "k") == "" || fragment(part, "mod") != "" || fragment(mod, "mod") == "" || !strings.Contains(out, "Chemie 9b") {
		t.Fatalf("links %s %s in %q", part, mod, out)
	}

	// What the server keeps: ciphertext that the participant link's key opens.
	var view apiRoom
	if code := srv.api(t, http.MethodGet, "/api/rooms/"+id, key, "", &view); code != http.StatusOK {
		t.Fatalf("GET room: %d", code)
	}
	if !view.PasswordSet || !view.Settings.Lobby || view.Expires == nil || !view.Expires.Equal(until) || strings.Contains(view.Title, "Chemie") {
		t.Fatalf("room as stored: %+v", view)
	}
	if title, err := e2ee.DecryptTitle(fragment(part, "k"), view.Title); err != nil || title != "Chemie 9b" {
		t.Fatalf("title under the link's key: %q %v", title, err)
	}

	// A participant knocks with the password; the moderator link gets in and admits.
	guest := srv.dialWS(t)
	if err := guest.SendJoin(map[string]any{"meetingId": id, "name": "Gast", "password": "Kreide-42"}); err != nil {
		t.Fatal(err)
	}
	if m := next(t, guest, "lobby", "welcome", "error"); m.Type != "lobby" {
		t.Fatalf("the participant link: %s %s, want to wait in the lobby", m.Type, m.Payload)
	}
	host := srv.dialWS(t)
	if err := host.JoinWith(context.Background(), map[string]any{"meetingId": id, "name": "Lehrerin", "moderatorSecret": fragment(mod, "mod")}); err != nil {
		t.Fatalf("the moderator link: %v", err)
	}
	if _, err := host.Send("admit_all", nil); err != nil {
		t.Fatal(err)
	}
	if m := next(t, guest, "welcome", "error", "bye"); m.Type != "welcome" {
		t.Fatalf("admitted: %s %s", m.Type, m.Payload)
	}

	// The links again, the same.
	again, err := hostCLI(t, "", "-link", link, "links", id)
	if err != nil {
		t.Fatal(err)
	}
	if p2, m2 := printedLinks(t, again); p2.String() != part.String() || m2.String() != mod.String() {
		t.Fatalf("links again: %s %s, made %s %s", p2, m2, part, mod)
	}
	if only, err := hostCLI(t, "", "-link", link, "links", "-only", "participant", id); err != nil || strings.TrimSpace(only) != part.String() {
		t.Fatalf("-only participant: %q %v", only, err)
	}

	// Rotate: the meeting ends, the old link is refused, the new one is another.
	rotated, err := hostCLI(t, "", "-link", link, "rotate", id)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testclient.Client{guest, host} {
		if m := next(t, c, "bye"); payloadField(t, m, "reason") != "ended" {
			t.Fatalf("the meeting under the old links: %s", m.Payload)
		}
	}
	newPart, newMod := printedLinks(t, rotated)
	newID := linkID(newPart)
	if newID == id || fragment(newPart, "k") == fragment(part, "k") || !strings.Contains(rotated, "Chemie 9b") {
		t.Fatalf("rotated: %q", rotated)
	}
	late := srv.dialWS(t)
	_ = late.SendJoin(map[string]any{"meetingId": id, "name": "Spät", "password": "Kreide-42"})
	if m := next(t, late, "error", "lobby", "welcome"); payloadField(t, m, "code") != "unknown_meeting" {
		t.Fatalf("the old participant link after rotate: %s %s", m.Type, m.Payload)
	}
	if _, err := hostCLI(t, "", "-link", link, "links", id); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Fatalf("links of the old id: %v", err)
	}

	// Set: no waiting room, no password, a new title; the next person walks in.
	// The title from standard input (-title-file -), kept off the command line.
	changed, err := hostCLI(t, "Chemie 9b (Nachholtermin)\n", "-link", link, "set", newID, "-lobby=false", "-no-password", "-title-file", "-", "-standing")
	if err != nil || !strings.Contains(changed, "Changed room") {
		t.Fatalf("set: %q %v", changed, err)
	}
	view = apiRoom{}
	if code := srv.api(t, http.MethodGet, "/api/rooms/"+newID, key, "", &view); code != http.StatusOK {
		t.Fatalf("GET room: %d", code)
	}
	if view.PasswordSet || view.Settings.Lobby || view.Expires != nil {
		t.Fatalf("after set: %+v", view)
	}
	walkIn := srv.dialWS(t)
	if err := walkIn.Join(context.Background(), newID, "Neu"); err != nil {
		t.Fatalf("the new participant link after set: %v", err)
	}
	list, err := hostCLI(t, "", "-link", link, "list")
	if err != nil || !strings.Contains(list, newID) || !strings.Contains(list, "Chemie 9b (Nachholtermin)") || strings.Contains(list, id+" ") {
		t.Fatalf("list: %q %v", list, err)
	}
	if m2 := fragment(newMod, "mod"); m2 == "" {
		t.Fatal("no moderator secret in the new moderator link")
	}

	// Another host link (another rk) lists the room but cannot show its links.
	other := srv.url + "#host=" + key + "&rk=" + newRK(t)
	if l, err := hostCLI(t, "", "-link", other, "list"); err != nil || !strings.Contains(l, "(links not from this host link)") {
		t.Fatalf("list with another rk: %q %v", l, err)
	}
	if _, err := hostCLI(t, "", "-link", other, "links", newID); err == nil || !strings.Contains(err.Error(), "not made from this host link") {
		t.Fatalf("links with another rk: %v", err)
	}

	// Delete: the meeting ends, the link is refused.
	if out, err := hostCLI(t, "", "-link", link, "delete", newID); err != nil || !strings.Contains(out, "Deleted room") {
		t.Fatalf("delete: %q %v", out, err)
	}
	if m := next(t, walkIn, "bye"); payloadField(t, m, "reason") != "ended" {
		t.Fatalf("after delete: %s", m.Payload)
	}
	if l, err := hostCLI(t, "", "-link", link, "list"); err != nil || !strings.Contains(l, "No rooms") {
		t.Fatalf("list after delete: %q %v", l, err)
	}

	// A wrong host key is the server's refusal, typed.
	bad := srv.url + "#host=0123456789ab.wrong&rk=" + rk
	_, err = hostCLI(t, "", "-link", bad, "list")
	if ae, ok := errors.AsType[*roomsAPIError](err); !ok || ae.Status != http.StatusUnauthorized {
		t.Fatalf("wrong host key: %v", err)
	}
}

// TestHostRoomCommandsOverTLS: with a self-signed certificate the commands refuse the
// server until -ca names the certificate; then they work.
func TestHostRoomCommandsOverTLS(t *testing.T) {
	dir := t.TempDir()
	c := testcert.New(t)
	certFile, keyFile := c.WriteFiles(t, dir)
	srv := start(t, "-https", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile, "-http", "")
	if !strings.HasPrefix(srv.url, "https://") {
		t.Fatalf("url %s", srv.url)
	}
	link := srv.url + "#host=" + srv.oneTimeKey(t) + "&rk=" + newRK(t)
	if _, err := hostCLI(t, "", "-link", link, "list"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without -ca: %v", err)
	}
	out, err := hostCLI(t, "", "-link", link, "-ca", certFile, "create", "-title", "TLS")
	if err != nil {
		t.Fatalf("with -ca: %v", err)
	}
	if p, _ := printedLinks(t, out); !strings.HasPrefix(p.String(), srv.url+"m/") {
		t.Fatalf("link %s", p)
	}
}

// TestHostRoomCommandLine: what is wrong with a command line is said before anything is
// sent (here to no server at all), and exits 2.
func TestHostRoomCommandLine(t *testing.T) {
	rk := strings.Repeat("A", 43)
	link := "http://127.0.0.1:9/#host=abc.def&rk=" + rk
	id := strings.Repeat("A", 22)
	for _, args := range [][]string{
		{"-link", link},
		{"-link", link, "frobnicate"},
		{"-link", link, "list", "x"},
		{"-link", link, "links"},
		{"-link", link, "rotate", id, "-title", "x"},
		{"-link", link, "set", id},
		{"-link", link, "create", "-no-password"},
		{"-link", link, "create", "-expires", "2030-01-01T10:00", "-standing"},
		{"-link", link, "set", id, "-ask-password", "-no-password"},
		{"-link", link, "create", "-only", "both"},
		{"-link", link, "list", "-only", "participant"},
		{"-link", link, "-link-file", "x", "list"},
		{"-link-file", "-", "create", "-password-file", "-"},
		{"-link-file", "-", "create", "-title-file", "-"},
		{"-link", link, "create", "-title-file", "-", "-password-file", "-"},
		{"-link", link, "create", "-title", "x", "-title-file", "t"},
		{"-link", link, "rotate", id, "-title-file", "t"},
		{"-link", link, "create", "-expires", "tomorrow"},
		{"-link", link, "create", "-expires", "2001-01-01T10:00"},
	} {
		if _, err := hostCLI(t, "", args...); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	// A bad link is refused without echoing it (it holds secrets).
	for _, bad := range []string{"meet.example.org", "ftp://x/#host=a.b&rk=" + rk, "http://x/#host=a.b", "http://x/#rk=" + rk, "http://x/#host=a.b&rk=short", "http://u:p@x/#host=a.b&rk=" + rk} {
		_, err := hostCLI(t, "", "-link", bad, "list")
		if !errors.Is(err, errBadLink) || strings.Contains(err.Error(), "a.b") {
			t.Errorf("link %q: %v", bad, err)
		}
	}
	if _, err := hostCLI(t, "", "-link", link, "create", "-ask-password"); err == nil || !strings.Contains(err.Error(), "terminal") {
		t.Errorf("-ask-password without a terminal: %v", err)
	}
	if _, err := hostCLI(t, "", "-link", link, "create", "-password-file", "-"); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty password on stdin: %v", err)
	}
	// Through roomCommand: -link decides the mode; host subcommands without it are a usage error.
	if err := roomCommand([]string{"create"}, func(string) string { return "" }, io.Discard, io.Discard); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "-link") {
		t.Errorf("create without -link: %v", err)
	}
}

// TestParseExpires: local times like the web form's, RFC 3339, and refusals.
func TestParseExpires(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, loc)
	for in, want := range map[string]time.Time{
		"2026-12-07T08:00":           time.Date(2026, 12, 7, 8, 0, 0, 0, loc),
		"2026-12-07 08:00":           time.Date(2026, 12, 7, 8, 0, 0, 0, loc),
		"2026-12-07T08:00:00Z":       time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC),
		" 2026-12-07T08:00:00+02:00": time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC),
	} {
		if got, err := parseExpires(in, now); err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "7.12.2026", "2026-12-01T08:59", "2026-13-01T08:00"} {
		if _, err := parseExpires(bad, now); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
