package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"conclave/secret"
	"conclave/store"
)

// dataEnv is an environment with CONCLAVE_DATA and CONCLAVE_CONFIG set to paths in a
// fresh temporary directory (the config file does not exist unless a test writes it).
func dataEnv(t *testing.T) (env func(string) string, data, config string) {
	t.Helper()
	dir := t.TempDir()
	data, config = filepath.Join(dir, "data"), filepath.Join(dir, "conclave.toml")
	return func(k string) string {
		return map[string]string{"CONCLAVE_DATA": data, "CONCLAVE_CONFIG": config}[k]
	}, data, config
}

// storedHosts opens the data directory and returns its hosts.
func storedHosts(t *testing.T, data string) []store.Host {
	t.Helper()
	st, err := store.OpenBolt(data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hs, err := st.Hosts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// TestHostCommands: add prints a key once and stores only its keyed hash in the data
// directory; list shows the host; the stored hash verifies the printed key; remove
// deletes it and its rooms; nothing is written to the configuration file.
func TestHostCommands(t *testing.T) {
	env, data, config := dataEnv(t)
	var out bytes.Buffer
	if err := hostCommand([]string{"add", "Alice Admin"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`(?m)^\s+([0-9a-f]{12}\.[A-Za-z0-9_-]{43})$`).FindStringSubmatch(out.String())
	if key == nil {
		t.Fatalf("no key printed: %q", out.String())
	}
	id, sec, _ := strings.Cut(key[1], ".")
	raw, err := os.ReadFile(filepath.Join(data, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(sec)) || !bytes.Contains(raw, []byte("$hmac-sha256$")) {
		t.Fatal("the data directory stores the key itself or no keyed hash")
	}
	if _, err := os.Stat(config); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the configuration file was written: %v", err)
	}
	hs := storedHosts(t, data)
	if len(hs) != 1 || hs[0].ID != id || hs[0].Name != "Alice Admin" {
		t.Fatalf("stored hosts %+v", hs)
	}
	ok, err := secret.NewHasher(secret.DefaultParams, 1).Verify(context.Background(), sec, hs[0].KeyHash)
	if err != nil || !ok {
		t.Fatalf("stored hash does not verify the printed key: %v %v", ok, err)
	}
	if err := hostCommand([]string{"add", "Alice Admin"}, env, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("duplicate host name: %v", err)
	}
	out.Reset()
	if err := hostCommand([]string{"list"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "Alice Admin") || strings.Contains(out.String(), sec) {
		t.Fatalf("list: %q %v", out.String(), err)
	}
	// A room of Alice's goes with her.
	st, err := store.OpenBolt(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateRoom(context.Background(), store.Room{ID: "room-of-alice", HostID: id}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out.Reset()
	if err := hostCommand([]string{"remove", "Alice Admin"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "1 room(s)") {
		t.Fatalf("remove: %q %v", out.String(), err)
	}
	if hs := storedHosts(t, data); len(hs) != 0 {
		t.Fatalf("host not removed: %+v", hs)
	}
	out.Reset()
	if err := roomCommand([]string{"list"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "No rooms") {
		t.Fatalf("the removed host's room is left: %q %v", out.String(), err)
	}
	for _, bad := range [][]string{{}, {"add"}, {"list", "extra"}, {"frobnicate"}, {"-nope", "list"}} {
		if err := hostCommand(bad, env, io.Discard, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("host %v: %v, want a usage error", bad, err)
		}
	}
	// "." and ".." are no names: the admin socket could not name such a host.
	for _, name := range []string{".", ".."} {
		if err := hostCommand([]string{"add", name}, env, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not . or ..") {
			t.Errorf("host add %q: %v", name, err)
		}
	}
	if err := hostCommand([]string{"remove", "nobody"}, env, io.Discard, io.Discard); err == nil || errors.Is(err, errUsage) {
		t.Errorf("remove nobody: %v", err)
	}
	// Flags after the subcommand count too.
	other := filepath.Join(t.TempDir(), "other")
	if err := hostCommand([]string{"add", "Bob", "-data", other}, env, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if hs := storedHosts(t, other); len(hs) != 1 || hs[0].Name != "Bob" {
		t.Fatalf("-data after add: %+v", hs)
	}
}

// TestHostCommandsWithoutData: with -data "" a change would be kept nowhere, so add and
// remove refuse and write nothing; list shows what such a server would use.
func TestHostCommandsWithoutData(t *testing.T) {
	env, data, _ := dataEnv(t)
	for _, args := range [][]string{{"-data", "", "add", "Alice"}, {"-data", "", "remove", "Alice"}} {
		err := hostCommand(args, env, io.Discard, io.Discard)
		if !errors.Is(err, errNoData) || !strings.Contains(err.Error(), "kept nowhere") {
			t.Errorf("host %v: %v", args, err)
		}
	}
	var out bytes.Buffer
	if err := hostCommand([]string{"-data", "", "list"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "No hosts in memory") {
		t.Errorf("list: %q %v", out.String(), err)
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("something was written: %v", err)
	}
}

// TestHostNameFromAFile: -name-file keeps a host's name off the command line (ps, the
// shell's history): add reads it from standard input or a file, remove too, and a name
// given both ways, or to list, is a usage error that changes nothing.
func TestHostNameFromAFile(t *testing.T) {
	env, data, _ := dataEnv(t)
	var out bytes.Buffer
	if err := hostCommandIO([]string{"-name-file", "-", "add"}, env, strings.NewReader("Dr. Clara Chemie\n"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if hs := storedHosts(t, data); len(hs) != 1 || hs[0].Name != "Dr. Clara Chemie" {
		t.Fatalf("add -name-file -: %+v", hs)
	}
	for _, bad := range [][]string{{"-name-file", "-", "add", "Other"}, {"-name-file", "-", "list"}, {"remove", "-name-file", "-", "Dr. Clara Chemie"}} {
		if err := hostCommandIO(bad, env, strings.NewReader("Someone Else\n"), io.Discard, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("host %v: %v, want a usage error", bad, err)
		}
	}
	if err := hostCommandIO([]string{"add", "-name-file", filepath.Join(t.TempDir(), "missing")}, env, strings.NewReader(""), io.Discard, io.Discard); err == nil {
		t.Error("a missing name file added a host")
	}
	if err := hostCommandIO([]string{"-name-file", "-", "add"}, env, strings.NewReader("bad\x07name"), io.Discard, io.Discard); err == nil {
		t.Error("a name with a control character was added")
	}
	if hs := storedHosts(t, data); len(hs) != 1 {
		t.Fatalf("a refused command changed the hosts: %+v", hs)
	}
	file := filepath.Join(t.TempDir(), "name")
	if err := os.WriteFile(file, []byte("\ufeff  Dr. Clara Chemie \n"), 0o600); err != nil { // saved with a byte-order mark
		t.Fatal(err)
	}
	out.Reset()
	if err := hostCommandIO([]string{"remove", "-name-file", file}, env, strings.NewReader(""), &out, io.Discard); err != nil || !strings.Contains(out.String(), `"Dr. Clara Chemie"`) {
		t.Fatalf("remove -name-file: %q %v", out.String(), err)
	}
	if hs := storedHosts(t, data); len(hs) != 0 {
		t.Fatalf("not removed: %+v", hs)
	}
}

// TestHostNamedLikeAnotherHostsID: a reference that is one host's id and another's name
// (an older configuration file's host could be so named) removes neither, over the
// store and over the running server's admin socket, and says which id the named host
// has; each host is still removed by its own id. `host add` refuses such a name.
func TestHostNamedLikeAnotherHostsID(t *testing.T) {
	env, data, _ := dataEnv(t)
	st, err := store.OpenBolt(data)
	if err != nil {
		t.Fatal(err)
	}
	const first, second = "a1a1a1a1a1a1", "b2b2b2b2b2b2"
	ctx := context.Background()
	for _, h := range []store.Host{{ID: first, Name: "Alice Admin"}, {ID: second, Name: first}} {
		h.KeyHash, h.Created = secret.KeyedHash(secret.Random(32)), time.Now()
		if err := st.CreateHost(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	over := map[string]interface {
		RemoveHost(context.Context, string) (hostRow, int, error)
	}{"store": &storeOperator{st: st}, "admin socket": serveAdminOn(t, st)}
	for via, op := range over {
		_, _, err := op.RemoveHost(ctx, first)
		if err == nil || !strings.Contains(err.Error(), second) {
			t.Fatalf("over the %s: removing %q: %v, want an error naming the named host's id", via, first, err)
		}
		if hs, _ := st.Hosts(ctx); len(hs) != 2 {
			t.Fatalf("over the %s: an ambiguous reference removed a host: %+v", via, hs)
		}
	}
	if h, _, err := over["admin socket"].RemoveHost(ctx, second); err != nil || h.Name != first {
		t.Fatalf("removing by the named host's id: %+v %v", h, err)
	}
	if h, _, err := over["store"].RemoveHost(ctx, first); err != nil || h.Name != "Alice Admin" {
		t.Fatalf("removing by the id once unambiguous: %+v %v", h, err)
	}
	st.Close()
	for _, name := range []string{first, "0123456789ab"} {
		if err := hostCommand([]string{"add", name}, env, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "form of a host id") {
			t.Errorf("host add %q: %v, want refused", name, err)
		}
	}
	if err := hostCommand([]string{"add", "0123456789AB"}, env, io.Discard, io.Discard); err != nil {
		t.Errorf("a name in capitals is no id (ids are lower case): %v", err)
	}
}
