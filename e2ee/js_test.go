package e2ee

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestJavaScript runs the browser modules' Node tests (web/jstest/*.test.mjs),
// which check web/static/js/e2ee/ against testdata/vectors.json and
// testdata/safetycode.json. Without node it skips, unless CI is set: then a
// missing node is a failure.
func TestJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed (CI is set, so this is a failure; .ci/run installs nodejs)")
		}
		t.Skip("node is not installed")
	}
	files, err := filepath.Glob("../web/jstest/*.test.mjs")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Node tests found in ../web/jstest (%v)", err)
	}
	// Read every module and test file: go test caches a result only against the
	// files the test itself opened, so this makes a changed .js or .mjs rerun it.
	modules, _ := filepath.Glob("../web/static/js/e2ee/*.js")
	modules = append(modules, "../web/static/js/rooms-keys.js", roomVectorsPath, safetyVectorsPath, chatVectorsPath)
	for _, f := range append(modules, files...) {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	// A guard against a hung test only, never a verdict on speed: the suite takes about
	// 85 s on a quiet machine (2–3 minutes before its files stopped waiting out their
	// pages' timers) and ran past 5 minutes on a clean-clone .ci/run while other work
	// loaded the machine.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	version, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	v := strings.TrimSpace(string(version))
	major, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(v, "v"), ".", 2)[0])
	if err != nil || major < 18 {
		t.Fatalf("node %s: the E2EE modules need Node 20 or newer", v)
	}
	t.Logf("node %s", v)
	args := []string{"--test"}
	if major < 20 {
		// Node 20 has globalThis.crypto (with X25519) without flags; 18 and 19 need one.
		args = append(args, "--experimental-global-webcrypto")
	}
	cmd := exec.CommandContext(ctx, node, append(args, files...)...)
	cmd.Env = append(os.Environ(), "NODE_OPTIONS=", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("node --test timed out:\n%s", out)
	}
	if err != nil {
		t.Fatalf("node --test %s: %v\n%s", strings.Join(files, " "), err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}
