package main

import (
	"net/netip"
	"strings"
	"testing"
)

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
