package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
)

// running is one run() of the server that the test stops itself.
type running struct {
	url    string      // the address it printed to open
	stdout string      // what it printed up to its start message
	stderr *syncBuffer // its log, as it grows
	cancel context.CancelFunc
	done   chan error
}

// start runs the server until it has printed its start message, on loopback, with no
// configuration file, no data directory, no metrics listener and a one-time key; args
// come after those and override them. The server is stopped when the test ends, or
// earlier with stop.
func start(t *testing.T, args ...string) *running {
	t.Helper()
	args = append([]string{"-http", "127.0.0.1:0", "-media-udp", "127.0.0.1:0", "-media-tcp", "", "-loopback",
		"-config", "", "-data", "", "-metrics", "", "-one-time-key", "print"}, args...)
	opts, err := parseOptions(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	r := &running{stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx, opts, &out, r.stderr) }()
	t.Cleanup(func() { r.stop(t) })
	re := regexp.MustCompile(`Open (https?://\S+)`)
	deadline := time.Now().Add(conntest.Wait) // a bound on hanging, not a verdict
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil && strings.Contains(out.String(), "Media:") {
			r.url, r.stdout = m[1], out.String()
			return r
		}
		select {
		case err := <-r.done:
			r.cancel = nil
			t.Fatalf("run returned %v; stderr %q", err, r.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not started; stdout %q stderr %q", out.String(), r.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop ends the server and waits until it has let go of the data directory.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(conntest.Wait):
		t.Fatal("run did not return after cancel")
	}
	http.DefaultClient.CloseIdleConnections()
}
