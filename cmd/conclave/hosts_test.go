package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"conclave/secret"
)

// TestHostCommands: add prints a key once and stores only its hash; list shows the host;
// the stored hash verifies the printed key; remove deletes it.
func TestHostCommands(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conclave.toml")
	env := func(k string) string {
		if k == "CONCLAVE_CONFIG" {
			return path
		}
		return ""
	}
	var out bytes.Buffer
	if err := hostCommand([]string{"add", "Alice Admin"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`(?m)^\s+([0-9a-f]{12}\.[A-Za-z0-9_-]{43})$`).FindStringSubmatch(out.String())
	if key == nil {
		t.Fatalf("no key printed: %q", out.String())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	id, sec, _ := strings.Cut(key[1], ".")
	if strings.Contains(string(data), sec) || !strings.Contains(string(data), "$hmac-sha256$") {
		t.Fatalf("config stores the key itself or no hash:\n%s", data)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v", st.Mode().Perm())
	}
	cfg, err := loadConfig(path)
	if err != nil || len(cfg.Hosts) != 1 || cfg.Hosts[0].ID != id || cfg.Hosts[0].Name != "Alice Admin" {
		t.Fatalf("config %+v %v", cfg, err)
	}
	ok, err := secret.NewHasher(secret.DefaultParams, 1).Verify(context.Background(), sec, cfg.Hosts[0].KeyHash)
	if err != nil || !ok {
		t.Fatalf("stored hash does not verify the printed key: %v %v", ok, err)
	}
	if err := hostCommand([]string{"add", "Alice Admin"}, env, io.Discard, io.Discard); err == nil {
		t.Fatal("duplicate host name accepted")
	}
	out.Reset()
	if err := hostCommand([]string{"list"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "Alice Admin") || strings.Contains(out.String(), sec) {
		t.Fatalf("list: %q %v", out.String(), err)
	}
	if err := hostCommand([]string{"remove", "Alice Admin"}, env, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if cfg, _ := loadConfig(path); len(cfg.Hosts) != 0 {
		t.Fatalf("host not removed: %+v", cfg)
	}
	for _, bad := range [][]string{{}, {"add"}, {"remove", "nobody"}, {"frobnicate"}} {
		if err := hostCommand(bad, env, io.Discard, io.Discard); err == nil {
			t.Errorf("host %v accepted", bad)
		}
	}
}
