package addrgroup

import (
	"net/netip"
	"testing"
)

func TestOf(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":             "192.0.2.7/32",
		"::ffff:192.0.2.7":      "192.0.2.7/32", // IPv4-mapped: the IPv4 address
		"64:ff9b::192.0.2.7":    "192.0.2.7/32", // through a translator (RFC 6052): the IPv4 address
		"64:ff9b::c000:208":     "192.0.2.8/32", // the same, written in hex
		"64:ff9b::":             "0.0.0.0/32",
		"64:ff9b::1:0:0:1":      "64:ff9b::/64", // outside the /96: an IPv6 address as any
		"64:ff9b:1::192.0.2.7":  "64:ff9b:1::/64",
		"64:ff9a:ffff::1":       "64:ff9a:ffff::/64",
		"2001:db8:1:2:aaaa::1":  "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::9":  "2001:db8:1:2::/64",
		"fe80::1%eth0":          "fe80::/64",
		"::ffff:0:192.0.2.7":    "::/64", // IPv4-translated (RFC 2765), obsolete: as any IPv6
		"::1":                   "::/64",
		"64:ff9b::192.0.2.7%x0": "192.0.2.7/32",
	} {
		if got := Of(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("Of(%s) = %s, want %s", in, got, want)
		}
	}
	if got := Of(netip.Addr{}); got.IsValid() {
		t.Errorf("Of(invalid) = %s, want the zero Prefix", got)
	}
}

func TestSite(t *testing.T) {
	for in, want := range map[string]string{
		"2001:db8:1:2:aaaa::1": "2001:db8:1::/48",
		"fe80::1%eth0":         "fe80::/48",
		"64:ff9b::1:0:0:1":     "64:ff9b::/48",
		"64:ff9b:1::192.0.2.7": "64:ff9b:1::/48",
		"192.0.2.7":            "",
		"::ffff:192.0.2.7":     "",
		"64:ff9b::192.0.2.7":   "", // a translated IPv4 client has no site, as IPv4 has none
	} {
		got, ok := Site(netip.MustParseAddr(in))
		if ok != (want != "") || (ok && got.String() != want) {
			t.Errorf("Site(%s) = %s, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := Site(netip.Addr{}); ok {
		t.Error("an invalid address has a site")
	}
}

// FuzzOf: any 16 bytes make a group that holds the address counted (Source), of 32
// bits for IPv4 and 64 for IPv6, and a site only around an IPv6 group.
func FuzzOf(f *testing.F) {
	for _, s := range []string{"2001:db8::1", "::ffff:1.2.3.4", "64:ff9b::1.2.3.4", "64:ff9b:1::1", "::"} {
		b := netip.MustParseAddr(s).As16()
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 16 {
			return
		}
		ip := netip.AddrFrom16([16]byte(b))
		src, g := Source(ip), Of(ip)
		if !g.IsValid() || !g.Contains(src) || g.Masked() != g {
			t.Fatalf("Of(%s) = %s, which does not hold %s", ip, g, src)
		}
		if src.Is4() != (g.Bits() == 32) || src.Is6() != (g.Bits() == 64) {
			t.Fatalf("Of(%s) = %s for %s", ip, g, src)
		}
		if src.Is4() && src.As4() != [4]byte(b[12:]) {
			t.Fatalf("Source(%s) = %s, not its last 32 bits", ip, src)
		}
		site, ok := Site(ip)
		if ok != src.Is6() || (ok && (site.Bits() != 48 || !site.Contains(g.Addr()))) {
			t.Fatalf("Site(%s) = %s, %v for the group %s", ip, site, ok, g)
		}
	})
}
