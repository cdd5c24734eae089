package secret

import (
	"net/netip"

	"conclave/addrgroup"
)

// invalidGroup is where addresses that do not parse are counted. They should never
// occur (the server reads addresses from its own sockets or from a trusted proxy), so
// they share one budget rather than letting odd strings each start a fresh one.
const invalidGroup = "invalid"

// AddrGroup names the group an address's guesses are counted in (addrgroup.Of): an
// IPv4 address on its own, an IPv6 address by its /64 (one customer's network, which
// hands out a whole /64 to every device). An IPv4 address that comes as IPv6
// (IPv4-mapped, or through a translator's 64:ff9b::/96) counts as the IPv4 address, a
// zone is ignored, and anything that is not an address lands in one shared "invalid"
// group. A port, as in "192.0.2.1:5000" or "[2001:db8::1]:443", is accepted and dropped.
func AddrGroup(addr string) string {
	a, ok := parseAddr(addr)
	if !ok {
		return invalidGroup
	}
	g := addrgroup.Of(a)
	if !g.IsValid() {
		return invalidGroup
	}
	if g.Addr().Is4() {
		return g.Addr().String()
	}
	return g.String()
}

// parseAddr reads an address with or without a port (its zone, and an IPv4 address
// that comes as IPv6, are addrgroup's to read).
func parseAddr(addr string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		ap, perr := netip.ParseAddrPort(addr)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a, true
}
