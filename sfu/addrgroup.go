package sfu

import "net/netip"

// addrGroup is the group an address is counted in where the server bounds what one
// party can take or cause: the IPv4 address itself (mapped into IPv6 or not), the /64
// of an IPv6 one, one host or one customer's network (which hands out a whole /64), as
// connlimit.Group and secret.AddrGroup group them (sfu imports neither). The probes'
// budget is by the group of their destination (probebudget.go), the DTLS hold's share
// by the group of the records' source (litehold.go).
func addrGroup(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}
