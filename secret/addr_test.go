package secret

import (
	"net/netip"
	"testing"
)

func TestAddrGroup(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":                  "192.0.2.7",
		"192.0.2.7:5000":             "192.0.2.7",
		"::ffff:192.0.2.7":           "192.0.2.7", // IPv4-mapped counts as IPv4
		"[::ffff:192.0.2.7]:80":      "192.0.2.7",
		"2001:db8:1:2:aaaa::1":       "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff:0:9": "2001:db8:1:2::/64", // same /64, same group
		"2001:db8:1:3::1":            "2001:db8:1:3::/64", // next /64, another group
		"[2001:db8:1:2::5]:443":      "2001:db8:1:2::/64",
		"fe80::1%eth0":               "fe80::/64", // zone ignored
		"::1":                        "::/64",
		"":                           "invalid",
		"not an address":             "invalid",
		"192.0.2.300":                "invalid",
		"2001:db8::1/64":             "invalid",
		"1.2.3.4, 5.6.7.8":           "invalid",
		"[2001:db8::1]":              "invalid",
		"2001:db8:1:2:aaaa::1%":      "invalid",
	} {
		if got := AddrGroup(in); got != want {
			t.Errorf("AddrGroup(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzAddrGroup: any input yields one of the three forms, and never panics.
func FuzzAddrGroup(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "::ffff:1.2.3.4", "fe80::1%eth0", "[::1]:80", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g := AddrGroup(s)
		if g == invalidGroup {
			return
		}
		if a, err := netip.ParseAddr(g); err == nil && a.Is4() {
			return
		}
		if p, err := netip.ParsePrefix(g); err == nil && p.Bits() == 64 && p.Addr().Is6() && p.Masked() == p {
			return
		}
		t.Fatalf("AddrGroup(%q) = %q", s, g)
	})
}
