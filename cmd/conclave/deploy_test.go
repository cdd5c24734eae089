package main

import (
	"os"
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
