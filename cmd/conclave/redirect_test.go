package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

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
