package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"conclave/store"
)

// writeOldConfig writes a configuration file as `conclave host add` wrote it before the
// data directory, with hosts made by newHostKey, and returns their keys.
func writeOldConfig(t *testing.T, path string, names ...string) (keys []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# Conclave configuration. Host keys are stored as keyed hashes only.\n")
	for _, name := range names {
		key, e := newHostKey(name)
		keys = append(keys, key)
		b.WriteString("[[host]]\nid = \"" + e.ID + "\"\nname = \"" + e.Name + "\"\nkey_hash = '" + e.KeyHash + "'\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestImportFromConfig: the hosts of an older conclave.toml move into the data
// directory at the first start, once: the log says how many, never who; a later start
// imports nothing, and a host removed meanwhile stays removed.
func TestImportFromConfig(t *testing.T) {
	env, data, config := dataEnv(t)
	writeOldConfig(t, config, "Alice Admin", "Bob Builder")
	o, err := parseOptions(nil, env, io.Discard)
	if err != nil || o.data != data || o.config != config {
		t.Fatalf("options %+v %v", o, err)
	}
	start := func() (string, []string) {
		st, err := openStore(o.data)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var logged bytes.Buffer
		hosts, err := startHosts(context.Background(), st, o, slog.New(slog.NewTextHandler(&logged, nil)))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, h := range hosts {
			names = append(names, h.Name)
		}
		return logged.String(), names
	}
	log, names := start()
	if strings.Join(names, ",") != "Alice Admin,Bob Builder" || !strings.Contains(log, "hosts=2") {
		t.Fatalf("first start: hosts %v, log %q", names, log)
	}
	if strings.Contains(log, "Alice") || strings.Contains(log, "Bob") {
		t.Fatalf("the log names hosts: %q", log)
	}
	if err := hostCommand([]string{"remove", "Bob Builder"}, env, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	log, names = start()
	if strings.Join(names, ",") != "Alice Admin" || strings.Contains(log, "hosts=") || !strings.Contains(log, "not read") {
		t.Fatalf("second start: hosts %v, log %q", names, log)
	}
	// The host commands see the imported hosts too, even before the server's first
	// start with a data directory.
	env2, _, config2 := dataEnv(t)
	writeOldConfig(t, config2, "Carol")
	var out, errOut bytes.Buffer
	if err := hostCommand([]string{"list"}, env2, &out, &errOut); err != nil || !strings.Contains(out.String(), "Carol") || !strings.Contains(errOut.String(), "Moved 1 host(s)") {
		t.Fatalf("host list before the first start: %q %q %v", out.String(), errOut.String(), err)
	}
}

// TestServerUsesStoredHosts: a host added with `conclave host add` creates meetings on
// a server started with that data directory, and no one-time key is printed; the host's
// name is not in the log.
func TestServerUsesStoredHosts(t *testing.T) {
	env, data, _ := dataEnv(t)
	var out bytes.Buffer
	if err := hostCommand([]string{"add", "Dana Director"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`(?m)^\s+([0-9a-f]{12}\.\S+)$`).FindStringSubmatch(out.String())[1]
	srv := start(t, "-data", data)
	url, stdout, stderr := srv.url, srv.stdout, srv.stderr
	if strings.Contains(stdout, "one-time") || !strings.Contains(stdout, "1 host(s)") {
		t.Fatalf("stdout %q", stdout)
	}
	for auth, want := range map[string]int{"Bearer " + key: http.StatusCreated, "Bearer " + key + "x": http.StatusUnauthorized} {
		req, _ := http.NewRequest(http.MethodPost, url+"api/meetings", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("create meeting: %s, want %d", resp.Status, want)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	if strings.Contains(stderr.String(), "Dana") {
		t.Errorf("the log names the host: %q", stderr.String())
	}
}

// TestRoomCommands: room list shows each room's id, host, times, settings and whether
// it has a password and a title, never the title's bytes or a hash; -host narrows it;
// delete removes one room and its links.
func TestRoomCommands(t *testing.T) {
	env, data, _ := dataEnv(t)
	for _, name := range []string{"Alice", "Bob"} {
		if err := hostCommand([]string{"add", name}, env, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	hs := storedHosts(t, data)
	alice, bob := hs[0].ID, hs[1].ID
	st, err := store.OpenBolt(data)
	if err != nil {
		t.Fatal(err)
	}
	// Times relative to now (the commands compare with the real clock): a room made a
	// day ago that expires in two days, shown to the minute.
	created := time.Now().UTC().Truncate(time.Minute).Add(-24 * time.Hour)
	minute := func(at time.Time) string { return at.Format("2006-01-02 15:04") + " UTC" }
	rooms := []store.Room{
		{ID: "AAAAAAAAAAAAAAAAAAAAAA", HostID: alice, Title: "e1.SECRETCIPHERTEXT", PasswordHash: "$argon2id$HASHBYTES", E2EE: true,
			Settings: store.Settings{Lobby: true, Chat: true}, Created: created, Expires: created.Add(72 * time.Hour), ModeratorMAC: "$hmac-sha256$MACBYTES"},
		{ID: "BBBBBBBBBBBBBBBBBBBBBB", HostID: bob, Created: created.Add(time.Hour)},
		{ID: "CCCCCCCCCCCCCCCCCCCCCC", HostID: alice, Created: created.Add(2 * time.Hour), Expires: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, r := range rooms {
		if err := st.CreateRoom(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	list := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := roomCommand(append([]string{"list"}, args...), env, &out, io.Discard); err != nil {
			t.Fatalf("room list %v: %v", args, err)
		}
		return out.String()
	}
	all := list()
	lines := strings.Split(strings.TrimSpace(all), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("room list:\n%s", all)
	}
	for i, want := range [][]string{
		{"AAAAAAAAAAAAAAAAAAAAAA", "Alice", minute(created), minute(created.Add(72 * time.Hour)), "e2ee,lobby,chat", "yes", "(encrypted title)"},
		{"BBBBBBBBBBBBBBBBBBBBBB", "Bob", "never", " no "},
		{"CCCCCCCCCCCCCCCCCCCCCC", "Alice", "2000-01-01 00:00 UTC (expired)"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("row %d lacks %q: %q", i+1, w, lines[i+1])
			}
		}
	}
	for _, secretish := range []string{"SECRETCIPHERTEXT", "HASHBYTES", "MACBYTES", "argon2", "hmac"} {
		if strings.Contains(all, secretish) {
			t.Errorf("room list shows %q:\n%s", secretish, all)
		}
	}
	if bobs := list("--host", "Bob"); strings.Contains(bobs, "AAAA") || !strings.Contains(bobs, "BBBB") {
		t.Errorf("--host Bob:\n%s", bobs)
	}
	if err := roomCommand([]string{"list", "-host", "Nobody"}, env, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), `no host "Nobody"`) {
		t.Errorf("unknown host: %v", err)
	}
	// show: the same fields as list, one room, a field a line.
	var shown bytes.Buffer
	if err := roomCommand([]string{"show", "AAAAAAAAAAAAAAAAAAAAAA"}, env, &shown, io.Discard); err != nil {
		t.Fatalf("room show: %v", err)
	}
	for _, w := range []string{"id:        AAAAAAAAAAAAAAAAAAAAAA\n", "host:      Alice\n", "created:   " + minute(created) + "\n", "expires:   " + minute(created.Add(72*time.Hour)) + "\n",
		"settings:  e2ee,lobby,chat\n", "password:  yes\n", "title:     (encrypted title)\n"} {
		if !strings.Contains(shown.String(), w) {
			t.Errorf("room show lacks %q:\n%s", w, shown.String())
		}
	}
	for _, secretish := range []string{"SECRETCIPHERTEXT", "HASHBYTES", "MACBYTES", "argon2", "hmac"} {
		if strings.Contains(shown.String(), secretish) {
			t.Errorf("room show shows %q:\n%s", secretish, shown.String())
		}
	}
	if err := roomCommand([]string{"show", "ZZZZZZZZZZZZZZZZZZZZZZ"}, env, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Errorf("show unknown: %v", err)
	}
	var out bytes.Buffer
	if err := roomCommand([]string{"delete", "AAAAAAAAAAAAAAAAAAAAAA"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "Deleted") {
		t.Fatalf("delete: %q %v", out.String(), err)
	}
	if after := list(); strings.Contains(after, "AAAA") || !strings.Contains(after, "BBBB") {
		t.Errorf("after delete:\n%s", after)
	}
	if err := roomCommand([]string{"delete", "AAAAAAAAAAAAAAAAAAAAAA"}, env, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Errorf("delete again: %v", err)
	}
	for _, bad := range [][]string{{}, {"list", "x"}, {"delete"}, {"delete", "a", "b"}, {"delete", "a", "-host", "Bob"}, {"show"}, {"show", "a", "b"}, {"show", "a", "-host", "Bob"}, {"rename"}} {
		if err := roomCommand(bad, env, io.Discard, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("room %v: %v, want a usage error", bad, err)
		}
	}
	if err := roomCommand([]string{"-data", "", "list"}, env, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "memory") {
		t.Errorf(`-data "": %v`, err)
	}
}

// TestCommandsWhileServerRuns: while another process holds the data directory (here
// the test itself, as the server would), host and room commands exit 1 saying the
// server holds it, and change nothing.
func TestCommandsWhileServerRuns(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	st, err := store.OpenBolt(data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, args := range [][]string{
		{"room", "-data", data, "list"},
		{"room", "-data", data, "delete", "AAAAAAAAAAAAAAAAAAAAAA"},
		{"host", "-data", data, "add", "Eve"},
	} {
		code, stdout, stderr := runMain(t, args...)
		if code != 1 || !strings.Contains(stderr, store.ErrLocked.Error()) || !strings.Contains(stderr, data) {
			t.Errorf("conclave %s: exit %d, stdout %q, stderr %q; want exit 1 and the locked message", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	if hs, _ := st.Hosts(context.Background()); len(hs) != 0 {
		t.Errorf("a host was added: %+v", hs)
	}
}

// TestServerRefusesBadDataDir: a damaged database or a data directory that cannot be
// made stops the server at start, exit 1, with the path in the message.
func TestServerRefusesBadDataDir(t *testing.T) {
	damaged := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(damaged, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(damaged, store.FileName), bytes.Repeat([]byte("garbage!"), 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{damaged: "damaged", filepath.Join(file, "data"): "not a directory"} {
		code, stdout, stderr := runMain(t, "-data", dir)
		if code != 1 || !strings.Contains(stderr, dir) || !strings.Contains(stderr, want) || strings.Contains(stdout, "running") {
			t.Errorf("-data %s: exit %d, stdout %q, stderr %q", dir, code, stdout, stderr)
		}
	}
}

// TestNoDataWritesNothing: a server with -data "" and its one-time key writes nothing
// where it runs (or anywhere: the configuration file is elsewhere and missing).
func TestNoDataWritesNothing(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	stdout := start(t, "-data", "").stdout
	if !strings.Contains(stdout, "one-time") {
		t.Fatalf("stdout %q", stdout)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("written where it runs: %v %v", entries, err)
	}
}

// TestCommandsThatReadMakeNoDataDirectory: a mistyped -data (or none, in the wrong
// working directory) given to a command that lists, shows or removes is an error naming
// the path, and leaves nothing behind: it made a new data directory with an empty
// database and answered "No hosts in …" as if the server had none. Only host add makes
// one (and a first command that moves an older configuration file's hosts in).
func TestCommandsThatReadMakeNoDataDirectory(t *testing.T) {
	env, data, _ := dataEnv(t)
	for _, args := range [][]string{
		{"host", "list"},
		{"host", "remove", "Alice Example"},
		{"room", "list"},
		{"room", "list", "-host", "Alice Example"},
		{"room", "show", "AAAAAAAAAAAAAAAAAAAAAA"},
		{"room", "delete", "AAAAAAAAAAAAAAAAAAAAAA"},
	} {
		var out bytes.Buffer
		cmd := map[string]func([]string, func(string) string, io.Writer, io.Writer) error{"host": hostCommand, "room": roomCommand}[args[0]]
		err := cmd(args[1:], env, &out, io.Discard)
		if !errors.Is(err, store.ErrNoDatabase) || !strings.Contains(err.Error(), data) || errors.Is(err, errUsage) {
			t.Errorf("conclave %s on a missing data directory: %v (%q), want store.ErrNoDatabase naming %s", strings.Join(args, " "), err, out.String(), data)
		}
		if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("conclave %s made the data directory: %v", strings.Join(args, " "), err)
		}
	}
	// An existing directory without a database (a mistyped -data that names some other
	// directory) gets none either.
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := hostCommand([]string{"list"}, env, io.Discard, io.Discard); !errors.Is(err, store.ErrNoDatabase) {
		t.Errorf("host list in a directory without a database: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, store.FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a database was made: %v", err)
	}
	// host add makes it, and then the others work.
	if err := hostCommand([]string{"add", "Alice Example"}, env, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := hostCommand([]string{"list"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "Alice Example") {
		t.Fatalf("host list after add: %q %v", out.String(), err)
	}
}
