package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
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
	deadline := time.Now().Add(conntest.Wait)
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
	case <-time.After(conntest.Wait):
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

// TestPublicIPs: -public-ip takes addresses and external/internal pairs of them, as the
// media's candidates announce them.
func TestPublicIPs(t *testing.T) {
	none := func(string) string { return "" }
	o, err := parseOptions([]string{"-public-ip", " 192.0.2.1, 2001:db8::1,203.0.113.5/10.0.0.5 "}, none, io.Discard)
	if want := []string{"192.0.2.1", "2001:db8::1", "203.0.113.5/10.0.0.5"}; err != nil || !slices.Equal(o.publicIPList, want) {
		t.Fatalf("parsed %q %v, want %q", o.publicIPList, err, want)
	}
	for _, bad := range []string{"meet.example.org", "0.0.0.0", "192.0.2.1/", "fe80::1%eth0", "192.0.2.1/10.0.0.5/1"} {
		if _, err := parseOptions([]string{"-public-ip", bad}, none, io.Discard); err == nil {
			t.Errorf("-public-ip %q accepted", bad)
		}
	}
}

// TestWebPortBehindProxy: behind a proxy, the web port's bound from one address is
// lifted for the trusted proxies only; an address that reaches the port directly keeps
// it.
func TestWebPortBehindProxy(t *testing.T) {
	none := func(string) string { return "" }
	o, err := parseOptions([]string{"-behind-proxy", "-trusted-proxies", "127.0.0.5", "-max-conns", "100", "-max-conns-per-addr", "1"}, none, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := webConnLimits(o).Listener(raw)
	t.Cleanup(func() { _ = ln.Close() })
	accepted := conntest.AcceptAll(t, ln)
	dial := func(from string, n int) {
		t.Helper()
		for range n {
			conntest.DialFrom(t, from, raw.Addr().String())
			accepted.Next("a connection from " + from)
		}
	}
	dial("127.0.0.5", 8) // the proxy: beyond 4 × 1
	dial("127.0.0.6", 4) // anyone else: up to 4 × 1
	if !conntest.ClosedByPeer(t, conntest.DialFrom(t, "127.0.0.6", raw.Addr().String())) {
		t.Fatal("a fifth connection from 127.0.0.6, not a proxy, was answered")
	}
}

// TestPerAddressBoundFollowsMeetingSize: a per-address bound the operator did not set
// is twice the meeting size, never below its default, so that a large meeting from
// one school's address can fill up; one set on the command line, in the environment or
// in the file is kept as set.
func TestPerAddressBoundFollowsMeetingSize(t *testing.T) {
	file := writeFile(t, "conclave.toml", "max-conns-per-addr = 220\n")
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want int
	}{
		{"default", nil, nil, 200},
		{"a smaller meeting keeps the default", []string{"-max-participants", "50"}, nil, 200},
		{"a webinar of 250", []string{"-max-participants", "250"}, nil, 500},
		{"the meeting size from the environment", nil, map[string]string{"CONCLAVE_MAX_PARTICIPANTS": "300"}, 600},
		{"set on the command line", []string{"-max-participants", "250", "-max-conns-per-addr", "150"}, nil, 150},
		{"set in the environment", []string{"-max-participants", "250"}, map[string]string{"CONCLAVE_MAX_CONNS_PER_ADDR": "260"}, 260},
		{"set in the file", []string{"-config", file, "-max-participants", "250"}, nil, 220},
	} {
		o, err := parseOptions(c.args, envOf(c.env), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if o.limits.maxConnsPerAddr != c.want {
			t.Errorf("%s: %d websockets an address, want %d", c.name, o.limits.maxConnsPerAddr, c.want)
		}
	}
}

// TestWaitingRoomFollowsMeetingSize: a waiting room the operator did not size holds a
// whole meeting knocking at once (never fewer than 100), one address two fifths of it
// (never fewer than 40), and never more than lobby.MaxWaitingCeiling, what a moderator's
// page keeps of a list; a bound set anywhere is kept as set, and the per-address one
// follows a waiting room that was.
func TestWaitingRoomFollowsMeetingSize(t *testing.T) {
	file := writeFile(t, "conclave.toml", "max-waiting = 120\n")
	for _, c := range []struct {
		name          string
		args          []string
		env           map[string]string
		waiting, addr int
	}{
		{"default", nil, nil, 100, 40},
		{"a smaller meeting keeps the defaults", []string{"-max-participants", "30"}, nil, 100, 40},
		{"a webinar of 250", []string{"-max-participants", "250"}, nil, 250, 100},
		{"the meeting size from the environment", nil, map[string]string{"CONCLAVE_MAX_PARTICIPANTS": "200"}, 200, 80},
		{"the waiting room set on the command line", []string{"-max-participants", "250", "-max-waiting", "150"}, nil, 150, 60},
		{"a small waiting room keeps the per-address default", []string{"-max-waiting", "20"}, nil, 20, 40},
		{"the per-address bound set", []string{"-max-participants", "250", "-max-waiting-per-addr", "10"}, nil, 250, 10},
		{"the per-address bound from the environment", []string{"-max-participants", "250"}, map[string]string{"CONCLAVE_MAX_WAITING_PER_ADDR": "45"}, 250, 45},
		{"the waiting room set in the file", []string{"-config", file, "-max-participants", "250"}, nil, 120, 48},
		{"a meeting larger than a waiting room may be", []string{"-max-participants", "20000"}, nil, 10000, 4000},
	} {
		o, err := parseOptions(c.args, envOf(c.env), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if o.maxWaiting != c.waiting || o.limits.maxWaitingPerAddr != c.addr {
			t.Errorf("%s: %d may wait, %d from one address; want %d, %d", c.name, o.maxWaiting, o.limits.maxWaitingPerAddr, c.waiting, c.addr)
		}
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

func mustAddr(s string) fakeAddr { return fakeAddr(s) }
