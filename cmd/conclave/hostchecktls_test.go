package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

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
