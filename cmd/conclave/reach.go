package main

import (
	"net"
	"net/netip"
)

// mediaUnreachable says why browsers on other networks could not reach the media port,
// or "" when they can (as far as this machine can tell). Without -public-ip the SFU
// announces the addresses it listens on; on a machine that has only private ones (a
// cloud VM behind 1:1 NAT, the case -public-ip exists for) every meeting from outside
// sets up its websocket, knocks, is admitted and then has no sound and no picture,
// with nothing in the log. mediaUDP is the bound media socket; addrs lists the
// machine's interface addresses (net.InterfaceAddrs).
func mediaUnreachable(mediaUDP net.Addr, publicIPs []string, loopback bool, addrs func() ([]net.Addr, error)) string {
	if len(publicIPs) > 0 || loopback {
		return ""
	}
	u, ok := mediaUDP.(*net.UDPAddr)
	if !ok {
		return ""
	}
	var ips []netip.Addr
	if bound := u.AddrPort().Addr().Unmap(); !bound.IsUnspecified() {
		ips = append(ips, bound)
	} else {
		list, err := addrs()
		if err != nil {
			return ""
		}
		for _, a := range list {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				ips = append(ips, p.Addr().Unmap())
			}
		}
	}
	for _, ip := range ips {
		if ip.IsGlobalUnicast() && !ip.IsPrivate() {
			return ""
		}
	}
	return "media: the media port has only private or loopback addresses to announce and -public-ip is not set, so browsers outside this network will connect and be admitted but get no sound or picture; behind 1:1 NAT (most cloud VMs) set -public-ip to the public address (a server for the local network alone can ignore this)"
}
