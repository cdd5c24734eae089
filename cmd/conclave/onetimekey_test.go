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

// TestOneTimeKeyNotInTheJournal: with no hosts, a server whose stdout is not a terminal
// (a service: systemd sends stdout to the journal) makes no one-time key and prints
// none, and tells how to add a host; on a terminal, or with -one-time-key print, the key
// is printed and works; with off there is no key even on a terminal.
func TestOneTimeKeyNotInTheJournal(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		tty     bool
		wantKey bool
	}{
		{"auto", false, false},
		{"auto", true, true},
		{"print", false, true},
		{"off", true, false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			opts, err := parseOptions([]string{"-http", "127.0.0.1:0", "-media-udp", "127.0.0.1:0", "-media-tcp", "", "-metrics", "",
				"-one-time-key", tc.mode, "-config", "", "-data", ""}, func(string) string { return "" }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			opts.stdoutTTY = tc.tty
			ctx, cancel := context.WithCancel(context.Background())
			var stdout, stderr syncBuffer
			done := make(chan error, 1)
			go func() { done <- run(ctx, opts, &stdout, &stderr) }()
			defer func() {
				cancel()
				select {
				case <-done:
				case <-time.After(conntest.Wait):
					t.Error("run did not return")
				}
			}()
			var base string
			deadline := time.Now().Add(conntest.Wait)
			for !strings.Contains(stdout.String(), "Media:") {
				if time.Now().After(deadline) {
					t.Fatalf("no start message: %q", stdout.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			out := stdout.String() + stderr.String()
			base = regexp.MustCompile(`Open (http://\S+)`).FindStringSubmatch(out)[1]
			key := regexp.MustCompile(`#host=(\S+)`).FindStringSubmatch(out)
			if (key != nil) != tc.wantKey {
				t.Fatalf("key printed: %v, want %v; output %q", key != nil, tc.wantKey, out)
			}
			if !tc.wantKey {
				if !strings.Contains(out, "conclave host add") {
					t.Errorf("no hint to add a host: %q", out)
				}
				return
			}
			req, _ := http.NewRequest(http.MethodPost, base+"api/meetings", nil)
			req.Header.Set("Authorization", "Bearer "+key[1])
			req.Close = true
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("the printed key does not create a meeting: %s", resp.Status)
			}
		})
	}
	if _, err := parseOptions([]string{"-one-time-key", "maybe"}, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), "-one-time-key") {
		t.Fatalf("a bad -one-time-key value: %v", err)
	}
	o, err := parseOptions(nil, func(k string) string {
		return map[string]string{"CONCLAVE_ONE_TIME_KEY": "off", "CONCLAVE_METRICS": ""}[k]
	}, io.Discard)
	if err != nil || o.oneTimeKey != "off" || o.metricsAddr != "localhost:9464" {
		t.Fatalf("env defaults: %+v %v", o, err)
	}
	// "off" disables the metrics listener (an empty variable means unset).
	if ops, err := startMetrics("off", nil, nil, nil, nil, nil, nil, nil, nil); ops != nil || err != nil {
		t.Fatalf("-metrics off: %v %v", ops, err)
	}
}
