package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSystemdUnitHardened: deploy/conclave.service keeps its hardening, a data and a
// configuration directory, and never asks for the one-time key to be printed (its
// stdout is the journal).
func TestSystemdUnitHardened(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/conclave.service")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string][]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("not a directive: %q", line)
		}
		set[k] = append(set[k], v)
	}
	for k, want := range map[string]string{
		"DynamicUser": "yes", "StateDirectory": "conclave", "ConfigurationDirectory": "conclave",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE", "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
		"SystemCallFilter": "@system-service", "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes",
		"RestrictNamespaces": "yes", "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
	} {
		if v := set[k]; len(v) == 0 || v[0] != want {
			t.Errorf("%s=%v, want %s", k, v, want)
		}
	}
	exec := strings.Join(set["ExecStart"], " ")
	for _, want := range []string{"-data /var/lib/conclave", "-config /etc/conclave/conclave.toml", "-metrics localhost:"} {
		if !strings.Contains(exec, want) {
			t.Errorf("ExecStart %q lacks %q", exec, want)
		}
	}
	if strings.Contains(exec, "-one-time-key") || strings.Contains(exec, "CONCLAVE_ONE_TIME_KEY") || strings.Contains(string(raw), "CONCLAVE_ONE_TIME_KEY") {
		t.Errorf("the unit sets -one-time-key: a key would go to the journal")
	}
}

// TestSystemdUnitVerifies: systemd itself accepts deploy/conclave.service (no unknown
// or misspelt directive, which systemd would otherwise ignore with only a log line, and
// the hardening would silently not apply) and rates its exposure low. The binary's path
// is swapped for this test's own executable, so the unit verifies without an install.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (systemd machines have it)")
	}
	raw, err := os.ReadFile("../../deploy/conclave.service")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(raw), "ExecStart=/usr/local/bin/conclave ", "ExecStart="+self+" ")
	if unit == string(raw) {
		t.Fatal("ExecStart no longer starts /usr/local/bin/conclave; update this test with the unit")
	}
	path := filepath.Join(t.TempDir(), "conclave.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(analyze, "security", "--offline=true", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for conclave.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Errorf("exposure level %.1f, want at most 2.0 (systemd's scale: 0 safest, 10 exposed):\n%s", level, out)
	}
}
