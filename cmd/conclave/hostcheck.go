package main

// The Host check against DNS rebinding. The server's checks of Origin compare it with
// Host (signaling/api.go sameOrigin, the websocket's origin check), which a page can pass
// by itself: a page at http://evil.example:8080 whose name its owner re-points at this
// server's address sends Host evil.example:8080 and a matching Origin, from the
// browser of someone who can reach the server (a LAN-only or localhost-only one). So
// every request to the public listener must name this server: the names it serves,
// localhost (and names under .localhost) or an IP address, which no DNS answer can
// put on another page's origin. Anything else gets 421 before any handler.
//
// Which names: over plain HTTP without a proxy (the default), browsers give camera and
// microphone only to localhost and loopback, so localhost and IP addresses are enough;
// -server-name adds names, and so does a name in the -http or -https listen address.
// With built-in TLS also the -acme-domain names and those of the -tls-cert certificate
// (as the browser matches them, wildcards included). Behind a proxy the public names are
// the proxy's, which only the operator knows: with -server-name they are checked,
// without it nothing is and the log says so at start.

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// hostPolicy says which Host values the public listener serves.
type hostPolicy struct {
	enforce bool            // false: every Host is served (behind a proxy without -server-name)
	names   map[string]bool // lowercase, without a trailing dot
	// certNames, with -tls-cert, are the DNS names of the certificate served now (a
	// renewal may change them), matched as browsers match them.
	certNames func() []string
}

// newHostPolicy is the policy for the options; certNames, with -tls-cert, gives the
// names of the certificate served now (nil: none, or not known, as in the privacy
// report).
func newHostPolicy(o options, certNames func() []string) *hostPolicy {
	p := &hostPolicy{names: map[string]bool{}}
	for _, n := range o.serverNameList {
		p.names[n] = true
	}
	listen := []string{o.httpAddr}
	switch {
	case o.tls.enabled():
		p.enforce = true
		listen = append(listen, o.tls.httpsAddr)
		if o.tls.acmeDomains != "" {
			domains, _ := parseDomains(o.tls.acmeDomains) // checked at start
			for _, d := range domains {
				p.names[d] = true
			}
		}
		p.certNames = certNames
	case o.behindProxy:
		// The listen address is the proxy's upstream, not the name browsers use.
		p.enforce = len(o.serverNameList) > 0
	default:
		p.enforce = true
	}
	for _, addr := range listen {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			if name, isIP, ok := hostOf(host); ok && !isIP && !isLocalhost(name) {
				p.names[name] = true
			}
		}
	}
	return p
}

// allows reports whether a request with this Host header is served.
func (p *hostPolicy) allows(hostHeader string) bool {
	if !p.enforce {
		return true
	}
	host, isIP, ok := hostOf(hostHeader)
	switch {
	case !ok:
		return false
	case isIP, isLocalhost(host), p.names[host]:
		return true
	case p.certNames != nil:
		return slices.ContainsFunc(p.certNames(), func(pattern string) bool { return certNameMatches(pattern, host) })
	}
	return false
}

// misdirected is the answer to a Host this server does not serve. It never repeats the
// Host (nothing a page chose is reflected) and is not kept by caches.
const misdirected = "421 Misdirected Request: this server does not serve this host name.\nIts operator can add the name with -server-name.\n"

// wrap checks the Host of every request before h sees it.
func (p *hostPolicy) wrap(h http.Handler) http.Handler {
	if !p.enforce {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.allows(r.Host) {
			hdr := w.Header()
			hdr.Set("Content-Type", "text/plain; charset=utf-8")
			hdr.Set("X-Content-Type-Options", "nosniff")
			hdr.Set("Cache-Control", "no-store")
			if r.ProtoMajor == 1 { // HTTP/2 clients take 421 itself as "not on this connection"
				hdr.Set("Connection", "close") // a connection opened for another name is not reused
			}
			w.WriteHeader(http.StatusMisdirectedRequest)
			_, _ = fmt.Fprint(w, misdirected)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// describe says at start which names are served, or why none are checked.
func (p *hostPolicy) describe() string {
	if !p.enforce {
		return ""
	}
	var names []string
	for n := range p.names {
		names = append(names, n)
	}
	if p.certNames != nil {
		for _, n := range p.certNames() {
			if n = strings.ToLower(strings.TrimSuffix(n, ".")); !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "Host names: only localhost and IP addresses are served; add the names browsers use with -server-name."
	}
	return "Host names: " + strings.Join(names, ", ") + ", localhost and IP addresses are served; others are refused (-server-name adds names)."
}

// unchecked is the warning for a server behind a proxy without -server-name.
const unchecked = "behind a proxy without -server-name: the Host header is not checked, so a page on any name that resolves to the proxy can reach this server (DNS rebinding); set -server-name to the name(s) the proxy serves"

// hostOf reads a Host header: a DNS name, an IPv4 address or a bracketed IPv6 address,
// each with an optional port. It returns the host in lower case without a trailing
// dot, and whether it is an IP address; ok is false for anything else (an empty Host, a
// port that is not a number, an IPv6 address without brackets or with a zone, a
// character no host name has).
func hostOf(h string) (host string, isIP, ok bool) {
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 || !validPort(h[end+1:], true) {
			return "", false, false
		}
		ip, err := netip.ParseAddr(h[1:end])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return "", false, false
		}
		return ip.String(), true, true
	}
	name, port, hasPort := strings.Cut(h, ":")
	if hasPort && !validPort(":"+port, false) {
		return "", false, false
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if ip, err := netip.ParseAddr(name); err == nil {
		return ip.String(), true, ip.Is4()
	}
	if !validName(name) {
		return "", false, false
	}
	return name, false, true
}

// validPort accepts ":" and one to five digits (or nothing, if optional is true).
func validPort(s string, optional bool) bool {
	if s == "" {
		return optional
	}
	if s[0] != ':' || len(s) < 2 || len(s) > 6 {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validName accepts a lower-case DNS name: labels of letters, digits, '-' and '_'.
func validName(n string) bool {
	if n == "" || len(n) > 253 {
		return false
	}
	for _, label := range strings.Split(n, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

// isLocalhost: browsers resolve localhost and every name under .localhost to loopback
// themselves, never through DNS.
func isLocalhost(name string) bool {
	return name == "localhost" || strings.HasSuffix(name, ".localhost")
}

// certNameMatches matches a certificate's DNS name against a host as browsers do: equal
// (ignoring case), or a wildcard "*.example.org" standing for exactly one label.
func certNameMatches(pattern, host string) bool {
	pattern = strings.ToLower(strings.TrimSuffix(pattern, "."))
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		label, parent, found := strings.Cut(host, ".")
		return found && label != "" && parent == rest
	}
	return pattern == host
}

// parseServerNames checks -server-name: comma-separated DNS names (a single label such
// as an intranet name is fine), without scheme, port, path or wildcard.
func parseServerNames(list string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(n, "."))
		switch {
		case net.ParseIP(strings.Trim(name, "[]")) != nil:
			return nil, fmt.Errorf("%q is an IP address; IP addresses are always served, list host names only", n)
		case isLocalhost(name):
			return nil, fmt.Errorf("%q is always served; list the other names browsers use", n)
		case !validName(name):
			return nil, fmt.Errorf("%q is not a host name like meet.example.org (no scheme, port, path or wildcard; international names in their xn-- form)", n)
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// dnsNames are the DNS names of the certificate served now.
func (c *certFiles) dnsNames() []string {
	c.mu.Lock()
	cert := c.cert
	c.mu.Unlock()
	if cert.Leaf == nil {
		return nil
	}
	return cert.Leaf.DNSNames
}
