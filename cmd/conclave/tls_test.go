package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"conclave/internal/testcert"
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
