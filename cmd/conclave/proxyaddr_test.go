package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// proxyTo is a reverse proxy in front of the server at base, as an operator's nginx or
// Caddy: it passes websockets, keeps Host unless host says otherwise, and appends the
// client's address to X-Forwarded-For only with xff (nginx sets none unless its
// configuration says proxy_set_header X-Forwarded-For).
func proxyTo(t *testing.T, base string, xff bool, host func(in string) string) *httptest.Server {
	t.Helper()
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	p := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
		if host != nil {
			pr.Out.Host = host(pr.In.Host)
		}
		if xff {
			pr.SetXForwarded()
		}
	}})
	t.Cleanup(p.Close)
	return p
}

// dialThrough opens the signaling websocket through the proxy as a browser on the
// page the proxy serves would: its Origin is the proxy's.
func dialThrough(t *testing.T, proxy *httptest.Server) (status int, err error) {
	t.Helper()
	h := http.Header{"Origin": {proxy.URL}}
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(proxy.URL, "http")+"/ws", h)
	if c != nil {
		c.Close()
	}
	if resp != nil {
		status = resp.StatusCode
		resp.Body.Close()
	}
	return status, err
}

// TestBehindProxyWithoutClientAddress: with -behind-proxy, a proxy that sets no
// X-Forwarded-For, or one that is not in -trusted-proxies, makes every client one
// address (one budget of guesses, 200 websockets and 40 knocks for everyone); the
// server says so in its log once it sees such a request, and says nothing when the
// proxy does its part.
func TestBehindProxyWithoutClientAddress(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		xff  bool
		want string
	}{
		// With the proxy's name given (-server-name), nothing is left to warn of.
		{"proxy sets X-Forwarded-For", []string{"-behind-proxy", "-server-name", "meet.example.org"}, true, ""},
		{"proxy sets no X-Forwarded-For", []string{"-behind-proxy"}, false, "carries no X-Forwarded-For"},
		{"proxy not trusted", []string{"-behind-proxy", "-trusted-proxies", "192.0.2.7"}, true, "not in -trusted-proxies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := start(t, tc.args...)
			if status, err := dialThrough(t, proxyTo(t, r.url, tc.xff, nil)); err != nil {
				t.Fatalf("websocket through the proxy: %d %v", status, err)
			}
			log := r.stderr.String()
			switch {
			case tc.want == "" && strings.Contains(log, "level=WARN"):
				t.Fatalf("a warning although the proxy sets the client's address: %q", log)
			case tc.want != "" && !strings.Contains(log, tc.want):
				t.Fatalf("no warning %q in the log: %q", tc.want, log)
			}
		})
	}
}

// TestProxyHostKeepsThePort: the websocket's Origin is checked against Host. A proxy
// that passes Host without its port (nginx's $host) breaks every websocket and meeting
// creation when the public address has a port of its own (https://meet.example.org:8443),
// one that passes it as the browser sent it ($http_host) does not; deploy/README.md's
// nginx snippet passes $http_host.
func TestProxyHostKeepsThePort(t *testing.T) {
	r := start(t, "-behind-proxy")
	hostOnly := func(in string) string { // nginx's $host: the name without the port
		if i := strings.LastIndexByte(in, ':'); i >= 0 {
			return in[:i]
		}
		return in
	}
	if status, err := dialThrough(t, proxyTo(t, r.url, true, hostOnly)); err == nil || status != http.StatusForbidden {
		t.Fatalf("Host without the port: %d %v, want 403 (else this test shows nothing)", status, err)
	}
	if status, err := dialThrough(t, proxyTo(t, r.url, true, nil)); err != nil {
		t.Fatalf("Host as the browser sent it: %d %v", status, err)
	}
	raw, err := os.ReadFile("../../deploy/README.md")
	if err != nil {
		t.Fatal(err)
	}
	sets := regexp.MustCompile(`(?m)^\s*proxy_set_header Host (\S+);`).FindAllStringSubmatch(string(raw), -1)
	if len(sets) == 0 {
		t.Fatal("deploy/README.md's nginx snippet sets no Host")
	}
	for _, m := range sets {
		if m[1] != "$http_host" {
			t.Errorf("deploy/README.md's nginx snippet passes Host as %s, which drops a port: use $http_host", m[1])
		}
	}
}
