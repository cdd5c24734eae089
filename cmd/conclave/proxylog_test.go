package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"conclave/internal/testclient"
)

// TestCaddyExampleLogsNoPersonOrMeeting: Caddy, run with the Caddyfile of
// deploy/README.md in front of the server, writes nothing to its log (its standard
// error: the journal under systemd) that names a person or a meeting, while the
// server runs, as it stops with a member in a meeting, and while it is down (a
// restart). Caddy keeps no access log unless asked, but it logs every request it
// could not pass on at error level with the request: the client's address, the path
// (a meeting link, /m/<id>) and the headers (X-Forwarded-For, User-Agent). The
// client here comes from 127.0.0.7 and says it is forwarded for 203.0.113.9, so that
// its address cannot be mistaken for the server's own.
func TestCaddyExampleLogsNoPersonOrMeeting(t *testing.T) {
	caddy, err := exec.LookPath("caddy")
	if err != nil {
		t.Skip("caddy not installed (apt-get install caddy)")
	}
	r := start(t, "-behind-proxy")
	front := freeLoopbackAddr(t)
	conf := readmeCaddyfile(t)
	for old, repl := range map[string]string{"meet.example.org": "http://" + front, "127.0.0.1:8080": strings.TrimSuffix(strings.TrimPrefix(r.url, "http://"), "/")} {
		if !strings.Contains(conf, old) {
			t.Fatalf("the README's Caddyfile no longer names %s; update this test with it:\n%s", old, conf)
		}
		conf = strings.ReplaceAll(conf, old, repl)
	}
	// No admin endpoint: its fixed port would clash with any other Caddy here.
	if strings.HasPrefix(conf, "{\n") {
		conf = "{\n\tadmin off\n" + conf[len("{\n"):]
	} else {
		conf = "{\n\tadmin off\n}\n\n" + conf
	}
	path := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var caddyLog syncBuffer
	cmd := exec.Command(caddy, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = &caddyLog, &caddyLog
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stopCaddy := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		<-exited
	}
	defer stopCaddy()

	person := net.IPv4(127, 0, 0, 7)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: person}}
	browser := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	const userAgent = "Mozilla/5.0 (X11; Linux x86_64) Conclave-Privacy-Probe/7.2"
	request := func(method, path, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+front+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", userAgent)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		if method == http.MethodPost {
			req.Header.Set("Authorization", "Bearer "+regexp.MustCompile(`#host=(\S+)`).FindStringSubmatch(r.stdout)[1])
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	waitFor(t, "Caddy passing requests on", func() bool {
		select {
		case <-exited:
			t.Fatalf("caddy exited:\n%s", caddyLog.String())
		default:
		}
		resp, err := browser.Get("http://" + front + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// A meeting made through the proxy, its page opened and a member in it.
	resp := request(http.MethodPost, "/api/meetings", `{"e2ee":false,"settings":{"lobby":false}}`)
	var created struct {
		MeetingID string `json:"meetingId"`
	}
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create a meeting through Caddy: %s %v", resp.Status, err)
	}
	if resp := request(http.MethodGet, "/m/"+created.MeetingID, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("the meeting's page through Caddy: %s", resp.Status)
	} else {
		resp.Body.Close()
	}
	// Loads broken off: the blur model (5.7 MB, more than the sockets between hold
	// while nobody reads) is asked for and its answer left unread, as by a browser
	// that leaves the page. Caddy logs either its failed write to the client (naming
	// the client's address and port) or, when it saw the client go first, the
	// cancelled request (naming nobody): four loads, so that the first kind comes
	// nearly always and a Caddyfile that lets it through fails this test.
	for range 4 {
		if resp := request(http.MethodGet, "/static/vendor/selfie-segmentation/selfie_segmentation_solution_simd_wasm_bin.wasm", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("the blur model through Caddy: %s", resp.Status)
		} else {
			resp.Body.Close()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	member, err := testclient.DialFrom(ctx, "ws://"+front+"/ws", person)
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	if err := member.Join(ctx, created.MeetingID, "Ann Example"); err != nil {
		t.Fatal(err)
	}

	// The server stops (a restart) with Ann in the meeting; meanwhile her page is
	// opened again and her websocket tried again.
	r.stop(t)
	if _, err := member.Expect(ctx, "bye"); err != nil {
		t.Fatalf("no bye as the server stopped: %v", err)
	}
	if resp := request(http.MethodGet, "/m/"+created.MeetingID, ""); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("the meeting's page through Caddy while the server is down: %s, want 502", resp.Status)
	} else {
		resp.Body.Close()
	}
	if c, err := testclient.DialFrom(ctx, "ws://"+front+"/ws", person); err == nil {
		c.Close()
		t.Fatal("a websocket through Caddy while the server is down was opened")
	}

	stopCaddy()
	logged := caddyLog.String()
	if !strings.Contains(logged, "server running") {
		t.Fatalf("this is not Caddy's log:\n%s", logged)
	}
	for what, s := range map[string]string{"the meeting's id": created.MeetingID, "the client's address": person.String(),
		"the forwarded address": "203.0.113.9", "the User-Agent": "Conclave-Privacy-Probe", "the name": "Ann Example"} {
		if strings.Contains(logged, s) {
			t.Errorf("Caddy's log holds %s (%s):\n%s", what, s, logged)
		}
	}
}

// readmeCaddyfile is the Caddyfile of deploy/README.md: the code block after the
// paragraph that starts with "Caddy".
func readmeCaddyfile(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?ms)^Caddy .*?^```\n(.*?)^```").FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatal("no Caddyfile in deploy/README.md")
	}
	return m[1]
}

// freeLoopbackAddr is a TCP address on 127.0.0.1 that nothing listens on now, for a
// program that cannot be given a listener or asked which port it took.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
