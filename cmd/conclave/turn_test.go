package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"

	pionturn "github.com/pion/turn/v5"
)

func TestTURNFlags(t *testing.T) {
	none := func(string) string { return "" }
	o, err := parseOptions(nil, none, io.Discard)
	if err != nil || o.turn.enabled() {
		t.Fatalf("TURN on by default (%+v, %v)", o.turn, err)
	}
	if o.turn.ttl != 10*time.Minute {
		t.Fatalf("-turn-ttl default %v", o.turn.ttl)
	}
	o, err = parseOptions(nil, func(k string) string { return map[string]string{"CONCLAVE_TURN_UDP": ":3478"}[k] }, io.Discard)
	if err != nil || o.turn.udp != ":3478" {
		t.Fatalf("CONCLAVE_TURN_UDP: %+v, %v", o.turn, err)
	}
	for _, bad := range [][]string{
		{"-turn-tls", ":5349"},
		{"-turn-tls", ":5349", "-turn-cert", "c.pem"},
		{"-turn-udp", ":3478", "-turn-public-ip", "not-an-ip"},
		{"-turn-udp", ":3478", "-turn-ttl", "0s"},
	} {
		if _, err := parseOptions(bad, none, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestTURNRelayIP(t *testing.T) {
	for _, c := range []struct {
		opts   turnOptions
		public []string
		want   string
	}{
		{turnOptions{udp: ":3478", publicIP: "203.0.113.7"}, []string{"198.51.100.1"}, "203.0.113.7"},
		{turnOptions{udp: ":3478"}, []string{"198.51.100.1"}, "198.51.100.1"},
		{turnOptions{udp: ":3478"}, []string{"198.51.100.1/10.0.0.5"}, "198.51.100.1"}, // external/internal
		{turnOptions{udp: "127.0.0.1:3478"}, nil, "127.0.0.1"},
	} {
		got, err := turnRelayIP(c.opts, c.public)
		if err != nil || got.String() != c.want {
			t.Errorf("turnRelayIP(%+v, %v) = %v, %v; want %s", c.opts, c.public, got, err, c.want)
		}
	}
	if _, err := turnRelayIP(turnOptions{udp: ":3478"}, nil); err == nil || !strings.Contains(err.Error(), "-turn-public-ip") {
		t.Fatalf("no address: %v", err)
	}
}

func TestSFUPeersAreTheMediaPort(t *testing.T) {
	media := &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: 10000}
	peers, err := sfuPeers(media, []string{"203.0.113.7"}, netip.MustParseAddr("203.0.113.7"), true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"203.0.113.7:10000": true, "127.0.0.1:10000": true}
	if len(peers) != len(want) {
		t.Fatalf("peers %v", peers)
	}
	for _, p := range peers {
		if !want[p.String()] {
			t.Fatalf("peers %v", peers)
		}
	}
	paired, err := sfuPeers(&net.UDPAddr{IP: net.ParseIP("10.0.0.5"), Port: 10000}, []string{"203.0.113.7/10.0.0.5"}, netip.MustParseAddr("203.0.113.7"), false)
	if err != nil || !slices.Contains(paired, netip.MustParseAddrPort("203.0.113.7:10000")) {
		t.Fatalf("peers %v (%v) lack the external half of an external/internal -public-ip", paired, err)
	}
	if _, err := sfuPeers(media, nil, netip.MustParseAddr("127.0.0.1"), false); err == nil {
		t.Fatal("a loopback SFU without -loopback has a relay peer")
	}
	all, err := sfuPeers(&net.UDPAddr{IP: net.IPv4zero, Port: 10000}, nil, netip.MustParseAddr("203.0.113.7"), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if p.Port() != 10000 || p.Addr().IsLoopback() {
			t.Fatalf("peer %v", p)
		}
	}
}

// TestRunWithTURN: with -turn-udp and -turn-tcp the server prints its TURN URLs, a
// welcome carries them with credentials, and the metrics listener exports the TURN
// allocations gauge.
func TestRunWithTURN(t *testing.T) {
	opts, err := parseOptions([]string{"-http", "127.0.0.1:0", "-media-udp", "127.0.0.1:0", "-media-tcp", "", "-loopback",
		"-turn-udp", "127.0.0.1:0", "-turn-tcp", "127.0.0.1:0", "-config", "", "-data", "", "-metrics", "127.0.0.1:0", "-one-time-key", "print"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { done <- run(runCtx, opts, &stdout, &stderr) }()
	defer func() {
		stop()
		<-done
	}()

	re := regexp.MustCompile(`(?s)Open (http://\S+).*#host=(\S+).*\nTURN: ([^\n]+)\n`)
	var m []string
	for m == nil {
		if m = re.FindStringSubmatch(stdout.String()); m == nil {
			select {
			case <-ctx.Done():
				t.Fatalf("no URL, key and TURN line printed; stdout %q stderr %q", stdout.String(), stderr.String())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	base, key, turnURLs := m[1], m[2], strings.Fields(m[3])
	if len(turnURLs) != 2 || !strings.HasPrefix(turnURLs[0], "turn:127.0.0.1:") || !strings.HasSuffix(turnURLs[1], "?transport=tcp") {
		t.Fatalf("TURN URLs %v", turnURLs)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"api/meetings", strings.NewReader(`{"e2ee":false,"settings":{"lobby":false}}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		MeetingID string `json:"meetingId"`
	}
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create meeting: %s %v", resp.Status, err)
	}
	http.DefaultClient.CloseIdleConnections()

	c, err := testclient.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"ws")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Send("join", map[string]any{"version": 1, "meetingId": created.MeetingID, "name": "Ann",
		"media": map[string]any{"mic": false, "camera": false, "screen": false}}); err != nil {
		t.Fatal(err)
	}
	welcome, err := c.Expect(ctx, "welcome")
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		ICEServers []struct {
			URLs       []string `json:"urls"`
			Username   string   `json:"username"`
			Credential string   `json:"credential"`
		} `json:"iceServers"`
	}
	if err := json.Unmarshal(welcome.Payload, &w); err != nil {
		t.Fatal(err)
	}
	if len(w.ICEServers) != 1 || strings.Join(w.ICEServers[0].URLs, " ") != m[3] || w.ICEServers[0].Username == "" || w.ICEServers[0].Credential == "" {
		t.Fatalf("welcome iceServers %+v, printed %q", w.ICEServers, m[3])
	}
	if strings.Contains(stderr.String(), w.ICEServers[0].Credential) || strings.Contains(stderr.String(), w.ICEServers[0].Username) {
		t.Fatal("TURN credentials in the log")
	}
	mm := regexp.MustCompile(`Metrics: http://(\S+)/metrics`).FindStringSubmatch(stdout.String())
	if mm == nil {
		t.Fatalf("no metrics line: %q", stdout.String())
	}
	// No relay is open: the gauge is there, at 0.
	if v := value(scrape(t, "http://"+mm[1]+"/metrics"), "conclave_turn_allocations"); v != 0 {
		t.Fatalf("conclave_turn_allocations = %v, want 0 (-1: not exported)", v)
	}

	// Ann's credentials open a relay while she is in the meeting, and none once she
	// has left (the others are told after they were revoked).
	turnUDP := strings.TrimSuffix(strings.TrimPrefix(turnURLs[0], "turn:"), "?transport=udp")
	allocate := func() error {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		client, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: turnUDP, TURNServerAddr: turnUDP,
			Username: w.ICEServers[0].Username, Password: w.ICEServers[0].Credential, Conn: conn})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		if err := client.Listen(); err != nil {
			t.Fatal(err)
		}
		relay, err := client.Allocate()
		if err == nil {
			relay.Close()
		}
		return err
	}
	if err := allocate(); err != nil {
		t.Fatalf("Ann's credentials while she is in: %v", err)
	}
	ben, err := testclient.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"ws")
	if err != nil {
		t.Fatal(err)
	}
	defer ben.Close()
	if _, err := ben.Send("join", map[string]any{"version": 1, "meetingId": created.MeetingID, "name": "Ben",
		"media": map[string]any{"mic": false, "camera": false, "screen": false}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ben.Expect(ctx, "welcome"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send("leave", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ben.Expect(ctx, "participant_left"); err != nil {
		t.Fatal(err)
	}
	if err := allocate(); err == nil {
		t.Fatal("Ann's credentials opened a relay after she left")
	}
}
