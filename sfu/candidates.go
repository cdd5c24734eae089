package sfu

import (
	"net"
	"net/netip"
	"strings"

	"github.com/pion/ice/v4"

	"conclave/addrgroup"
)

// Remote candidates are addresses a client names, and ICE makes the server send to
// them. So the server accepts only what ICE needs to reach a browser (UDP, with an IP
// literal that could belong to a peer) and never dials out: active ICE-TCP is off (the
// engine's SettingEngine) and remote TCP candidates are dropped; a client that needs
// TCP connects to the server's ICE-TCP port and is learnt as peer-reflexive.
const (
	// MaxTrickledCandidates bounds the candidates one connection may trickle.
	MaxTrickledCandidates = 32
	// maxSDPCandidates bounds the candidates kept from one description; the rest are
	// dropped.
	maxSDPCandidates = 32
)

// candidateFilter decides which remote candidates the server uses.
type candidateFilter struct {
	allowLoopback bool // single-machine and test setups
}

// ok reports whether the server may use c.
func (f candidateFilter) ok(c ice.Candidate) bool {
	switch c.NetworkType() {
	case ice.NetworkTypeUDP4, ice.NetworkTypeUDP6:
	default:
		return false
	}
	switch c.Type() {
	case ice.CandidateTypeHost, ice.CandidateTypeServerReflexive, ice.CandidateTypePeerReflexive, ice.CandidateTypeRelay:
	default:
		return false
	}
	if c.Port() == 0 {
		return false
	}
	// An IP literal only: a name (mDNS ".local" or any other) would make the server
	// resolve it.
	ip, err := netip.ParseAddr(c.Address())
	if err != nil || ip.Zone() != "" {
		return false
	}
	return f.ipOK(ip)
}

// ipOK reports whether ip could be a peer's address. An IPv4 address that comes as
// IPv6 is judged as that address (addrgroup.Source): IPv4-mapped, and in a
// translator's 64:ff9b::/96, which a server behind NAT64 reaches through it, so that
// 64:ff9b::169.254.169.254 is the metadata service as 169.254.169.254 is (RFC 6052
// forbids such addresses in the prefix, but a translator need not drop them).
func (f candidateFilter) ipOK(ip netip.Addr) bool {
	ip = addrgroup.Source(ip)
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsMulticast(), ip.IsLinkLocalUnicast(),
		ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		// Link-local includes 169.254.169.254, the cloud metadata service.
		return false
	case ip.IsLoopback():
		return f.allowLoopback
	}
	return true
}

// remoteIPFilter is the same rule for Pion's SettingEngine (defence in depth).
func (f candidateFilter) remoteIPFilter(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	return ok && f.ipOK(a)
}

// filterSDP removes the candidate lines of a remote description that the server must
// not use, and all beyond maxSDPCandidates.
func (f candidateFilter) filterSDP(desc string) string {
	if !strings.Contains(desc, "a=candidate:") {
		return desc
	}
	lines := strings.SplitAfter(desc, "\n")
	var b strings.Builder
	b.Grow(len(desc))
	kept := 0
	for _, line := range lines {
		if v, ok := strings.CutPrefix(line, "a=candidate:"); ok {
			c, err := ice.UnmarshalCandidate("candidate:" + strings.TrimRight(v, "\r\n"))
			if err != nil || !f.ok(c) || kept >= maxSDPCandidates {
				continue
			}
			kept++
		}
		b.WriteString(line)
	}
	return b.String()
}
