package main

import (
	"strings"
	"testing"
)

// TestOverriddenFileKeysAreLogged: a key of the configuration file that the command
// line or the environment sets again does not count, and the log says so at start. The
// systemd unit passes -data and -metrics on its ExecStart: an operator who writes
// metrics = "10.0.0.5:9464" or metrics = "off" into /etc/conclave/conclave.toml would
// otherwise see the file's setting ignored without a word.
func TestOverriddenFileKeysAreLogged(t *testing.T) {
	path := writeFile(t, "conclave.toml", "metrics = \"off\"\nmax-conns = 500\nknock-timeout = \"5m\"\n")
	r := start(t, "-config", path) // start sets -metrics "" on the command line
	log := r.stderr.String()
	if !strings.Contains(log, `key \"metrics\" is not used: -metrics on the command line overrides it`) {
		t.Errorf("no word of the file's metrics key being overridden: %q", log)
	}
	for _, kept := range []string{`\"max-conns\"`, `\"knock-timeout\"`} {
		if strings.Contains(log, kept) {
			t.Errorf("a key that counts is said to be overridden: %q", log)
		}
	}

	o, err := parseOptions([]string{"-config", path}, envOf(map[string]string{"CONCLAVE_MAX_CONNS": "600"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.overridden) != 1 || !strings.Contains(o.overridden[0], `key "max-conns" is not used: the environment variable CONCLAVE_MAX_CONNS overrides it`) {
		t.Errorf("overridden = %q", o.overridden)
	}
	if o.limits.maxConns != 600 {
		t.Errorf("max-conns %d, want the environment's 600", o.limits.maxConns)
	}
}
