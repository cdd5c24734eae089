package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while the server writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunServesAndShutsDown: the binary's run function serves the web client and the
// API with no config, prints the URL, and returns cleanly when its context ends.
func TestRunServesAndShutsDown(t *testing.T) {
	cfgPath := "" // no configuration file, no hosts: a one-time key is printed
	opts, err := parseOptions([]string{"-http", "127.0.0.1:0", "-media-udp", "127.0.0.1:0", "-media-tcp", "127.0.0.1:0", "-metrics", "", "-one-time-key", "print", "-config", cfgPath, "-data", ""}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, opts, &stdout, &stderr) }()

	var url string
	re := regexp.MustCompile(`Open (http://\S+)`)
	deadline := time.Now().Add(10 * time.Second)
	for url == "" && time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if url == "" {
		t.Fatalf("no URL printed; stdout %q stderr %q", stdout.String(), stderr.String())
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Conclave") {
		t.Fatalf("landing page: %s %q", resp.Status, body)
	}
	key := regexp.MustCompile(`#host=(\S+)`).FindStringSubmatch(stdout.String())
	if key == nil {
		t.Fatalf("no one-time host key printed: %q", stdout.String())
	}
	for _, tc := range []struct {
		auth string
		want int
	}{{"", http.StatusUnauthorized}, {"Bearer " + key[1] + "x", http.StatusUnauthorized}, {"Bearer " + key[1], http.StatusCreated}} {
		req, _ := http.NewRequest(http.MethodPost, url+"api/meetings", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("create meeting with %q: %s, want %d", tc.auth, resp.Status, tc.want)
		}
	}
	http.DefaultClient.CloseIdleConnections()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	env := map[string]string{"CONCLAVE_HTTP": ":9999", "CONCLAVE_MEDIA_TCP": ""}
	o, err := parseOptions(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.httpAddr != ":9999" || o.mediaUDP != ":10000" || o.mediaTCP != ":10000" {
		t.Fatalf("options %+v", o)
	}
	o, err = parseOptions([]string{"-media-tcp", ""}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || o.mediaTCP != "" {
		t.Fatalf("-media-tcp '' should disable ICE-TCP: %+v %v", o, err)
	}
	if _, err := parseOptions([]string{"-nope"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Fatal("unknown flag accepted")
	}
	if u := openURL(mustAddr("[::]:8080"), ":8080"); u != "http://localhost:8080/" {
		t.Fatalf("openURL = %s", u)
	}
}

// TestLimitFlags: the connection and admission caps are flags with the server's
// defaults; a cap of zero or less is a usage error.
func TestLimitFlags(t *testing.T) {
	none := func(string) string { return "" }
	o, err := parseOptions(nil, none, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := limits{maxParticipants: 100, maxWaitingPerAddr: 40, maxConns: 10000, maxConnsPerAddr: 200}
	if o.limits != want {
		t.Fatalf("defaults %+v, want %+v", o.limits, want)
	}
	o, err = parseOptions([]string{"-max-participants", "8", "-max-waiting-per-addr", "2", "-max-conns", "300", "-max-conns-per-addr", "9"}, none, io.Discard)
	if want := (limits{8, 2, 300, 9}); err != nil || o.limits != want {
		t.Fatalf("parsed %+v %v, want %+v", o.limits, err, want)
	}
	for _, flag := range []string{"-max-participants", "-max-waiting-per-addr", "-max-conns", "-max-conns-per-addr"} {
		if _, err := parseOptions([]string{flag, "0"}, none, io.Discard); err == nil {
			t.Errorf("%s 0 accepted", flag)
		}
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

func mustAddr(s string) fakeAddr { return fakeAddr(s) }
