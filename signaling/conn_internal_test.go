package signaling

import "testing"

// TestAddrGroup: per-address caps count an IPv4 address as itself and an IPv6 address
// by its /64, so that one customer's network is one address.
func TestAddrGroup(t *testing.T) {
	same := [][2]string{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"},
		{"2001:db8:1:2::1", "2001:db8:1:2:abcd::9"},
	}
	for _, p := range same {
		if addrGroup(p[0]) != addrGroup(p[1]) {
			t.Errorf("%s and %s are counted apart: %q, %q", p[0], p[1], addrGroup(p[0]), addrGroup(p[1]))
		}
	}
	apart := [][2]string{
		{"192.0.2.7", "192.0.2.8"},
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.7", "::192.0.2.7"},
		{"not an address", "192.0.2.7"},
	}
	for _, p := range apart {
		if addrGroup(p[0]) == addrGroup(p[1]) {
			t.Errorf("%s and %s are counted together: %q", p[0], p[1], addrGroup(p[0]))
		}
	}
}
