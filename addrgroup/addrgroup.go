// Package addrgroup names the group an address is counted in wherever the server bounds
// what one source may take or cause: password guesses, knocks and connections from one
// address, the ICE probes to one destination, the DTLS records held for one source.
// One place, so that every bound draws the same lines.
//
// A group is an IPv4 address, or the /64 of an IPv6 address (one customer's network,
// which hands out a whole /64 to every device). An IPv4 address that comes as IPv6 is
// its IPv4 address: IPv4-mapped (::ffff:0:0/96, a dual-stack socket's) and, behind a
// stateless translator (SIIT, or NAT64 in front of an IPv6-only server), in the
// well-known prefix 64:ff9b::/96 (RFC 6052), where the last 32 bits are the client's
// IPv4 address. Grouped by their /64 as other IPv6 addresses are, every IPv4 client of
// such a server shared one budget: one guesser or knocker locked out all of them.
//
// The local-use prefix 64:ff9b:1::/48 (RFC 8215) is grouped as any IPv6 address: the
// operator picks a prefix of 32 to 96 bits in it, and where the IPv4 address sits (and
// which bits are free) depends on that length, which an address does not tell. Read as
// a /96, a /48 or /64 prefix's addresses would all end in the same zero suffix and
// share one group, worse than their /64.
package addrgroup

import "net/netip"

// wellKnownNAT64 is RFC 6052's well-known prefix, 64:ff9b::/96.
func wellKnownNAT64() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom16([16]byte{0: 0x00, 1: 0x64, 2: 0xff, 3: 0x9b}), 96)
}

// Source is the address ip stands for when counting it: without its zone, and an IPv4
// address that comes as IPv6 (IPv4-mapped, or in 64:ff9b::/96) as that IPv4 address.
func Source(ip netip.Addr) netip.Addr {
	ip = ip.WithZone("").Unmap()
	if ip.Is6() && wellKnownNAT64().Contains(ip) {
		b := ip.As16()
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return ip
}

// Of is ip's group: the /32 of Source(ip) when it is IPv4, its /64 otherwise; the zero
// Prefix for an invalid address (so that all of those share one group).
func Of(ip netip.Addr) netip.Prefix {
	ip = Source(ip)
	bits := 64
	if ip.Is4() {
		bits = 32
	}
	p, _ := ip.Prefix(bits) // the zero Prefix for an invalid address
	return p
}

// SiteFactor is how many times a group's share of a bound a site (Site) has where a
// bound counts sites too: password guesses (secret) and connections (connlimit, the
// websockets' slots). Enough that the /64s of one organisation behind one /48 are not
// held back by each other; few enough that one customer's /48, 65,536 groups, cannot
// take what a bound in all leaves for everyone.
const SiteFactor = 16

// Site is the IPv6 /48 around ip's group, which the budgets that hold a whole
// customer's network count in besides (a /48 holds 65,536 /64s); false for an address
// whose group is IPv4 (a translated or mapped one too) and for an invalid one.
func Site(ip netip.Addr) (netip.Prefix, bool) {
	ip = Source(ip)
	if !ip.Is6() {
		return netip.Prefix{}, false
	}
	p, err := ip.Prefix(48)
	return p, err == nil
}
