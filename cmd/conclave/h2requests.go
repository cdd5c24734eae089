package main

import (
	"net"
	"net/http"
	"net/netip"

	"conclave/connlimit"
)

// An HTTP/2 connection carries up to h2MaxStreams requests at once, each a handler
// that a client can keep running for httpWriteWait by granting no window for its
// answer (a large asset), while the web port's bounds count connections: one address
// could hold 4 × -max-conns-per-addr connections of h2MaxStreams such handlers each,
// 25,600 at the defaults (13 KB each, measured: a third of a gigabyte from one address,
// and -max-conns' share in all 16 GB). boundH2Requests bounds HTTP/2's requests in
// flight (h2RequestLimits, a count of their own); beyond the bounds a request is
// answered 503 at once, its handler never run. Behind a proxy the trusted proxies have
// the bound in all only, as for connections.
//
// From one address the bound is h2MaxStreams for every browser the connections' bound
// lets in over HTTP/1.1, where a browser opens at most browserConnsPerHost connections
// to a host and has a request in flight on each. Bounded by the connections' bound
// itself, a crowd behind one NAT address (a school, an office) that HTTP/1.1 served
// was refused over HTTP/2: one browser has 21 of the page's requests in flight at once
// on loopback (measured; up to h2MaxStreams where each takes a round trip), so the 800
// places of the default bound held some 25 to 38 browsers loading the page, where its
// 800 connections held 133, and a module answered 503 leaves the page blank. At the
// defaults one address now holds 4,288 handlers (56 MB stalled), a sixth of what it
// could without the bound. The bound in all stays the connections' (40,000 at the
// defaults: more than 1,250 browsers loading at the same moment).

// browserConnsPerHost is how many HTTP/1.1 connections a browser opens to one host at
// most (Chromium, Firefox and Safari: 6).
const browserConnsPerHost = 6

// h2RequestLimits bounds HTTP/2's requests in flight: in all as the web port's
// connections, from one address h2MaxStreams for each browser its bound of connections
// admits over HTTP/1.1.
func h2RequestLimits(o options) *connlimit.Limits {
	all, conns := webConnBounds(o)
	browsers := (conns + browserConnsPerHost - 1) / browserConnsPerHost
	l := connlimit.New(all, browsers*h2MaxStreams)
	if o.behindProxy {
		l.ExemptFromPerAddr(o.proxies)
	}
	return l
}

// boundH2Requests runs h for an HTTP/2 request only while limits have room for it from
// its client's address; HTTP/1.1 requests are bounded by their connections already.
func boundH2Requests(h http.Handler, limits *connlimit.Limits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			h.ServeHTTP(w, r)
			return
		}
		give, ok := limits.Take(remoteAddr(r))
		if !ok {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many requests at once; try again shortly", http.StatusServiceUnavailable)
			return
		}
		defer give()
		h.ServeHTTP(w, r)
	})
}

// remoteAddr is the address of r's connection; an unreadable one is the zero address,
// which connlimit counts as one group.
func remoteAddr(r *http.Request) net.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return &net.TCPAddr{}
	}
	return net.TCPAddrFromAddrPort(ap)
}
