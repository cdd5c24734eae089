package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/crypto/acme/autocert"

	"conclave/store"
)

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
