package signaling

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
)

// DefaultTrustedProxies are the proxies trusted behind -behind-proxy unless told
// otherwise: a reverse proxy on the same machine.
const DefaultTrustedProxies = "127.0.0.0/8,::1/128"

// ParseProxyList reads a comma-separated list of addresses and CIDR prefixes ("10.0.0.0/8,
// 192.0.2.7, ::1/128"); a bare address stands for itself alone.
func ParseProxyList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("trusted proxy %q is not an address or CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// addrResolver finds the address a request comes from, for throttling guesses, the
// per-address caps and the TURN server, which answers a member's address beyond its
// bound in all (ICESource). It is kept in memory only and never logged.
type addrResolver struct {
	behindProxy bool
	trusted     []netip.Prefix
	log         *slog.Logger
	warnOnce    sync.Once // X-Forwarded-For without -behind-proxy
	// With -behind-proxy, the two ways a proxy in front still makes every client one
	// address, each said once: a trusted proxy that sets no X-Forwarded-For (nginx sets
	// none unless told to), and a proxy that is not in -trusted-proxies (one on another
	// machine), whose header is rightly not believed. Neither names an address.
	noHeaderOnce  sync.Once
	untrustedOnce sync.Once
}

// clientAddr is the peer's address; behind a trusted proxy (behindProxy, and the peer is
// in trusted) it is the right-most X-Forwarded-For hop that is not itself a trusted
// proxy: every hop to its right was appended by a proxy we trust, and everything to its
// left was written by the client and proves nothing.
func (ar *addrResolver) clientAddr(r *http.Request) string {
	peer := remoteAddr(r.RemoteAddr)
	xff := r.Header.Values("X-Forwarded-For")
	if !ar.behindProxy {
		if len(xff) > 0 {
			ar.warnOnce.Do(func() {
				ar.log.Warn("a request carries X-Forwarded-For but -behind-proxy is off: if a reverse proxy fronts this server, every client shares the proxy's address for password throttling; start with -behind-proxy")
			})
		}
		return addrString(peer, r.RemoteAddr)
	}
	trusted := isTrusted(peer, ar.trusted)
	switch {
	case trusted && !hasHop(xff):
		ar.noHeaderOnce.Do(func() {
			ar.log.Warn("-behind-proxy is on, but a request from a trusted proxy carries no X-Forwarded-For: every client that proxy forwards shares its address for password throttling and the per-address limits; have the proxy set X-Forwarded-For (deploy/README.md)")
		})
	case !trusted && len(xff) > 0:
		ar.untrustedOnce.Do(func() {
			ar.log.Warn("-behind-proxy is on, but a request carries X-Forwarded-For from an address not in -trusted-proxies, so the header is not believed: if a reverse proxy on another machine fronts this server, add its address to -trusted-proxies, or every client shares the proxy's address for password throttling and the per-address limits")
		})
	}
	return addrString(forwardedClient(peer, xff, ar.trusted), r.RemoteAddr)
}

// hasHop reports whether the X-Forwarded-For lines hold anything at all.
func hasHop(lines []string) bool {
	for _, l := range lines {
		if strings.Trim(l, " \t,") != "" {
			return true
		}
	}
	return false
}

// forwardedClient walks the X-Forwarded-For hops from the right while they are trusted
// proxies. A malformed hop stops the walk at the proxy that wrote it, so garbage can
// only ever make clients share that proxy's budget, never pick a budget of their own.
func forwardedClient(peer netip.Addr, headers []string, trusted []netip.Prefix) netip.Addr {
	if !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, h := range headers {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return client
		}
		client = a
		if !isTrusted(a, trusted) {
			return a
		}
	}
	return client // every hop is a trusted proxy: the left-most is the best we know
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a port
// ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(h string) (netip.Addr, bool) {
	h = strings.TrimSpace(h)
	if a, err := netip.ParseAddr(h); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// remoteAddr parses http.Request.RemoteAddr ("ip:port").
func remoteAddr(s string) netip.Addr {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.WithZone("").Unmap()
}

func addrString(a netip.Addr, raw string) string {
	if !a.IsValid() {
		return raw // secret.AddrGroup counts anything odd in one shared group
	}
	return a.String()
}
