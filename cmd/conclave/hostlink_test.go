package main

import (
	"errors"
	"strings"
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
