package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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

// namedCert writes a self-signed certificate for names (and 127.0.0.1) and its key.
func namedCert(t *testing.T, names ...string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// TestHostCheckTLSCertificateNames: with certificate files the certificate's names are
// served without a setting (a wildcard as browsers match it: one label), on HTTPS and on
// the redirecting HTTP port; another name gets 421 on both (the redirect too: it would
// send a rebinding page on to https://evil.example).
func TestHostCheckTLSCertificateNames(t *testing.T) {
	certFile, keyFile, cert := namedCert(t, "meet.test", "*.wild.test")
	r := start(t, "-https", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile)
	c := newHostClient(t, r)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	// The requests go to 127.0.0.1 and are verified for meet.test whatever their Host:
	// the Host check, not the handshake, is what is tested here.
	c.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "meet.test"}}
	_, port, _ := net.SplitHostPort(c.addr) // the printed address names meet.test, which does not resolve
	c.addr = "127.0.0.1:" + port
	if !strings.Contains(r.stdout, "Host names: *.wild.test, meet.test, localhost and IP addresses are served") {
		t.Errorf("stdout %q", r.stdout)
	}
	c.served("meet.test:"+port, true)
	c.served("a.wild.test:"+port, true)
	c.served("127.0.0.1:"+port, false)
	c.refused("evil.example:"+port, "meet.test:"+port)
	c.refused("wild.test:"+port, "meet.test:"+port)
	c.refused("a.b.wild.test:"+port, "meet.test:"+port)

	plain := regexp.MustCompile(`HTTP on (\S+) redirects to HTTPS`).FindStringSubmatch(r.stdout)
	if plain == nil {
		t.Fatalf("stdout %q", r.stdout)
	}
	redirect := &hostClient{t: t, scheme: "http", addr: plain[1], client: c.client}
	if status, _ := redirect.do(http.MethodGet, "meet.test", "/m/x", false, false); status != http.StatusPermanentRedirect {
		t.Errorf("redirect for meet.test: %d, want 308", status)
	}
	if status, body := redirect.do(http.MethodGet, "evil.example", "/m/x", false, false); status != http.StatusMisdirectedRequest {
		t.Errorf("redirect for evil.example: %d %q, want 421", status, body)
	}
}

// TestHostCheckACME: with -acme-domain its names are served; on the HTTP port the
// CA's HTTP-01 challenge reaches the ACME handler for them (no 421, no redirect) and
// their pages are redirected, while another name gets 421 for both.
func TestHostCheckACME(t *testing.T) {
	r := start(t, "-https", "127.0.0.1:0", "-acme-domain", "meet.example.org", "-acme-cache", filepath.Join(t.TempDir(), "acme"),
		"-acme-directory", "http://127.0.0.1:1/directory")
	plain := regexp.MustCompile(`HTTP on (\S+) redirects to HTTPS`).FindStringSubmatch(r.stdout)
	if plain == nil {
		t.Fatalf("stdout %q", r.stdout)
	}
	c := &hostClient{t: t, scheme: "http", addr: plain[1], client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	const challenge = "/.well-known/acme-challenge/token"
	if status, _ := c.do(http.MethodGet, "meet.example.org", challenge, false, false); status == http.StatusMisdirectedRequest || status == http.StatusPermanentRedirect {
		t.Errorf("the challenge for meet.example.org: %d, want the ACME handler's answer", status)
	}
	if status, _ := c.do(http.MethodGet, "Meet.Example.org.", "/m/x", false, false); status != http.StatusPermanentRedirect {
		t.Errorf("redirect for meet.example.org: %d, want 308", status)
	}
	for _, path := range []string{challenge, "/m/x"} {
		if status, _ := c.do(http.MethodGet, "evil.example", path, false, false); status != http.StatusMisdirectedRequest {
			t.Errorf("%s for evil.example: %d, want 421", path, status)
		}
	}
	if !strings.Contains(r.stdout, "Host names: meet.example.org, localhost and IP addresses are served") {
		t.Errorf("stdout %q", r.stdout)
	}
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

// TestHostOf: the Host header's forms: names and IP literals with or without a port,
// case and a trailing dot ignored; everything else refused.
func TestHostOf(t *testing.T) {
	for in, want := range map[string]string{
		"localhost": "localhost", "LOCALHOST:8080": "localhost", "localhost.:80": "localhost", "Meet.Example.org.": "meet.example.org",
		"127.0.0.1:8080": "127.0.0.1", "[::1]:8080": "::1", "[::1]": "::1", "[2001:DB8::1]:443": "2001:db8::1", "a_b.lan:1": "a_b.lan",
		"[::ffff:127.0.0.1]:80": "::ffff:127.0.0.1",
	} {
		if got, _, ok := hostOf(in); !ok || got != want {
			t.Errorf("hostOf(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", ":8080", "::1", "[::1", "[::1]x", "[::1]:", "[fe80::1%25eth0]:80", "[127.0.0.1]:80", "localhost:", "localhost:http",
		"localhost:123456", "a b", "a/b", "a@b", "evil.example:80:80", "..", "a..b", ".", "é.example", "localhost\x00"} {
		if got, _, ok := hostOf(in); ok {
			t.Errorf("hostOf(%q) = %q, want refused", in, got)
		}
	}
}

// FuzzHostCheck: whatever Host a client sends, the default policy (plain HTTP, no
// names) serves it only when it is localhost, a name under .localhost or an IP address
// with at most a port, and a policy with one name serves only that name besides.
func FuzzHostCheck(f *testing.F) {
	for _, seed := range []string{"localhost:8080", "evil.example:8080", "[::1]:8080", "127.0.0.1", "meet.example.org.", "a.localhost",
		"[fe80::1%25lo]", "localhost.evil.example", "MEET.EXAMPLE.ORG:443", "[::1]]:80", "1.2.3", "0x7f.0.0.1", ""} {
		f.Add(seed)
	}
	plain := newHostPolicy(options{httpAddr: "127.0.0.1:0"}, nil)
	named := newHostPolicy(options{httpAddr: "127.0.0.1:0", serverNameList: []string{"meet.example.org"}}, nil)
	f.Fuzz(func(t *testing.T, h string) {
		host, isIP, ok := hostOf(h)
		if ok && (host != strings.ToLower(host) || strings.HasSuffix(host, ".")) {
			t.Fatalf("hostOf(%q) = %q: not normalised", h, host)
		}
		if ok && isIP {
			if _, err := netip.ParseAddr(host); err != nil {
				t.Fatalf("hostOf(%q) = %q, an IP address that does not parse", h, host)
			}
		}
		local := ok && (isIP || host == "localhost" || strings.HasSuffix(host, ".localhost"))
		if plain.allows(h) != local {
			t.Fatalf("default policy, Host %q: allows %v, want %v", h, plain.allows(h), local)
		}
		if named.allows(h) != (local || ok && host == "meet.example.org") {
			t.Fatalf("policy with meet.example.org, Host %q: allows %v", h, named.allows(h))
		}
	})
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
