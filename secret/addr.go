package secret

import "net/netip"

// invalidGroup is where addresses that do not parse are counted. They should never
// occur (the server reads addresses from its own sockets or from a trusted proxy), so
// they share one budget rather than letting odd strings each start a fresh one.
const invalidGroup = "invalid"

// AddrGroup names the group an address's guesses are counted in: an IPv4 address on its
// own, an IPv6 address by its /64 (one customer's network, which hands out a whole /64
// to every device). An IPv4-mapped IPv6 address counts as the IPv4 address, a zone is
// ignored, and anything that is not an address lands in one shared "invalid" group.
// A port, as in "192.0.2.1:5000" or "[2001:db8::1]:443", is accepted and dropped.
func AddrGroup(addr string) string {
	a, ok := parseAddr(addr)
	if !ok {
		return invalidGroup
	}
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return invalidGroup
	}
	return p.String()
}

// parseAddr reads an address with or without a port, without its zone, an IPv4-mapped
// one as IPv4.
func parseAddr(addr string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		ap, perr := netip.ParseAddrPort(addr)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.WithZone("").Unmap(), true
}
