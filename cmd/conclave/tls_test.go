package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/acme/autocert"

	"conclave/internal/testcert"
	"conclave/store"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key into dir, and
// returns the file paths and the certificate, for a client to trust.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	c := testcert.New(t)
	certFile, keyFile = c.WriteFiles(t, dir)
	return certFile, keyFile, c.Leaf
}

// TestTLSServesHTTPSWithHSTSAndRedirects: with certificate files the web client and the
// API are served over real TLS with HSTS, and plain HTTP answers only with a permanent
// redirect to the same path on HTTPS, without HSTS.
func TestTLSServesHTTPSWithHSTSAndRedirects(t *testing.T) {
	certFile, keyFile, cert := selfSigned(t, t.TempDir())
	out := start(t, "-https", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile).stdout
	base := regexp.MustCompile(`Open (https://127\.0\.0\.1:\d+/)`).FindStringSubmatch(out)
	plain := regexp.MustCompile(`HTTP on (\S+) redirects to HTTPS`).FindStringSubmatch(out)
	key := regexp.MustCompile(`#host=(\S+)`).FindStringSubmatch(out)
	if base == nil || plain == nil || key == nil {
		t.Fatalf("stdout %q", out)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	defer client.CloseIdleConnections()

	resp, err := client.Get(base[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Conclave") || resp.TLS == nil {
		t.Fatalf("HTTPS landing page: %s tls=%v", resp.Status, resp.TLS != nil)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000" {
		t.Errorf("HSTS %q", got)
	}
	req, _ := http.NewRequest(http.MethodPost, base[1]+"api/meetings", nil)
	req.Header.Set("Authorization", "Bearer "+key[1])
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("create meeting over HTTPS: %s, HSTS %q", resp.Status, resp.Header.Get("Strict-Transport-Security"))
	}

	// A client that does not trust the certificate is refused: this is real TLS.
	if _, err := http.Get(base[1]); err == nil {
		t.Error("an untrusted certificate was accepted")
	}

	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, "http://"+plain[1]+"/m/abc?x=1", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != base[1]+"m/abc?x=1" {
			t.Errorf("%s over HTTP: %s Location %q, want 308 to %sm/abc?x=1", method, resp.Status, resp.Header.Get("Location"), base[1])
		}
		if resp.Header.Get("Strict-Transport-Security") != "" {
			t.Error("HSTS on plain HTTP")
		}
	}
}

// TestTLSFileErrors: a missing certificate or key, a file holding the wrong thing and a
// key of another certificate each stop run before anything listens, naming the flag.
func TestTLSFileErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	_, otherKey, _ := selfSigned(t, t.TempDir())
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		cert, key string
		flag      string
		want      string
	}{
		{missing, keyFile, "tls-cert", "no such file"},
		{certFile, missing, "tls-key", "no such file"},
		{keyFile, keyFile, "tls-cert", "holds no PEM certificate"},
		{certFile, certFile, "tls-key", "holds no PEM private key"},
		{certFile, otherKey, "tls-key", "is not the private key of the certificate in " + certFile},
	} {
		opts, err := parseOptions([]string{"-http", "127.0.0.1:0", "-https", "127.0.0.1:0", "-config", "", "-data", "", "-tls-cert", tc.cert, "-tls-key", tc.key}, envOf(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var stdout syncBuffer
		err = run(context.Background(), opts, &stdout, io.Discard)
		ce, ok := errors.AsType[*ConfigError](err)
		if !ok || ce.Key != tc.flag || !strings.HasPrefix(err.Error(), "-"+tc.flag+": ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cert %s key %s: error %v, want -%s: …%s", tc.cert, tc.key, err, tc.flag, tc.want)
		}
		if stdout.String() != "" {
			t.Errorf("started anyway: %q", stdout.String())
		}
	}
}

// TestPortInUse: an address another program holds stops run with an error naming the
// flag and the address, before anything is started.
func TestPortInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	certFile, keyFile, _ := selfSigned(t, t.TempDir())
	for _, tc := range []struct {
		flag string
		args []string
	}{
		{"http", []string{"-http", addr}},
		{"https", []string{"-https", addr, "-tls-cert", certFile, "-tls-key", keyFile}},
		{"http", []string{"-http", addr, "-https", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile}},
	} {
		opts, err := parseOptions(append([]string{"-http", "127.0.0.1:0", "-media-udp", "127.0.0.1:0", "-media-tcp", "", "-config", "", "-data", "", "-metrics", ""}, tc.args...), envOf(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var stdout syncBuffer
		err = run(context.Background(), opts, &stdout, io.Discard)
		le, ok := errors.AsType[*ListenError](err)
		if !ok || le.Flag != tc.flag || !errors.Is(err, syscall.EADDRINUSE) || err.Error() != "-"+tc.flag+" "+addr+": the port is in use by another program" {
			t.Errorf("%v: error %v", tc.args, err)
		}
		if stdout.String() != "" {
			t.Errorf("%v: started anyway: %q", tc.args, stdout.String())
		}
	}
}

// TestTLSFlagCombinations: flags that do not go together are refused at start.
func TestTLSFlagCombinations(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-tls-cert", "c.pem"}, "-tls-cert: needs -tls-key"},
		{[]string{"-tls-key", "k.pem"}, "-tls-key: needs -tls-cert"},
		{[]string{"-tls-cert", "c.pem", "-tls-key", "k.pem", "-acme-domain", "meet.example.org"}, "-acme-domain: cannot be used with -tls-cert"},
		{[]string{"-acme-domain", "192.0.2.1"}, "is an IP address"},
		{[]string{"-acme-domain", "https://meet.example.org"}, "not a valid domain name"},
		{[]string{"-acme-domain", "localhost"}, "not a full domain name"},
		{[]string{"-acme-domain", " , "}, "no domain name given"},
		{[]string{"-acme-domain", "meet.example.org", "-acme-email", "nobody"}, "-acme-email: \"nobody\" is not an e-mail address"},
		{[]string{"-acme-domain", "meet.example.org", "-acme-directory", "ftp://x"}, "-acme-directory"},
		{[]string{"-acme-domain", "meet.example.org", "-https", ""}, "-https: is empty, but TLS is on"},
		{[]string{"-http", ""}, "-http: is empty and TLS is off"},
	} {
		_, err := parseOptions(append([]string{"-config", ""}, tc.args...), envOf(nil), io.Discard)
		if _, ok := errors.AsType[*ConfigError](err); !ok || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestACMEWiring: -acme-domain makes an autocert manager for exactly those domains, with
// the e-mail, directory and cache given, and the HTTP listener answers ACME challenges
// while redirecting the rest. No ACME server is reachable in tests, so getting a
// certificate is not tested; a name outside the policy is refused before any request.
func TestACMEWiring(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "acme")
	o, err := parseOptions([]string{"-config", "", "-acme-domain", "Meet.Example.org, b.example.org.", "-acme-email", "ops@example.org", "-acme-cache", cache, "-acme-directory", "https://ca.example.org/dir"}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	setup, err := prepareTLS(o.tls, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m := setup.manager
	real, err := filepath.EvalSymlinks(cache) // the cache followed once (a temporary directory may be under a link)
	if err != nil {
		t.Fatal(err)
	}
	if m == nil || m.Email != "ops@example.org" || m.Client.DirectoryURL != "https://ca.example.org/dir" || m.Cache != autocert.DirCache(real) || setup.name != "meet.example.org" {
		t.Fatalf("manager %+v name %q", m, setup.name)
	}
	if st, err := os.Stat(cache); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("cache directory: %v %v", st, err)
	}
	ctx := context.Background()
	for host, allowed := range map[string]bool{"meet.example.org": true, "b.example.org": true, "evil.example.org": false, "example.org": false} {
		if err := m.HostPolicy(ctx, host); (err == nil) != allowed {
			t.Errorf("HostPolicy(%s) = %v", host, err)
		}
	}
	if _, err := setup.config.GetCertificate(&tls.ClientHelloInfo{ServerName: "evil.example.org"}); err == nil {
		t.Error("a certificate was attempted for a name outside -acme-domain")
	}
	if !strings.Contains(strings.Join(setup.config.NextProtos, ","), "acme-tls/1") {
		t.Errorf("NextProtos %v lacks the TLS-ALPN-01 challenge", setup.config.NextProtos)
	}

	h := m.HTTPHandler(redirectToHTTPS("443", setup.name))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://meet.example.org/.well-known/acme-challenge/token", nil))
	if rec.Code == http.StatusPermanentRedirect {
		t.Error("an ACME challenge was redirected")
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://meet.example.org/m/x", nil))
	if rec.Code != http.StatusPermanentRedirect || rec.Header().Get("Location") != "https://meet.example.org/m/x" {
		t.Errorf("redirect: %d %q", rec.Code, rec.Header().Get("Location"))
	}

	// An unwritable cache is refused at start.
	file := writeFile(t, "not-a-dir", "")
	o.tls.acmeCache = filepath.Join(file, "acme")
	if _, err := prepareTLS(o.tls, slog.New(slog.DiscardHandler)); err == nil || !strings.HasPrefix(err.Error(), "-acme-cache: ") {
		t.Errorf("unusable cache: %v", err)
	}
}

// TestACMECacheOthersCanChangeIsRefused: an ACME cache another local user can write in
// (one made in advance where conclave-acme goes with -data "", or given with -acme-cache)
// is refused at start: they could replace the certificate and its key with their own,
// which the server would then serve in its name. The data directory is checked alike
// (store.CheckDataDir).
func TestACMECacheOthersCanChangeIsRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes do not decide access there")
	}
	cache := filepath.Join(t.TempDir(), "acme")
	if err := os.Mkdir(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cache, 0o777); err != nil {
		t.Fatal(err)
	}
	o, err := parseOptions([]string{"-config", "", "-acme-domain", "meet.example.org", "-acme-cache", cache}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, err = prepareTLS(o.tls, slog.New(slog.DiscardHandler))
	if !errors.Is(err, store.ErrNotPrivate) || !strings.HasPrefix(err.Error(), "-acme-cache: ") || !strings.Contains(err.Error(), "chmod go-w") {
		t.Fatalf("a cache others can write in: %v", err)
	}
	if err := os.Chmod(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareTLS(o.tls, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("the cache made private: %v", err)
	}
}

// TestACMECacheLinkIsFollowedOnce: an ACME cache given as a link (one planted where
// conclave-acme goes, pointing at a private directory while the server starts) is the
// directory checked for as long as the server runs. The check followed the link, and the
// manager kept the link: repointed at its maker's own directory afterwards, the
// certificates and keys the server wrote and served were theirs.
func TestACMECacheLinkIsFollowedOnce(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes do not decide access there")
	}
	dir := t.TempDir()
	private := filepath.Join(dir, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	theirs := filepath.Join(dir, "theirs")
	if err := os.Mkdir(theirs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(theirs, 0o777); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "conclave-acme")
	if err := os.Symlink(private, link); err != nil {
		t.Fatal(err)
	}
	o, err := parseOptions([]string{"-config", "", "-acme-domain", "meet.example.org", "-acme-cache", link}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	setup, err := prepareTLS(o.tls, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// Its maker points the link at their own directory.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(theirs, link); err != nil {
		t.Fatal(err)
	}
	if err := setup.manager.Cache.Put(context.Background(), "meet.example.org", []byte("key and certificate")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(theirs, "meet.example.org")); err == nil {
		t.Fatal("the certificate went into the directory the link was pointed at after the check")
	}
	if _, err := os.Stat(filepath.Join(private, "meet.example.org")); err != nil {
		t.Fatalf("not in the directory checked: %v", err)
	}
}

// TestRedirectTarget: the redirect keeps host, path and query, names the HTTPS port
// unless it is 443, brackets IPv6, and needs a host.
func TestRedirectTarget(t *testing.T) {
	for _, tc := range []struct {
		port, fallback, host, target, want string
	}{
		{"443", "", "meet.example.org", "/a?b=c", "https://meet.example.org/a?b=c"},
		{"443", "", "meet.example.org:80", "/", "https://meet.example.org/"},
		{"8443", "", "meet.example.org:8080", "/x", "https://meet.example.org:8443/x"},
		{"443", "", "[2001:db8::1]:80", "/", "https://[2001:db8::1]/"},
		{"8443", "", "[2001:db8::1]", "/", "https://[2001:db8::1]:8443/"},
		{"443", "meet.example.org", "", "/", "https://meet.example.org/"},
		{"443", "", "", "/", ""},
	} {
		req := httptest.NewRequest(http.MethodGet, "http://placeholder"+tc.target, nil)
		req.Host = tc.host
		rec := httptest.NewRecorder()
		redirectToHTTPS(tc.port, tc.fallback).ServeHTTP(rec, req)
		if tc.want == "" {
			if rec.Code != http.StatusBadRequest {
				t.Errorf("no host: %d", rec.Code)
			}
			continue
		}
		if rec.Code != http.StatusPermanentRedirect || rec.Header().Get("Location") != tc.want {
			t.Errorf("%s%s to port %s: %d %q, want %q", tc.host, tc.target, tc.port, rec.Code, rec.Header().Get("Location"), tc.want)
		}
	}
}

// FuzzRedirect: whatever Host and path a client sends, plain HTTP answers 400 or a
// redirect to https:// on that very host, with the path and query unchanged.
func FuzzRedirect(f *testing.F) {
	for _, seed := range [][2]string{
		{"meet.example.org", "/m/abc?x=1"}, {"[2001:db8::1]:80", "/"}, {"", "/"},
		{"evil.example/x", "/"}, {"a@b", "//c"}, {"127.0.0.1:8080", "/%2F%2Fevil"}, {"Ex.ORG.", "/?q=%20"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, host, target string) {
		req, err := http.NewRequest(http.MethodGet, "http://placeholder/", nil)
		if err != nil {
			t.Skip()
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Skip()
		}
		req.URL, req.Host = u, host
		rec := httptest.NewRecorder()
		redirectToHTTPS("8443", "").ServeHTTP(rec, req)
		if rec.Code == http.StatusBadRequest {
			return
		}
		loc, err := url.Parse(rec.Header().Get("Location"))
		want := host
		if h, _, err := net.SplitHostPort(host); err == nil {
			want = h
		}
		want = strings.TrimSuffix(strings.TrimPrefix(want, "["), "]")
		wantURI := u.RequestURI()
		if !strings.HasPrefix(wantURI, "/") {
			wantURI = "/"
		}
		wantURI = strings.ReplaceAll(wantURI, "#", "%23")
		var esc strings.Builder // http.Redirect escapes bytes beyond ASCII
		for i := 0; i < len(wantURI); i++ {
			if b := wantURI[i]; b >= 0x80 {
				fmt.Fprintf(&esc, "%%%02x", b)
			} else {
				esc.WriteByte(b)
			}
		}
		wantURI = esc.String()
		if rec.Code != http.StatusPermanentRedirect || err != nil || loc.Scheme != "https" || loc.Hostname() != want || loc.Port() != "8443" || loc.RequestURI() != wantURI {
			t.Fatalf("Host %q target %q: %d Location %q", host, target, rec.Code, rec.Header().Get("Location"))
		}
	})
}

// TestTLSCertificateRenewal: renewed certificate files are served to the next connection
// without a restart; a changed pair that does not match keeps the last good certificate.
func TestTLSCertificateRenewal(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, first := selfSigned(t, dir)
	out := start(t, "-https", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile, "-http", "").stdout
	m := regexp.MustCompile(`Open https://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("stdout %q", out)
	}
	served := func() *x509.Certificate {
		t.Helper()
		// The certificate is compared byte for byte; trust is TestTLSServesHTTPS's subject.
		conn, err := tls.Dial("tcp", m[1], &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	if !served().Equal(first) {
		t.Fatal("not the certificate of -tls-cert")
	}
	otherDir := t.TempDir()
	_, otherKey, _ := selfSigned(t, otherDir)
	_, _, second := selfSigned(t, dir) // renewal: both files rewritten
	if !served().Equal(second) {
		t.Fatal("the renewed certificate is not served")
	}
	key, err := os.ReadFile(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil { // a key that does not match
		t.Fatal(err)
	}
	if !served().Equal(second) {
		t.Fatal("a broken renewal replaced the working certificate")
	}
}

// TestACMECacheDefault: automatic certificates live in the data directory unless
// -acme-cache names another place, from any source; without a data directory they
// keep the old default.
func TestACMECacheDefault(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-config", ""}, nil, filepath.Join(defaultDataDir, "acme")},
		{[]string{"-config", "", "-data", "/var/lib/conclave"}, nil, "/var/lib/conclave/acme"},
		{[]string{"-config", ""}, map[string]string{"CONCLAVE_DATA": "/srv/c"}, "/srv/c/acme"},
		{[]string{"-config", "", "-data", ""}, nil, defaultACMECache},
		{[]string{"-config", "", "-data", "/srv/c", "-acme-cache", "/etc/certs"}, nil, "/etc/certs"},
		{[]string{"-config", "", "-data", "/srv/c"}, map[string]string{"CONCLAVE_ACME_CACHE": "/x"}, "/x"},
		{[]string{"-config", "", "-data", "/srv/c", "-acme-cache", ""}, nil, "/srv/c/acme"},
	} {
		o, err := parseOptions(tc.args, envOf(tc.env), io.Discard)
		if err != nil {
			t.Fatalf("%v %v: %v", tc.args, tc.env, err)
		}
		if o.tls.acmeCache != tc.want {
			t.Errorf("%v %v: -acme-cache %q, want %q", tc.args, tc.env, o.tls.acmeCache, tc.want)
		}
	}
	// From a file too.
	file := writeFile(t, "c.toml", "data = \"/srv/f\"\n")
	if o, err := parseOptions([]string{"-config", file}, envOf(nil), io.Discard); err != nil || o.tls.acmeCache != "/srv/f/acme" {
		t.Fatalf("from a file: %q %v", o.tls.acmeCache, err)
	}
}
