package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
)

// scrape reads the metrics listener and parses the Prometheus text format.
func scrape(t *testing.T, metricsURL string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return fams
}

// value is the metric's value with the given label (name=value), or with none.
func value(fams map[string]*dto.MetricFamily, name string, label ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	for _, m := range f.GetMetric() {
		if len(label) == 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == label[0] && l.GetValue() == label[1])
			}
			if !found {
				continue
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	return -1
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsThroughTheRealServer runs the binary's run function, has two Go clients
// join a meeting and one publish RTP, and reads /metrics on the separate listener:
// the counters rise with the traffic and fall back when people leave; no label value is
// an id, a name or an address used; the public listener serves neither /metrics nor
// /healthz; /healthz answers 503 while the server shuts down.
func TestMetricsThroughTheRealServer(t *testing.T) {
	opts, err := parseOptions([]string{"-http", "127.0.0.1:0", "-media-udp", "127.0.0.1:0", "-media-tcp", "", "-loopback",
		"-metrics", "127.0.0.1:0", "-one-time-key", "print", "-config", "", "-data", ""}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, opts, &stdout, &stderr) }()
	var base, metricsAddr string
	conntest.Eventually(t, "the start message", func() bool {
		m := regexp.MustCompile(`Metrics: http://(\S+)/metrics`).FindStringSubmatch(stdout.String())
		if m == nil {
			return false
		}
		metricsAddr = m[1]
		base = regexp.MustCompile(`Open (http://\S+)`).FindStringSubmatch(stdout.String())[1]
		return true
	})
	key := regexp.MustCompile(`#host=(\S+)`).FindStringSubmatch(stdout.String())[1]
	metricsURL := "http://" + metricsAddr + "/metrics"

	if code, body := get(t, "http://"+metricsAddr+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	for _, path := range []string{"metrics", "healthz"} {
		if _, body := get(t, base+path); strings.Contains(body, "conclave_") || body == "ok\n" {
			t.Fatalf("the public listener serves /%s: %q", path, body)
		}
	}
	// DNS rebinding: a page whose name now points at 127.0.0.1 gets nothing; the
	// listener's own address and localhost are served.
	_, port, _ := net.SplitHostPort(metricsAddr)
	for host, want := range map[string]int{"rebound.example:" + port: http.StatusMisdirectedRequest, "rebound.example": http.StatusMisdirectedRequest,
		metricsAddr: http.StatusOK, "localhost:" + port: http.StatusOK, "LOCALHOST.:" + port: http.StatusOK} {
		for _, path := range []string{"/metrics", "/healthz"} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+metricsAddr+path, nil)
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want || want != http.StatusOK && (strings.Contains(string(body), "conclave_") || string(body) == "ok\n") {
				t.Fatalf("%s with Host %q: %d %.60q, want %d", path, host, resp.StatusCode, body, want)
			}
		}
	}

	// A wrong host key, then a meeting.
	post := func(auth string, body io.Reader) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, base+"api/meetings", body)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post("Bearer "+key+"x", nil)
	resp.Body.Close()
	// Without end-to-end encryption: there a new subscription asks for a keyframe by
	// itself (in an encrypted meeting the browser asks, which these clients do not).
	resp = post("Bearer "+key, strings.NewReader(`{"e2ee":false,"settings":{"lobby":false}}`))
	var created struct {
		MeetingID string `json:"meetingId"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %s %v", resp.Status, err)
	}
	resp.Body.Close()

	wsURL := "ws" + strings.TrimPrefix(base, "http") + "ws"
	jctx, jcancel := context.WithTimeout(ctx, conntest.Wait)
	defer jcancel()
	join := func(name string) *testclient.Client {
		c, err := testclient.Dial(jctx, wsURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		if err := c.Join(jctx, created.MeetingID, name); err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice, bob := join("Alice"), join("Bob")
	pubs, err := alice.Publish(jctx, "microphone", "camera")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			for _, p := range pubs {
				_ = p.Send([]byte(fmt.Sprintf("frame %06d of %s", n, p.Source)))
			}
		}
	}()
	conntest.Eventually(t, "Bob receiving Alice's camera", func() bool {
		r := bob.Received(alice.ParticipantID, "camera")
		return r != nil && r.Count() >= 30
	})

	fams := scrape(t, metricsURL)
	for _, c := range []struct {
		name  string
		label []string
		want  func(float64) bool
		what  string
	}{
		{"conclave_meetings", nil, eq(1), "1"},
		{"conclave_participants", []string{"state", "joined"}, eq(2), "2"},
		{"conclave_participants", []string{"state", "waiting"}, eq(0), "0"},
		{"conclave_websockets_open", nil, eq(2), "2"},
		{"conclave_tracks_published", nil, eq(2), "2"},
		{"conclave_packets_forwarded_total", nil, atLeast(30), ">= 30"},
		{"conclave_forwarded_bytes_total", nil, atLeast(30 * 10), ">= 300"},
		{"conclave_keyframe_requests_received_total", nil, atLeast(1), ">= 1"},
		{"conclave_keyframe_requests_sent_total", nil, atLeast(1), ">= 1"},
		{"conclave_wrong_secrets_total", []string{"kind", "host_key"}, eq(1), "1"},
		{"conclave_wrong_secrets_total", []string{"kind", "password"}, eq(0), "0"},
		{"conclave_guesses_throttled_total", nil, eq(0), "0"},
		{"conclave_websockets_refused_total", []string{"reason", "server_full"}, eq(0), "0"},
		{"conclave_packets_dropped_total", nil, atLeast(0), ">= 0"},
		{"conclave_nacks_received_total", nil, atLeast(0), ">= 0"},
		{"conclave_nacks_answered_total", nil, atLeast(0), ">= 0"},
		{"conclave_retransmissions_total", nil, atLeast(0), ">= 0"},
	} {
		if v := value(fams, c.name, c.label...); !c.want(v) {
			t.Errorf("%s%v = %v, want %s", c.name, c.label, v, c.what)
		}
	}
	if _, ok := fams["conclave_turn_allocations"]; ok {
		t.Error("conclave_turn_allocations exported without a TURN server")
	}
	// The copies Bob was sent had their forwarding delay measured: a histogram in
	// seconds with the SFU's buckets. (Measured once the send returns, so it may
	// trail what Bob has by a packet or two: scraped until it has the 30.)
	var delay *dto.Histogram
	conntest.Eventually(t, "the forwarding delay of 30 packets", func() bool {
		f := scrape(t, metricsURL)["conclave_forward_delay_seconds"]
		if f == nil || f.GetType() != dto.MetricType_HISTOGRAM || len(f.GetMetric()) != 1 {
			t.Fatalf("conclave_forward_delay_seconds: %v, want one histogram", f)
		}
		delay = f.GetMetric()[0].GetHistogram()
		return delay.GetSampleCount() >= 30
	})
	buckets := delay.GetBucket()
	if len(buckets) != 16 || buckets[0].GetUpperBound() != 0.0001 || buckets[14].GetUpperBound() != 0.1 || !math.IsInf(buckets[15].GetUpperBound(), 1) {
		t.Errorf("forwarding delay buckets %v, want 15 from 100 µs to 100 ms and +Inf", buckets)
	}
	if delay.GetSampleSum() <= 0 {
		t.Errorf("forwarding delay sum %v over %d packets, want more than 0", delay.GetSampleSum(), delay.GetSampleCount())
	}

	// No label value names anything that was used: ids, names, addresses, ports.
	forbidden := []string{created.MeetingID, alice.ParticipantID, bob.ParticipantID, "Alice", "Bob", key, "127.0.0.1"}
	for _, a := range []string{base, metricsAddr} {
		u, _ := url.Parse(a)
		host := a
		if u != nil && u.Host != "" {
			host = u.Host
		}
		_, port, _ := net.SplitHostPort(host)
		forbidden = append(forbidden, port)
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, bad := range forbidden {
					if bad != "" && strings.Contains(l.GetValue(), bad) {
						t.Errorf("%s has label %s=%q, which contains %q", name, l.GetName(), l.GetValue(), bad)
					}
				}
			}
		}
	}

	// Leaving: participants, tracks and websockets fall back; the meeting outlives its
	// last member for the grace period.
	close(stop)
	<-sent
	if err := alice.Leave(jctx); err != nil {
		t.Fatal(err)
	}
	if err := bob.Leave(jctx); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the gauges to fall back", func() bool {
		f := scrape(t, metricsURL)
		return value(f, "conclave_participants", "state", "joined") == 0 && value(f, "conclave_tracks_published") == 0 &&
			value(f, "conclave_websockets_open") == 0 && value(f, "conclave_meetings") == 1
	})

	// Shutdown: hold one request open on the public listener (a meeting request whose
	// body is still coming: the server has answered 100 Continue, so its handler waits
	// for the body), so that the shutdown cannot finish; meanwhile /healthz says 503.
	conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"settings":{"lobby":false}}`
	fmt.Fprintf(conn, "POST /api/meetings HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/"), key, len(body))
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "100") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	_, _ = br.ReadString('\n') // the blank line after it
	cancel()
	conntest.Eventually(t, "/healthz to answer 503", func() bool {
		code, body := get(t, "http://"+metricsAddr+"/healthz")
		return code == http.StatusServiceUnavailable && body == "shutting down\n"
	})
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 ") {
		t.Fatalf("the held request got no answer: %q %v", line, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(conntest.Wait):
		t.Fatal("run did not return")
	}
	if _, err := http.Get("http://" + metricsAddr + "/healthz"); err == nil {
		t.Error("the metrics listener still answers after run returned")
	}
}

func eq(want float64) func(float64) bool      { return func(v float64) bool { return v == want } }
func atLeast(want float64) func(float64) bool { return func(v float64) bool { return v >= want } }

// TestMetricsPortInUse: a -metrics address that cannot be bound stops the start with an
// error that names the flag, and the public listener is given back.
func TestMetricsPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	opts, err := parseOptions([]string{"-http", "127.0.0.1:0", "-media-udp", "127.0.0.1:0", "-media-tcp", "", "-metrics", busy.Addr().String(),
		"-config", "", "-data", ""}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	err = run(context.Background(), opts, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "-metrics") {
		t.Fatalf("run with a busy -metrics port: %v", err)
	}
	if strings.Contains(stdout.String(), "is running") {
		t.Fatalf("announced a server that did not start: %q", stdout.String())
	}
}
