package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"conclave/secret"
)

// TestLoopbackWarning: on a loopback address without -behind-proxy the server warns at
// start that a proxy in front would make every client one address; with -behind-proxy
// it does not.
func TestLoopbackWarning(t *testing.T) {
	if log := start(t).stderr.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "without -behind-proxy") {
		t.Fatalf("no warning on loopback without -behind-proxy: %q", log)
	}
	if log := start(t, "-behind-proxy").stderr.String(); strings.Contains(log, "without -behind-proxy") {
		t.Fatalf("warning with -behind-proxy: %q", log)
	}
}

func TestTrustedProxiesFlag(t *testing.T) {
	none := func(string) string { return "" }
	o, err := parseOptions(nil, none, io.Discard)
	if err != nil || len(o.proxies) != 2 || o.proxies[0].String() != "127.0.0.0/8" || o.proxies[1].String() != "::1/128" {
		t.Fatalf("default trusted proxies %v %v", o.proxies, err)
	}
	o, err = parseOptions([]string{"-behind-proxy", "-trusted-proxies", "10.0.0.0/8, 192.0.2.7"}, none, io.Discard)
	if err != nil || !o.behindProxy || len(o.proxies) != 2 || o.proxies[1].String() != "192.0.2.7/32" {
		t.Fatalf("-trusted-proxies: %+v %v", o, err)
	}
	env := map[string]string{"CONCLAVE_BEHIND_PROXY": "1", "CONCLAVE_TRUSTED_PROXIES": "172.16.0.0/12"}
	o, err = parseOptions(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || !o.behindProxy || len(o.proxies) != 1 || o.proxies[0].String() != "172.16.0.0/12" {
		t.Fatalf("environment: %+v %v", o, err)
	}
	for _, bad := range []string{"proxy.example.org", "10.0.0.0/99", "1.2.3.4:80"} {
		if _, err := parseOptions([]string{"-trusted-proxies", bad}, none, io.Discard); err == nil {
			t.Errorf("-trusted-proxies %q accepted", bad)
		}
	}
}

// TestLegacyHostEntry: a configuration file written before keyed hashes (argon2id
// entries) still authenticates its hosts.
func TestLegacyHostEntry(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	old, err := h.Hash(context.Background(), "legacy-secret")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "conclave.toml")
	if err := os.WriteFile(path, []byte("[[host]]\nid = \"0123456789ab\"\nname = \"Old\"\nkey_hash = '"+old+"'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(path)
	if err != nil || len(cfg.Hosts) != 1 {
		t.Fatalf("config %+v %v", cfg, err)
	}
	for sec, want := range map[string]bool{"legacy-secret": true, "legacy-secreT": false} {
		if ok, err := h.Verify(context.Background(), sec, cfg.Hosts[0].KeyHash); ok != want || err != nil {
			t.Fatalf("legacy entry, %q: %v %v", sec, ok, err)
		}
	}
}
