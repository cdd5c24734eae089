package main

// Built-in TLS: certificate files (-tls-cert/-tls-key) or automatic certificates from an
// ACME CA (-acme-domain, golang.org/x/crypto/acme/autocert). With either, the web client
// is served on -https with HSTS, and -http only redirects to it (and answers ACME HTTP-01
// challenges). Without them Conclave serves plain HTTP, for a reverse proxy in front.

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"conclave/store"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// hstsValue tells browsers to use only HTTPS for this host for two years. No
// includeSubDomains: the operator's other subdomains are not Conclave's to decide.
const hstsValue = "max-age=63072000"

// defaultACMECache keeps automatic certificates when there is no data directory.
const defaultACMECache = "conclave-acme"

// tlsOptions are the flags of built-in TLS.
type tlsOptions struct {
	httpsAddr     string
	certFile      string
	keyFile       string
	acmeDomains   string
	acmeEmail     string
	acmeCache     string
	acmeDirectory string
}

func (t tlsOptions) enabled() bool {
	return t.certFile != "" || t.keyFile != "" || t.acmeDomains != ""
}

func tlsFlags(fs *flag.FlagSet, t *tlsOptions) {
	fs.StringVar(&t.httpsAddr, "https", ":443", "HTTPS listen address, used with -tls-cert/-tls-key or -acme-domain")
	fs.StringVar(&t.certFile, "tls-cert", "", "certificate file (PEM, with its chain) to serve HTTPS; needs -tls-key; a renewal is picked up without a restart")
	fs.StringVar(&t.keyFile, "tls-key", "", "private key file (PEM) of -tls-cert")
	fs.StringVar(&t.acmeDomains, "acme-domain", "", "comma-separated domain names to get certificates for automatically from an ACME CA (Let's Encrypt by default), accepting its terms of service")
	fs.StringVar(&t.acmeEmail, "acme-email", "", "with -acme-domain: contact address given to the CA, for expiry and problem notices (optional)")
	fs.StringVar(&t.acmeCache, "acme-cache", "", "with -acme-domain: directory for the certificates and the ACME account key (created, mode 0700); empty: the acme folder of the -data directory, or "+defaultACMECache+` with -data ""`)
	fs.StringVar(&t.acmeDirectory, "acme-directory", autocert.DefaultACMEDirectory, "with -acme-domain: the CA's ACME directory URL (e.g. Let's Encrypt staging)")
}

// checkTLS judges the TLS flags together, before anything is read or bound.
func checkTLS(t tlsOptions, httpAddr string, s *settings) error {
	switch {
	case t.certFile != "" && t.keyFile == "":
		return s.errorFor("tls-cert", errors.New("needs -tls-key, the certificate's private key"))
	case t.keyFile != "" && t.certFile == "":
		return s.errorFor("tls-key", errors.New("needs -tls-cert, the certificate"))
	case t.certFile != "" && t.acmeDomains != "":
		return s.errorFor("acme-domain", errors.New("cannot be used with -tls-cert: choose certificate files or automatic certificates"))
	case !t.enabled() && httpAddr == "":
		return s.errorFor("http", errors.New("is empty and TLS is off: nothing would serve the web client"))
	case t.enabled() && t.httpsAddr == "":
		return s.errorFor("https", errors.New("is empty, but TLS is on"))
	}
	if t.acmeDomains == "" {
		return nil
	}
	if _, err := parseDomains(t.acmeDomains); err != nil {
		return s.errorFor("acme-domain", err)
	}
	if e := t.acmeEmail; e != "" && (!strings.Contains(e, "@") || strings.ContainsAny(e, " \t\r\n<>")) {
		return s.errorFor("acme-email", fmt.Errorf("%q is not an e-mail address", e))
	}
	if u, err := url.Parse(t.acmeDirectory); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return s.errorFor("acme-directory", fmt.Errorf("%q is not an http(s) URL", t.acmeDirectory))
	}
	return nil
}

// parseDomains splits -acme-domain into DNS names a public CA can certify.
func parseDomains(list string) ([]string, error) {
	var out []string
	for _, d := range strings.Split(list, ",") {
		d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		if d == "" {
			continue
		}
		if err := checkDomain(d); err != nil {
			return nil, fmt.Errorf("%q: %w", d, err)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, errors.New("no domain name given")
	}
	return out, nil
}

func checkDomain(d string) error {
	if net.ParseIP(d) != nil {
		return errors.New("is an IP address; automatic certificates need a domain name")
	}
	if !strings.Contains(d, ".") || len(d) > 253 {
		return errors.New("is not a full domain name like meet.example.org")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("is not a valid domain name")
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return errors.New("is not a valid domain name (write international names in their xn-- form; no scheme, port or path)")
			}
		}
	}
	return nil
}

// tlsSetup is what serving HTTPS needs, prepared before anything listens.
type tlsSetup struct {
	config  *tls.Config
	manager *autocert.Manager // with -acme-domain; nil with certificate files
	files   *certFiles        // with certificate files; nil with -acme-domain
	name    string            // the host name to print: the first domain, or the certificate's
}

// prepareTLS reads the certificate files or sets up the ACME manager; nil when TLS is
// off. Every problem is a *ConfigError naming the flag.
func prepareTLS(t tlsOptions, log *slog.Logger) (*tlsSetup, error) {
	if !t.enabled() {
		return nil, nil
	}
	if t.acmeDomains != "" {
		m, domains, err := acmeManager(t)
		if err != nil {
			return nil, err
		}
		cfg := m.TLSConfig()
		cfg.MinVersion = tls.VersionTLS12
		return &tlsSetup{config: cfg, manager: m, name: domains[0]}, nil
	}
	files, err := newCertFiles(t.certFile, t.keyFile, log)
	if err != nil {
		return nil, err
	}
	cert := files.cert
	setup := &tlsSetup{config: &tls.Config{GetCertificate: files.getCertificate, MinVersion: tls.VersionTLS12}, files: files}
	if cert.Leaf != nil && len(cert.Leaf.DNSNames) > 0 && !strings.HasPrefix(cert.Leaf.DNSNames[0], "*") {
		setup.name = cert.Leaf.DNSNames[0]
	}
	return setup, nil
}

func readKeyPair(certFile, keyFile string) (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(certFile); err != nil {
		return nil, nil, &ConfigError{Key: "tls-cert", Err: err}
	}
	if keyPEM, err = os.ReadFile(keyFile); err != nil {
		return nil, nil, &ConfigError{Key: "tls-key", Err: err}
	}
	return certPEM, keyPEM, nil
}

func parseKeyPair(certFile, keyFile string, certPEM, keyPEM []byte) (tls.Certificate, error) {
	if !hasPEM(certPEM, func(t string) bool { return t == "CERTIFICATE" }) {
		return tls.Certificate{}, &ConfigError{Key: "tls-cert", Err: fmt.Errorf("%s holds no PEM certificate", certFile)}
	}
	if !hasPEM(keyPEM, func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }) {
		return tls.Certificate{}, &ConfigError{Key: "tls-key", Err: fmt.Errorf("%s holds no PEM private key", keyFile)}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			err = fmt.Errorf("%s is not the private key of the certificate in %s (-tls-cert)", keyFile, certFile)
		}
		return tls.Certificate{}, &ConfigError{Key: "tls-key", Err: err}
	}
	return cert, nil
}

func hasPEM(data []byte, ok func(blockType string) bool) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if ok(b.Type) {
			return true
		}
	}
}

// acmeManager makes the autocert manager for -acme-domain, with its cache directory
// created and checked writable now rather than at the first certificate.
func acmeManager(t tlsOptions) (*autocert.Manager, []string, error) {
	domains, err := parseDomains(t.acmeDomains)
	if err != nil {
		return nil, nil, &ConfigError{Key: "acme-domain", Err: err}
	}
	if err := os.MkdirAll(t.acmeCache, 0o700); err != nil {
		return nil, nil, &ConfigError{Key: "acme-cache", Err: err}
	}
	// The directory checked is the one used for as long as the server runs: a link (one
	// its maker put where conclave-acme goes) is followed once, here, else its maker
	// could point it at a directory of theirs once the check had passed.
	cache, err := filepath.EvalSymlinks(t.acmeCache)
	if err == nil {
		cache, err = filepath.Abs(cache)
	}
	if err != nil {
		return nil, nil, &ConfigError{Key: "acme-cache", Err: err}
	}
	if err := store.CheckPrivateDir(cache, "ACME cache", "-acme-cache"); err != nil {
		// Another local user who can change it could replace the certificate and its key
		// with their own, which the server would then serve (as with the data directory).
		return nil, nil, &ConfigError{Key: "acme-cache", Err: err}
	}
	probe, err := os.CreateTemp(cache, ".write-test-*")
	if err != nil {
		return nil, nil, &ConfigError{Key: "acme-cache", Err: fmt.Errorf("cannot write in %s: %w", cache, err)}
	}
	probe.Close()
	os.Remove(probe.Name())
	return &autocert.Manager{
		Prompt:     autocert.AcceptTOS, // -acme-domain's help says so
		HostPolicy: autocert.HostWhitelist(domains...),
		Cache:      autocert.DirCache(cache),
		Email:      t.acmeEmail,
		Client:     &acme.Client{DirectoryURL: t.acmeDirectory},
	}, domains, nil
}

// withHSTS adds Strict-Transport-Security to every response; only HTTPS uses it.
func withHSTS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", hstsValue)
		h.ServeHTTP(w, r)
	})
}

// redirectToHTTPS answers every plain-HTTP request with a permanent redirect (308, which
// keeps the method) to the same host and path on the HTTPS port. A request without a
// Host goes to fallbackHost, or is refused when there is none.
func redirectToHTTPS(httpsPort, fallbackHost string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if host == "" {
			host = fallbackHost
		}
		if !validHost(host) {
			http.Error(w, "This server speaks HTTPS only.", http.StatusBadRequest)
			return
		}
		hostPort := net.JoinHostPort(host, httpsPort)
		if httpsPort == "443" {
			hostPort = strings.TrimSuffix(hostPort, ":443")
		}
		target := r.URL.RequestURI()
		if !strings.HasPrefix(target, "/") { // "OPTIONS *" or an absolute form
			target = "/"
		}
		// A raw '#' in the request's query would start a fragment in the Location.
		target = strings.ReplaceAll(target, "#", "%23")
		http.Redirect(w, r, "https://"+hostPort+target, http.StatusPermanentRedirect)
	})
}

// validHost accepts an IP address or a DNS name, so that the redirect's Location
// can only name a host, whatever a client sends as Host.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, c := range h {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '.' && c != '_' {
			return false
		}
	}
	return true
}

// ListenError is a listen address that cannot be used, naming its flag.
type ListenError struct {
	Flag, Addr string
	Err        error
}

func (e *ListenError) Error() string {
	switch {
	case errors.Is(e.Err, syscall.EADDRINUSE):
		return fmt.Sprintf("-%s %s: the port is in use by another program", e.Flag, e.Addr)
	case errors.Is(e.Err, syscall.EACCES):
		return fmt.Sprintf("-%s %s: no permission to listen there (ports below 1024 need root or CAP_NET_BIND_SERVICE)", e.Flag, e.Addr)
	}
	return fmt.Sprintf("-%s %s: %v", e.Flag, e.Addr, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

func listen(flagName, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ListenError{Flag: flagName, Addr: addr, Err: err}
	}
	return ln, nil
}
