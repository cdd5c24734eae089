package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"conclave/store"
)

// hostKeyOf reads the key `host add` printed.
func hostKeyOf(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s+([0-9a-f]{12}\.[A-Za-z0-9_-]{43})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no host key in %q", out)
	}
	return m[1]
}

// TestOperatorCommandsWhileServerRuns: with the server running on a data directory,
// `host add` makes a host whose key works at once, `host list` and `room list/show`
// see the server's store, `room delete` ends the room's meeting, and `host remove`
// refuses the key at once and ends the meetings of the host's rooms. The admin socket
// is the owner's only, and the key never reaches the server's output.
func TestOperatorCommandsWhileServerRuns(t *testing.T) {
	env, data, _ := dataEnv(t)
	srv := start(t, "-data", data, "-one-time-key", "off")
	sock := filepath.Join(data, adminSocketName)
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket: %v %v", fi, err)
	}

	var out bytes.Buffer
	if err := hostCommand([]string{"add", "Eve Example"}, env, &out, io.Discard); err != nil {
		t.Fatalf("host add while the server runs: %v", err)
	}
	key := hostKeyOf(t, out.String())
	if !strings.Contains(out.String(), "now") {
		t.Errorf("host add does not say the key works now: %q", out.String())
	}
	if strings.Contains(srv.stderr.String(), key) || strings.Contains(srv.stderr.String(), "Eve") {
		t.Fatalf("the server's log holds the key or the name: %q", srv.stderr.String())
	}
	var made roomMade
	if code := srv.api(t, http.MethodPost, "/api/rooms", key, `{"settings":{"lobby":false}}`, &made); code != http.StatusCreated {
		t.Fatalf("the new host's key at once: %d", code)
	}
	var other roomMade
	if code := srv.api(t, http.MethodPost, "/api/rooms", key, `{"settings":{"lobby":false}}`, &other); code != http.StatusCreated {
		t.Fatalf("second room: %d", code)
	}

	out.Reset()
	if err := hostCommand([]string{"list"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "Eve Example") {
		t.Fatalf("host list: %q %v", out.String(), err)
	}
	out.Reset()
	if err := roomCommand([]string{"list", "-host", "Eve Example"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), made.Room.ID) || !strings.Contains(out.String(), other.Room.ID) {
		t.Fatalf("room list: %q %v", out.String(), err)
	}
	out.Reset()
	if err := roomCommand([]string{"show", made.Room.ID}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "Eve Example") || !strings.Contains(out.String(), "chat") {
		t.Fatalf("room show: %q %v", out.String(), err)
	}
	if err := roomCommand([]string{"list", "-host", "Nobody"}, env, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "no host") {
		t.Fatalf("room list of an unknown host: %v", err)
	}

	// room delete: the meeting going on in it ends, its link is refused.
	inRoom := srv.dialWS(t)
	if err := inRoom.Join(context.Background(), made.Room.ID, "Ada"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := roomCommand([]string{"delete", made.Room.ID}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "Deleted") {
		t.Fatalf("room delete: %q %v", out.String(), err)
	}
	if m := next(t, inRoom, "bye"); payloadField(t, m, "reason") != "ended" {
		t.Fatalf("after room delete: %s", m.Payload)
	}
	if err := roomCommand([]string{"delete", made.Room.ID}, env, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Fatalf("delete again: %v", err)
	}

	// host remove: the key is refused at once, the meeting in the host's room ends.
	inOther := srv.dialWS(t)
	if err := inOther.Join(context.Background(), other.Room.ID, "Bo"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := hostCommand([]string{"remove", "Eve Example"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "1 room(s)") {
		t.Fatalf("host remove: %q %v", out.String(), err)
	}
	if m := next(t, inOther, "bye"); payloadField(t, m, "reason") != "ended" {
		t.Fatalf("after host remove: %s", m.Payload)
	}
	if code := srv.api(t, http.MethodGet, "/api/rooms", key, "", nil); code != http.StatusUnauthorized {
		t.Fatalf("the removed host's key: %d, want 401", code)
	}
	if err := hostCommand([]string{"remove", "Eve Example"}, env, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "no host") {
		t.Fatalf("remove again: %v", err)
	}
	if err := hostCommand([]string{"add", "Bad\x07Name"}, env, io.Discard, io.Discard); err == nil {
		t.Fatal("a name with a control character was added")
	}

	// Stopped: the socket is gone, and the commands open the store themselves.
	srv.stop(t)
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket after the stop: %v", err)
	}
	out.Reset()
	if err := hostCommand([]string{"add", "Fay"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "next start") {
		t.Fatalf("host add while stopped: %q %v", out.String(), err)
	}
}

// TestStaleAdminSocket: a socket file left by a server that died does not answer; the
// commands then open the store themselves, and the next server replaces the file.
func TestStaleAdminSocket(t *testing.T) {
	env, data, _ := dataEnv(t)
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(data, adminSocketName)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	var out bytes.Buffer
	if err := hostCommand([]string{"add", "Gil"}, env, &out, io.Discard); err != nil {
		t.Fatalf("host add beside a stale socket: %v", err)
	}
	key := hostKeyOf(t, out.String())
	srv := start(t, "-data", data, "-one-time-key", "off")
	if code := srv.api(t, http.MethodGet, "/api/rooms", key, "", nil); code != http.StatusOK {
		t.Fatalf("key: %d", code)
	}
	out.Reset()
	if err := hostCommand([]string{"list"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "Gil") {
		t.Fatalf("host list through the new socket: %q %v", out.String(), err)
	}
}

// TestAdminSocketRefusesBadBodies: the socket's parser takes only what `host add` sends.
func TestAdminSocketRefusesBadBodies(t *testing.T) {
	good := `{"id":"0123456789ab","name":"Ann","keyHash":"$hmac-sha256$a2V5$bWFj","created":"2026-01-01T00:00:00Z"}`
	if _, err := decodeAdminHost([]byte(good)); err != nil {
		t.Fatalf("good body: %v", err)
	}
	for _, bad := range []string{
		``, `[]`, `{}`, good + good,
		`{"id":"0123456789ab","name":"Ann","keyHash":"plain","created":"2026-01-01T00:00:00Z"}`,
		`{"id":"XYZ","name":"Ann","keyHash":"$hmac-sha256$a2V5$bWFj"}`,
		`{"id":"0123456789ab","name":"","keyHash":"$hmac-sha256$a2V5$bWFj"}`,
		`{"id":"0123456789ab","name":" Ann","keyHash":"$hmac-sha256$a2V5$bWFj"}`,
		`{"id":"0123456789ab","name":"Ann","keyHash":"$hmac-sha256$a2V5$bWFj","extra":1}`,
	} {
		if _, err := decodeAdminHost([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestAdminRoomListOfManyHosts: the room list over the admin socket holds every room of
// many hosts (each may keep 1000): an answer bound of 4 MiB cut 20,000 rooms short.
func TestAdminRoomListOfManyHosts(t *testing.T) {
	st := store.NewMemory()
	ctx := context.Background()
	now := time.Now()
	for h := range 20 {
		_, e := newHostKey(fmt.Sprintf("Fachbereich Elektrotechnik und Informationstechnik, Lehrstuhl %d", h))
		if err := st.CreateHost(ctx, store.Host{ID: e.ID, Name: e.Name, KeyHash: e.KeyHash, Created: now}); err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			r := store.Room{ID: newRoomID(), HostID: e.ID, Title: "e1." + strings.Repeat("x", 60), Created: now, Expires: now.Add(time.Hour), E2EE: true, PasswordHash: "x", ModeratorMAC: "m"}
			if err := st.CreateRoom(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := serveAdminOn(t, st)
	rows, err := c.Rooms(ctx, "")
	if err != nil || len(rows) != 20_000 {
		t.Fatalf("%d rooms over the socket, want 20000: %v", len(rows), err)
	}
}

// TestCommandsRefuseASocketOthersCouldHavePut: in a data directory other users can
// write in, the admin socket may be anybody's. The commands refuse it instead of telling
// it a new host's name and hash and printing its answers as the server's.
func TestCommandsRefuseASocketOthersCouldHavePut(t *testing.T) {
	env, data, _ := dataEnv(t)
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o777); err != nil {
		t.Fatal(err)
	}
	asked := make(chan string, 10)
	ln, err := net.Listen("unix", filepath.Join(data, adminSocketName))
	if err != nil {
		t.Fatal(err)
	}
	fake := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- r.Method + " " + r.URL.Path
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "[]")
	})}
	go fake.Serve(ln)
	t.Cleanup(func() { fake.Close() })
	for _, args := range [][]string{{"add", "Alice Example"}, {"list"}} {
		var out bytes.Buffer
		err := hostCommand(args, env, &out, io.Discard)
		if !errors.Is(err, store.ErrNotPrivate) {
			t.Errorf("host %v beside a socket in a 0777 directory: %v (%q), want store.ErrNotPrivate", args, err, out.String())
		}
	}
	if err := roomCommand([]string{"list"}, env, io.Discard, io.Discard); !errors.Is(err, store.ErrNotPrivate) {
		t.Errorf("room list: %v, want store.ErrNotPrivate", err)
	}
	select {
	case req := <-asked:
		t.Errorf("the socket in the open directory was asked %s", req)
	default:
	}
}

// TestAdminSocketDotRefs: "." and ".." as a room id or host name are not found over the
// socket, as on the store itself. In a URL path they named other routes (the server's
// mux cleans them away and redirects): room show . printed "answered something
// unreadable" (the list of every room had come back), room delete .. "answered HTTP
// 404", host remove . "HTTP 405", where a stopped server's commands say no room or no host.
func TestAdminSocketDotRefs(t *testing.T) {
	st := store.NewMemory()
	ctx := context.Background()
	_, e := newHostKey("Ann")
	if err := st.CreateHost(ctx, store.Host{ID: e.ID, Name: e.Name, KeyHash: e.KeyHash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateRoom(ctx, store.Room{ID: newRoomID(), HostID: e.ID, ModeratorMAC: "m", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c := serveAdminOn(t, st)
	for _, ref := range []string{".", ".."} {
		if _, err := c.Room(ctx, ref); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("room show %s over the socket: %v, want not found", ref, err)
		}
		if err := c.DeleteRoom(ctx, ref); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("room delete %s over the socket: %v, want not found", ref, err)
		}
		if _, _, err := c.RemoveHost(ctx, ref); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("host remove %s over the socket: %v, want not found", ref, err)
		}
	}
	if rooms, _ := st.AllRooms(ctx); len(rooms) != 1 {
		t.Errorf("rooms after: %d, want 1", len(rooms))
	}
	if hs, _ := st.Hosts(ctx); len(hs) != 1 {
		t.Errorf("hosts after: %d, want 1", len(hs))
	}
}

// serveAdminOn serves st's admin socket in a temporary directory until the test ends and
// returns a client dialled to it.
func serveAdminOn(t *testing.T, st dataStore) *socketOperator {
	t.Helper()
	a, err := startAdmin(t.TempDir(), &storeOperator{st: st}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go a.serve()
	t.Cleanup(func() { _ = a.srv.Close() })
	c, err := dialAdmin(a.path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
