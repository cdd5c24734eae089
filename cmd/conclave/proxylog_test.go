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

	"conclave/internal/conntest"
	"conclave/internal/testcert"
	"conclave/internal/testclient"
)

// The reverse-proxy examples of deploy/README.md are run in front of the real server
// (run, -behind-proxy) by the proxy itself, and what the proxy writes to its logs must
// name neither a person nor a meeting, while the server runs, as it stops with a member
// in a meeting, and while it is down (a restart). The person's browser comes from
// 127.0.0.7 and says it is forwarded for 203.0.113.9, so that its address cannot be
// mistaken for the proxy's or the server's own.

var proxiedPerson = net.IPv4(127, 0, 0, 7)

const proxiedUserAgent = "Mozilla/5.0 (X11; Linux x86_64) Conclave-Privacy-Probe/7.2"

// TestCaddyExampleLogsNoPersonOrMeeting: Caddy keeps no access log unless asked, but
// it logs every request it could not pass on at error level with the request (the
// client's address, the path: a meeting link, the headers), and a load the browser
// broke off with its failed write to the client's address.
func TestCaddyExampleLogsNoPersonOrMeeting(t *testing.T) {
	caddy, err := exec.LookPath("caddy")
	if err != nil {
		t.Skip("caddy not installed (apt-get install caddy)")
	}
	r := start(t, "-behind-proxy")
	front := freeLoopbackAddr(t)
	conf := readmeExample(t, "Caddy", map[string]string{"meet.example.org": "http://" + front, "127.0.0.1:8080": upstreamOf(r)})
	// No admin endpoint: its fixed port would clash with any other Caddy here.
	if strings.HasPrefix(conf, "{\n") {
		conf = "{\n\tadmin off\n" + conf[len("{\n"):]
	} else {
		conf = "{\n\tadmin off\n}\n\n" + conf
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var logged syncBuffer
	cmd := exec.Command(caddy, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = &logged, &logged
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	stop := runProxy(t, cmd, &logged, front)
	secrets := visitThroughProxy(t, r, front)
	stop()
	if !strings.Contains(logged.String(), "server running") {
		t.Fatalf("this is not Caddy's log:\n%s", logged.String())
	}
	checkProxyLog(t, "Caddy's log", logged.String(), secrets)
}

// TestNginxExampleLogsNoPersonOrMeeting: nginx logs requests and errors unless told
// not to, a request it refuses before it picks a location (headers too large) with
// the server's settings, not the location's, and a TLS handshake it refuses for a
// reason it does not count among the clients' usual ones at crit with the client's
// address (brokenTLSHandshakes); the example's lines go inside a server block, with a
// TLS listener besides the plain one, of an http block that logs as Debian's
// nginx.conf does.
func TestNginxExampleLogsNoPersonOrMeeting(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not installed (apt-get install nginx-light)")
	}
	r := start(t, "-behind-proxy")
	front, tlsFront := freeLoopbackAddr(t), freeLoopbackAddr(t)
	dir := t.TempDir()
	certFile, keyFile := testcert.New(t).WriteFiles(t, dir)
	logs := filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	snippet := readmeExample(t, "nginx", map[string]string{"127.0.0.1:8080": upstreamOf(r), "/var/log/nginx/": logs + "/"})
	var user string
	if os.Geteuid() == 0 {
		user = "user root;\n" // the workers write the temporary files below dir
	}
	conf := user + "daemon off;\nmaster_process off;\npid " + dir + "/nginx.pid;\nerror_log " + logs + "/main.log;\nevents {}\n" +
		"http {\n  access_log " + logs + "/access.log;\n  error_log " + logs + "/error.log;\n" +
		"  ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;\n" +
		"  client_body_temp_path " + dir + "/body;\n  proxy_temp_path " + dir + "/proxy;\n" +
		"  fastcgi_temp_path " + dir + "/fastcgi;\n  uwsgi_temp_path " + dir + "/uwsgi;\n  scgi_temp_path " + dir + "/scgi;\n" +
		"  server {\n    listen " + front + ";\n    listen " + tlsFront + " ssl;\n" +
		"    ssl_certificate " + certFile + ";\n    ssl_certificate_key " + keyFile + ";\n" + snippet + "\n  }\n}\n"
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd := exec.Command(nginx, "-p", dir, "-c", path)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	stop := runProxy(t, cmd, &stderr, front)
	secrets := visitThroughProxy(t, r, front)
	brokenTLSHandshakes(t, tlsFront)
	stop()
	all := stderr.String()
	entries, err := os.ReadDir(logs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(logs, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all += "\n== " + e.Name() + "\n" + string(b)
	}
	checkProxyLog(t, "nginx's logs", all, secrets)
}

// upstreamOf is the server's web address as a proxy names its upstream.
func upstreamOf(r *running) string {
	return strings.TrimSuffix(strings.TrimPrefix(r.url, "http://"), "/")
}

// readmeExample is the code block after the paragraph of deploy/README.md that starts
// with name and a space, with each key of repl replaced by its value.
func readmeExample(t *testing.T, name string, repl map[string]string) string {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?ms)^" + regexp.QuoteMeta(name) + " .*?^```\n(.*?)^```").FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatalf("no %s example in deploy/README.md", name)
	}
	block := m[1]
	for old, s := range repl {
		if !strings.Contains(block, old) {
			t.Fatalf("the README's %s example no longer names %s; update this test with it:\n%s", name, old, block)
		}
		block = strings.ReplaceAll(block, old, s)
	}
	return block
}

// runProxy starts cmd, a proxy that is to listen at front, and waits until it does;
// the function it returns stops it and waits for its end (its logs complete then).
func runProxy(t *testing.T, cmd *exec.Cmd, output *syncBuffer, front string) (stop func()) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(os.Interrupt)
			<-exited
		}
	}
	t.Cleanup(stop)
	conntest.Eventually(t, cmd.Args[0]+" listening", func() bool {
		select {
		case <-exited:
			t.Fatalf("%s exited:\n%s", cmd.Args[0], output.String())
		default:
		}
		c, err := net.Dial("tcp", front)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return stop
}

// visitThroughProxy does what people do through the proxy at front: a host makes a
// meeting, its page is opened, a page with headers too large for the proxy is asked
// for, four loads of the 5.7 MB blur model are broken off (their answers left unread,
// as by a browser that leaves the page: more than the sockets between hold, so the
// proxy's write to the gone client fails, or the proxy sees it go first) and Ann joins;
// then the server stops with Ann in the meeting, and her page and websocket are tried
// again while it is down. It returns what the proxy's log must not hold.
func visitThroughProxy(t *testing.T, r *running, front string) map[string]string {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: proxiedPerson}}
	browser := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer browser.CloseIdleConnections()
	request := func(method, path, body string, header map[string]string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+front+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", proxiedUserAgent)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	conntest.Eventually(t, "the proxy passing requests on", func() bool {
		resp, err := browser.Get("http://" + front + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	key := regexp.MustCompile(`#host=(\S+)`).FindStringSubmatch(r.stdout)[1]
	resp := request(http.MethodPost, "/api/meetings", `{"e2ee":false,"settings":{"lobby":false}}`, map[string]string{"Authorization": "Bearer " + key})
	var created struct {
		MeetingID string `json:"meetingId"`
	}
	err := json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create a meeting through the proxy: %s %v", resp.Status, err)
	}
	page := "/m/" + created.MeetingID
	if resp := request(http.MethodGet, page, "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the meeting's page through the proxy: %s", resp.Status)
	} else {
		resp.Body.Close()
	}
	// 16 KB of cookies for the parent domain: more than nginx's 8 KB header buffers
	// (400) and less than Conclave's bound (it serves the page).
	request(http.MethodGet, page, "", map[string]string{"Cookie": "sso=" + strings.Repeat("c", 16<<10)}).Body.Close()
	for range 4 {
		if resp := request(http.MethodGet, "/static/vendor/selfie-segmentation/selfie_segmentation_solution_simd_wasm_bin.wasm", "", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("the blur model through the proxy: %s", resp.Status)
		} else {
			resp.Body.Close()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	ann, err := testclient.DialFrom(ctx, "ws://"+front+"/ws", proxiedPerson)
	if err != nil {
		t.Fatal(err)
	}
	defer ann.Close()
	if err := ann.Join(ctx, created.MeetingID, "Ann Example"); err != nil {
		t.Fatal(err)
	}

	r.stop(t)
	if _, err := ann.Expect(ctx, "bye"); err != nil {
		t.Fatalf("no bye as the server stopped: %v", err)
	}
	if resp := request(http.MethodGet, page, "", nil); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("the meeting's page through the proxy while the server is down: %s, want 502", resp.Status)
	} else {
		resp.Body.Close()
	}
	if c, err := testclient.DialFrom(ctx, "ws://"+front+"/ws", proxiedPerson); err == nil {
		c.Close()
		t.Fatal("a websocket through the proxy while the server is down was opened")
	}
	return map[string]string{"the meeting's id": created.MeetingID, "the client's address": proxiedPerson.String(),
		"the forwarded address": "203.0.113.9", "the User-Agent": "Conclave-Privacy-Probe", "the name": "Ann Example"}
}

// checkProxyLog fails the test for each secret that logged holds.
func checkProxyLog(t *testing.T, what, logged string, secrets map[string]string) {
	t.Helper()
	for name, s := range secrets {
		if strings.Contains(logged, s) {
			t.Errorf("%s: %s (%s) is in it:\n%s", what, name, s, logged)
		}
	}
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
