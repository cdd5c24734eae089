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
		"64:ff9b::192.0.2.7":         "192.0.2.7", // through a translator (64:ff9b::/96) too
		"[64:ff9b::c000:208]:443":    "192.0.2.8",
		"64:ff9b::1:0:0:1":           "64:ff9b::/64",   // outside the /96: IPv6
		"64:ff9b:1::192.0.2.7":       "64:ff9b:1::/64", // local-use: its embedding is the operator's
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

func TestSiteOf(t *testing.T) {
	for in, want := range map[string]string{
		"2001:db8:1:2:aaaa::1":  "2001:db8:1::/48",
		"[2001:db8:1:ff::5]:44": "2001:db8:1::/48", // another /64 of the same /48
		"2001:db8:2::1":         "2001:db8:2::/48",
		"fe80::1%eth0":          "fe80::/48",
		"192.0.2.7":             "",
		"::ffff:192.0.2.7":      "", // IPv4-mapped is IPv4: no site
		"64:ff9b::192.0.2.7":    "", // translated IPv4 as well
		"64:ff9b::1:0:0:1":      "64:ff9b::/48",
		"not an address":        "",
	} {
		got, ok := SiteOf(in)
		if got != want || ok != (want != "") {
			t.Errorf("SiteOf(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// FuzzAddrGroup: any input yields one of the three forms (and a site only with an IPv6
// group, around it), and never panics.
func FuzzAddrGroup(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "::ffff:1.2.3.4", "64:ff9b::1.2.3.4", "fe80::1%eth0", "[::1]:80", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g := AddrGroup(s)
		// An address with a site is an IPv6 group's, and its /64 lies in its /48.
		if site, ok := SiteOf(s); ok {
			sp, err := netip.ParsePrefix(site)
			gp, gerr := netip.ParsePrefix(g)
			if err != nil || gerr != nil || sp.Bits() != 48 || sp.Masked() != sp || !sp.Contains(gp.Addr()) {
				t.Fatalf("SiteOf(%q) = %q for the group %q", s, site, g)
			}
		}
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
