package main

import (
	"net"
	"strings"
	"testing"
)

// TestMediaUnreachableWarning: a server whose media port has only private addresses
// to announce and no -public-ip (a cloud VM behind 1:1 NAT whose operator left it out)
// says so at start; before, every meeting from outside was admitted and then silent
// and black, with nothing in the log.
func TestMediaUnreachableWarning(t *testing.T) {
	ifaces := func(list ...string) func() ([]net.Addr, error) {
		return func() ([]net.Addr, error) {
			var out []net.Addr
			for _, s := range list {
				ip, n, err := net.ParseCIDR(s)
				if err != nil {
					t.Fatal(err)
				}
				n.IP = ip
				out = append(out, n)
			}
			return out, nil
		}
	}
	all := &net.UDPAddr{IP: net.IPv6unspecified, Port: 10000}
	for _, tc := range []struct {
		name     string
		bound    net.Addr
		public   []string
		loopback bool
		addrs    func() ([]net.Addr, error)
		warn     bool
	}{
		{"cloud VM behind 1:1 NAT", all, nil, false, ifaces("127.0.0.1/8", "10.0.0.5/24", "fe80::1/64", "::1/128"), true},
		{"the same with -public-ip", all, []string{"203.0.113.7"}, false, ifaces("127.0.0.1/8", "10.0.0.5/24"), false},
		{"a public address on the machine", all, nil, false, ifaces("127.0.0.1/8", "203.0.113.7/24"), false},
		{"a global IPv6 address", all, nil, false, ifaces("10.0.0.5/24", "2001:db8::5/64"), false},
		{"bound to a private address", &net.UDPAddr{IP: net.ParseIP("192.168.1.5"), Port: 10000}, nil, false, ifaces("203.0.113.7/24"), true},
		{"bound to a public address", &net.UDPAddr{IP: net.ParseIP("203.0.113.7"), Port: 10000}, nil, false, ifaces("10.0.0.5/24"), false},
		{"testing on one machine (-loopback)", &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: 10000}, nil, true, ifaces(), false},
	} {
		got := mediaUnreachable(tc.bound, tc.public, tc.loopback, tc.addrs)
		if (got != "") != tc.warn {
			t.Errorf("%s: warning %q, want one: %v", tc.name, got, tc.warn)
		}
	}

	// Through the real start: media on loopback without -loopback announces nothing
	// anyone else reaches.
	r := start(t, "-loopback=false")
	if log := r.stderr.String(); !strings.Contains(log, "-public-ip is not set") {
		t.Errorf("no warning at start: %q", log)
	}
	r = start(t, "-loopback=false", "-public-ip", "203.0.113.7")
	if log := r.stderr.String(); strings.Contains(log, "-public-ip is not set") {
		t.Errorf("a warning with -public-ip: %q", log)
	}
}
