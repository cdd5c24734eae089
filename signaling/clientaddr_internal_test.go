package signaling

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestParseProxyList(t *testing.T) {
	got, err := ParseProxyList(" 127.0.0.0/8, ::1/128,192.0.2.7,, 10.1.2.3/8, ::ffff:192.0.2.9 ")
	if err != nil {
		t.Fatal(err)
	}
	want := "[127.0.0.0/8 ::1/128 192.0.2.7/32 10.0.0.0/8 192.0.2.9/32]"
	if s := fmtPrefixes(got); s != want {
		t.Fatalf("ParseProxyList = %s, want %s", s, want)
	}
	for _, bad := range []string{"localhost", "10.0.0.0/33", "fe80::1%eth0", "1.2.3", "127.0.0.1:80"} {
		if _, err := ParseProxyList(bad); err == nil {
			t.Errorf("ParseProxyList(%q) accepted", bad)
		}
	}
}

func fmtPrefixes(ps []netip.Prefix) string {
	var b strings.Builder
	b.WriteString("[")
	for i, p := range ps {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(p.String())
	}
	b.WriteString("]")
	return b.String()
}

// TestForwardedClient: the right-most hop that is not a trusted proxy, only when the
// peer itself is trusted; malformed hops never pick an address of the client's choosing.
func TestForwardedClient(t *testing.T) {
	trusted, _ := ParseProxyList("127.0.0.0/8,::1/128,10.0.0.0/8")
	for _, tc := range []struct {
		peer    string
		headers []string
		want    string
	}{
		{"127.0.0.1", nil, "127.0.0.1"},                                            // no header: the proxy itself
		{"127.0.0.1", []string{"203.0.113.5"}, "203.0.113.5"},                      // one hop
		{"127.0.0.1", []string{"6.6.6.6, 203.0.113.5"}, "203.0.113.5"},             // forged left hop ignored
		{"127.0.0.1", []string{"203.0.113.5, 10.1.1.1"}, "203.0.113.5"},            // through a second trusted proxy
		{"127.0.0.1", []string{"6.6.6.6", "203.0.113.5, 10.1.1.1"}, "203.0.113.5"}, // several header lines
		{"127.0.0.1", []string{"10.2.2.2, 10.1.1.1"}, "10.2.2.2"},                  // all trusted: the left-most
		{"127.0.0.1", []string{"203.0.113.5:4711"}, "203.0.113.5"},                 // with a port
		{"127.0.0.1", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"127.0.0.1", []string{"::ffff:203.0.113.5"}, "203.0.113.5"},
		{"127.0.0.1", []string{"6.6.6.6, garbage"}, "127.0.0.1"},          // malformed: stop at the proxy that wrote it
		{"127.0.0.1", []string{"6.6.6.6, unknown, 10.1.1.1"}, "10.1.1.1"}, // ...the inner proxy
		{"127.0.0.1", []string{""}, "127.0.0.1"},
		{"127.0.0.1", []string{"fe80::1%eth0"}, "127.0.0.1"},
		{"198.51.100.1", []string{"203.0.113.5"}, "198.51.100.1"}, // untrusted peer: header ignored
	} {
		got := forwardedClient(netip.MustParseAddr(tc.peer), tc.headers, trusted)
		if got.String() != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.headers, got, tc.want)
		}
	}
}

// TestForwardedForWarning: without -behind-proxy a request carrying X-Forwarded-For is
// answered from the peer address, and the operator is warned once (no address logged).
func TestForwardedForWarning(t *testing.T) {
	var buf bytes.Buffer
	ar := &addrResolver{log: slog.New(slog.NewTextHandler(&buf, nil))}
	for i := 0; i < 3; i++ {
		r := &http.Request{RemoteAddr: "192.0.2.1:5555", Header: http.Header{"X-Forwarded-For": {"203.0.113.9"}}}
		if got := ar.clientAddr(r); got != "192.0.2.1" {
			t.Fatalf("clientAddr = %s", got)
		}
	}
	if n := strings.Count(buf.String(), "level=WARN"); n != 1 || strings.Contains(buf.String(), "192.0.2") || strings.Contains(buf.String(), "203.0.113") {
		t.Fatalf("warnings: %q", buf.String())
	}
	r := &http.Request{RemoteAddr: "[2001:db8::1%eth0]:5555", Header: http.Header{}}
	if got := ar.clientAddr(r); got != "2001:db8::1" {
		t.Fatalf("clientAddr = %s", got)
	}
}

// FuzzForwardedClient: whatever the header, the answer is the peer or one of the hops,
// and a peer that is not a trusted proxy is always itself.
func FuzzForwardedClient(f *testing.F) {
	for _, s := range []string{"203.0.113.5", "6.6.6.6, 203.0.113.5", "garbage", "[::1]:80, 10.0.0.1", ",,,"} {
		f.Add("127.0.0.1", s)
		f.Add("198.51.100.1", s)
	}
	trusted, _ := ParseProxyList(DefaultTrustedProxies)
	f.Fuzz(func(t *testing.T, peerText, header string) {
		peer := remoteAddr(peerText)
		got := forwardedClient(peer, []string{header}, trusted)
		if got == peer {
			return
		}
		if !isTrusted(peer, trusted) {
			t.Fatalf("untrusted peer %s answered as %s", peer, got)
		}
		for _, h := range strings.Split(header, ",") {
			if a, ok := parseHop(h); ok && a == got {
				return
			}
		}
		t.Fatalf("peer %s, header %q: %s is neither", peer, header, got)
	})
}

// TestBehindProxyWarnings: with -behind-proxy, a trusted proxy that sends no
// X-Forwarded-For (nginx sends none unless its configuration says so) and a proxy that
// is not in -trusted-proxies (one on another machine) both make every client one
// address; the operator is told once for each, without an address, and a proxy that
// does its part raises no warning.
func TestBehindProxyWarnings(t *testing.T) {
	trusted, _ := ParseProxyList(DefaultTrustedProxies)
	for _, tc := range []struct {
		name    string
		peer    string
		headers []string
		want    string // part of the warning; "" for none
	}{
		{"a trusted proxy sets the header", "127.0.0.1:5555", []string{"203.0.113.9"}, ""},
		{"a trusted proxy sets none", "127.0.0.1:5555", nil, "carries no X-Forwarded-For"},
		{"a trusted proxy sets an empty one", "[::1]:5555", []string{" , "}, "carries no X-Forwarded-For"},
		{"an untrusted proxy sets one", "198.51.100.7:5555", []string{"203.0.113.9"}, "not in -trusted-proxies"},
		{"a client without a proxy", "198.51.100.7:5555", nil, ""},
	} {
		var buf bytes.Buffer
		ar := &addrResolver{behindProxy: true, trusted: trusted, log: slog.New(slog.NewTextHandler(&buf, nil))}
		for range 3 {
			ar.clientAddr(&http.Request{RemoteAddr: tc.peer, Header: http.Header{"X-Forwarded-For": tc.headers}})
		}
		log := buf.String()
		switch n := strings.Count(log, "level=WARN"); {
		case tc.want == "" && n != 0:
			t.Errorf("%s: warned: %q", tc.name, log)
		case tc.want != "" && (n != 1 || !strings.Contains(log, tc.want)):
			t.Errorf("%s: want one warning saying %q, got %q", tc.name, tc.want, log)
		}
		for _, addr := range []string{"127.0.0.1", "198.51.100", "203.0.113", "::1"} {
			if strings.Contains(log, addr) {
				t.Errorf("%s: the warning names an address: %q", tc.name, log)
			}
		}
	}
}
