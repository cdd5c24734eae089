package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// hostClient sends requests to a running server's address with any Host and a
// matching Origin, as a page on that host would (a rebinding page's browser connects
// to the server's address and names its own host).
type hostClient struct {
	t      *testing.T
	scheme string // http or https
	addr   string // 127.0.0.1:port, where the requests go whatever their Host
	client *http.Client
	key    string // the one-time host key
}

func newHostClient(t *testing.T, r *running) *hostClient {
	t.Helper()
	u, err := url.Parse(r.url)
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`#host=(\S+)`).FindStringSubmatch(r.stdout)
	if key == nil {
		t.Fatalf("no host key in %q", r.stdout)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(c.CloseIdleConnections)
	return &hostClient{t: t, scheme: u.Scheme, addr: u.Host, client: c, key: key[1]}
}

// do sends method path with Host host (and Origin scheme://host when origin), with the
// host key when key; it returns the status and body.
func (c *hostClient) do(method, host, path string, origin, key bool) (int, string) {
	c.t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(method, c.scheme+"://"+c.addr+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Host = host
	if origin {
		req.Header.Set("Origin", c.scheme+"://"+host)
	}
	if key {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// ws opens the signaling websocket with Host host and Origin scheme://host; it returns
// the status of the answer (101 when upgraded).
func (c *hostClient) ws(host string) int {
	c.t.Helper()
	d := *websocket.DefaultDialer
	if c.client.Transport != nil {
		d.TLSClientConfig = c.client.Transport.(*http.Transport).TLSClientConfig
	}
	h := http.Header{"Host": {host}, "Origin": {c.scheme + "://" + host}}
	conn, resp, err := d.Dial(map[string]string{"http": "ws", "https": "wss"}[c.scheme]+"://"+c.addr+"/ws", h)
	if conn != nil {
		conn.Close()
	}
	if resp == nil {
		c.t.Fatalf("websocket with Host %s: no answer: %v", host, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// rooms counts the host's rooms (a "New meeting" is one), asked with an allowed Host.
func (c *hostClient) rooms(allowed string) int {
	c.t.Helper()
	status, body := c.do(http.MethodGet, allowed, "/api/rooms", true, true)
	var list struct {
		Rooms []json.RawMessage `json:"rooms"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil {
		c.t.Fatalf("GET /api/rooms with Host %s: %d %q", allowed, status, body)
	}
	return len(list.Rooms)
}

// refused asserts that the page, the meeting API, the Rooms API and the websocket all
// answer 421 for host, and that nothing was created.
func (c *hostClient) refused(host, allowed string) {
	c.t.Helper()
	before := c.rooms(allowed)
	for _, rq := range []struct{ method, path string }{
		{http.MethodGet, "/"}, {http.MethodGet, "/m/abc"}, {http.MethodGet, "/privacy"}, {http.MethodGet, "/api/notice"},
		{http.MethodPost, "/api/meetings"}, {http.MethodPost, "/api/rooms"}, {http.MethodGet, "/api/rooms"},
	} {
		status, body := c.do(rq.method, host, rq.path, true, true)
		if status != http.StatusMisdirectedRequest || !strings.HasPrefix(body, "421 Misdirected Request") || strings.Contains(body, host) {
			c.t.Errorf("%s %s with Host %q: %d %q, want 421 naming no host", rq.method, rq.path, host, status, body)
		}
	}
	if status := c.ws(host); status != http.StatusMisdirectedRequest {
		c.t.Errorf("websocket with Host %q: %d, want 421", host, status)
	}
	if after := c.rooms(allowed); after != before {
		c.t.Errorf("Host %q: the host had %d rooms before the refused requests and %d after", host, before, after)
	}
}

// served asserts that the page and the websocket are served for host, and that a
// meeting is created through it when create is set.
func (c *hostClient) served(host string, create bool) {
	c.t.Helper()
	if status, body := c.do(http.MethodGet, host, "/", true, false); status != http.StatusOK || !strings.Contains(body, "Conclave") {
		c.t.Errorf("GET / with Host %q: %d, want the landing page", host, status)
	}
	if status := c.ws(host); status != http.StatusSwitchingProtocols {
		c.t.Errorf("websocket with Host %q: %d, want 101", host, status)
	}
	if create {
		if status, body := c.do(http.MethodPost, host, "/api/meetings", true, true); status != http.StatusCreated {
			c.t.Errorf("POST /api/meetings with Host %q: %d %q, want 201", host, status, body)
		}
	}
}

// TestHostCheckPlainHTTP: the default, plain HTTP without a proxy. A rebinding page's
// requests (Host evil.example:port, Origin to match) get 421 from the page, the meeting
// and Rooms APIs and the websocket's upgrade, and create no meeting; localhost, names
// under .localhost, IP literals and the -server-name names (any case, a trailing dot)
// are served, and a meeting is created through each. The server says at start which
// names it serves.
func TestHostCheckPlainHTTP(t *testing.T) {
	r := start(t, "-server-name", "Meet.Example.org, conclave.lan")
	c := newHostClient(t, r)
	_, port, _ := net.SplitHostPort(c.addr)
	if !strings.Contains(r.stdout, "Host names: conclave.lan, meet.example.org, localhost and IP addresses are served") {
		t.Errorf("the start does not say which names are served: %q", r.stdout)
	}
	allowed := "localhost:" + port
	for _, forged := range []string{"evil.example:" + port, "evil.example", "evil.example.:" + port, "meet.example.org.evil.example:" + port,
		"localhost.evil.example:" + port, "evillocalhost:" + port, "127.0.0.1.nip.io:" + port} {
		c.refused(forged, allowed)
	}
	before := c.rooms(allowed)
	served := []string{"localhost:" + port, "LocalHost.:" + port, "app.localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port,
		"192.0.2.10:" + port, "meet.example.org:" + port, "MEET.example.ORG.:" + port, "conclave.lan", "127.0.0.1"}
	for _, host := range served {
		c.served(host, true)
	}
	if after := c.rooms(allowed); after != before+len(served) {
		t.Errorf("%d rooms after %d meetings made through allowed names, want %d", after, len(served), before+len(served))
	}
}

// TestHostCheckDefaultsToLocalhost: with no setting at all (go run ./cmd/conclave) only
// localhost and IP addresses are served, and the start says how to add a name.
func TestHostCheckDefaultsToLocalhost(t *testing.T) {
	r := start(t, "-http", "localhost:0") // as go run ./cmd/conclave listens, on another port
	if !strings.HasPrefix(r.url, "http://localhost:") {
		t.Fatalf("printed %q", r.url)
	}
	resp, err := http.Get(r.url) // the address printed to open
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", r.url, resp.Status)
	}
	c := newHostClient(t, r)
	_, port, _ := net.SplitHostPort(c.addr)
	c.addr = "127.0.0.1:" + port
	if !strings.Contains(r.stdout, "only localhost and IP addresses are served; add the names browsers use with -server-name") {
		t.Errorf("stdout %q", r.stdout)
	}
	c.served("localhost:"+port, true)
	c.served("127.0.0.1:"+port, false)
	c.refused("meet.example.org:"+port, "localhost:"+port)
}

// TestHostCheckListenName: a name in the -http address is served, so the address the
// server prints to open works.
func TestHostCheckListenName(t *testing.T) {
	p := newHostPolicy(options{httpAddr: "conclave.lan:8080"}, nil)
	if !p.allows("conclave.lan:8080") || p.allows("evil.example:8080") {
		t.Fatalf("-http conclave.lan:8080: policy %+v", p)
	}
	// Behind a proxy the listen address is the proxy's upstream: it turns no check on.
	if p := newHostPolicy(options{httpAddr: "upstream.internal:8080", behindProxy: true}, nil); p.enforce {
		t.Fatal("behind a proxy, a name in -http turned the check on")
	}
}

// TestHostCheckBehindProxy: behind a proxy without -server-name every Host is served
// (only the operator knows the proxy's names) and the log warns once at start, naming
// no host or address; with -server-name only that name, localhost and IP literals are.
func TestHostCheckBehindProxy(t *testing.T) {
	t.Run("no names", func(t *testing.T) {
		r := start(t, "-behind-proxy")
		c := newHostClient(t, r)
		c.served("meet.example.org", true)
		c.served("anything.example", false)
		log := r.stderr.String()
		if strings.Count(log, "without -server-name") != 1 || !strings.Contains(log, "level=WARN") || strings.Contains(log, "127.0.0.1") {
			t.Errorf("want one warning that names are not checked, naming no address: %q", log)
		}
		if strings.Contains(r.stdout, "Host names:") {
			t.Errorf("the start claims names are checked: %q", r.stdout)
		}
	})
	t.Run("with -server-name", func(t *testing.T) {
		r := start(t, "-behind-proxy", "-server-name", "meet.example.org")
		c := newHostClient(t, r)
		_, port, _ := net.SplitHostPort(c.addr)
		c.served("meet.example.org", true)       // nginx's $http_host on 443
		c.served("meet.example.org:8443", false) // on a port of its own
		c.served("127.0.0.1:"+port, false)       // a proxy that passes no Host, a local check
		c.refused("evil.example", "meet.example.org")
		if strings.Contains(r.stderr.String(), "without -server-name") {
			t.Errorf("warning although names are set: %q", r.stderr.String())
		}
	})
}

// TestServerNameSetting: -server-name comes from the flag, CONCLAVE_SERVER_NAME and
// the file (a string or a list), is kept in lower case without a trailing dot, and a
// value that is no host name stops the start naming the key and its source.
func TestServerNameSetting(t *testing.T) {
	o, err := parseOptions([]string{"-config", "", "-server-name", " Meet.Example.org., b.example.org,meet.example.org"}, envOf(nil), io.Discard)
	if err != nil || strings.Join(o.serverNameList, " ") != "meet.example.org b.example.org" {
		t.Fatalf("flag: %q %v", o.serverNameList, err)
	}
	o, err = parseOptions([]string{"-config", ""}, envOf(map[string]string{"CONCLAVE_SERVER_NAME": "conclave.lan"}), io.Discard)
	if err != nil || strings.Join(o.serverNameList, " ") != "conclave.lan" {
		t.Fatalf("environment: %q %v", o.serverNameList, err)
	}
	for _, content := range []string{`server-name = ["meet.example.org", "Conclave"]`, `server-name = "meet.example.org,conclave"`} {
		file := writeFile(t, "c.toml", content+"\n")
		o, err = parseOptions([]string{"-config", file}, envOf(nil), io.Discard)
		if err != nil || strings.Join(o.serverNameList, " ") != "meet.example.org conclave" {
			t.Fatalf("file %s: %q %v", content, o.serverNameList, err)
		}
	}
	if o, err = parseOptions([]string{"-config", ""}, envOf(nil), io.Discard); err != nil || len(o.serverNameList) != 0 {
		t.Fatalf("default: %q %v", o.serverNameList, err)
	}
	for _, bad := range []string{"meet.example.org:443", "https://meet.example.org", "meet.example.org/x", "*.example.org", "192.0.2.1", "[::1]", "localhost", "a..b", "mé.example"} {
		if _, err := parseOptions([]string{"-config", "", "-server-name", bad}, envOf(nil), io.Discard); err == nil || !strings.HasPrefix(err.Error(), "-server-name: ") {
			t.Errorf("-server-name %q: %v", bad, err)
		}
	}
	file := writeFile(t, "c.toml", `server-name = "meet.example.org:443"`+"\n")
	if _, err := parseOptions([]string{"-config", file}, envOf(nil), io.Discard); err == nil || !strings.Contains(err.Error(), `key "server-name"`) {
		t.Errorf("bad name in the file: %v", err)
	}
}

// TestPrivacyReportHostNames: the record of measures says which names are served, and
// that none are checked behind a proxy without -server-name.
func TestPrivacyReportHostNames(t *testing.T) {
	report := func(args ...string) string {
		o, err := parseOptions(append([]string{"-config", ""}, args...), envOf(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return privacyReport(o)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "the web port serves only localhost and IP addresses; a request naming any other host is refused (421)"},
		{[]string{"-behind-proxy"}, "**Host names are not checked** (`-behind-proxy` without `-server-name`)"},
		{[]string{"-behind-proxy", "-server-name", "meet.example.org"}, "the web port serves `meet.example.org`, localhost and IP addresses"},
		{[]string{"-acme-domain", "meet.example.org", "-server-name", "b.example.org", "-acme-cache", t.TempDir()}, "serves `b.example.org`, `meet.example.org`, localhost"},
	} {
		if got := report(tc.args...); !strings.Contains(got, tc.want) {
			t.Errorf("%v: the report lacks %q", tc.args, tc.want)
		}
	}
}
