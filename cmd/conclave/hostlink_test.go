package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestHostLinkOverPlainHTTPOnlyOnThisMachine: `conclave room -link` sends the host key
// in its first request's Authorization header, so an http:// link to another machine
// would put the key on the network in clear before the server's redirect to HTTPS
// (which the client refuses, too late). Such a link is refused before anything is sent;
// http:// stays for a server on this machine.
func TestHostLinkOverPlainHTTPOnlyOnThisMachine(t *testing.T) {
	frag := "/#host=hostid.c2VjcmV0LXNlY3JldC1zZWNyZXQ&rk=" + strings.Repeat("A", 43)
	for _, base := range []string{"http://meet.example.org", "http://192.0.2.7:8080", "http://[2001:db8::1]"} {
		if _, err := parseHostLink(base + frag); !errors.Is(err, errBadLink) {
			t.Errorf("%s: %v, want errBadLink", base, err)
		}
	}
	for _, base := range []string{"http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080", "https://meet.example.org"} {
		if _, err := parseHostLink(base + frag); err != nil {
			t.Errorf("%s: %v", base, err)
		}
	}
}

// TestHostLinkKeyOfTheServersForm: a host link whose key the server would refuse
// unread (signaling.ParseHostKey: an id of 1 to 64 characters of base64url, a dot, a
// secret of 1 to 256) is refused by `conclave room` before any request, without echoing
// the key, where the command took any "<id>.<secret>" without spaces and sent it to
// the server for a 401. The longest id the server takes is still sent.
func TestHostLinkKeyOfTheServersForm(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"rooms":[]}`))
	}))
	t.Cleanup(srv.Close)
	rk := strings.Repeat("A", 43)
	for _, key := range []string{
		"hostid.c2Vj.cmV0", "hößt.c2VjcmV0", "host+id.c2VjcmV0", "hostid.c2VjcmV0=", "host/id.c2VjcmV0",
		strings.Repeat("h", 65) + ".c2VjcmV0", "hostid." + strings.Repeat("s", 257), "hostid.c2Vj%21",
	} {
		_, err := hostCLI(t, "", "-link", srv.URL+"/#host="+key+"&rk="+rk, "list")
		if !errors.Is(err, errBadLink) || !strings.Contains(err.Error(), "no host key") || strings.Contains(err.Error(), "c2Vj") {
			t.Errorf("host key %.20q…: %v, want errBadLink naming no key", key, err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests sent with host keys the server refuses unread", n)
	}
	if _, err := hostCLI(t, "", "-link", srv.URL+"/#host="+strings.Repeat("h", 64)+".c2VjcmV0&rk="+rk, "list"); err != nil || requests.Load() != 1 {
		t.Errorf("a host id of 64 characters: %v, %d requests, want one", err, requests.Load())
	}
}
