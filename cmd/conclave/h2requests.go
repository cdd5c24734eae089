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
// and -max-conns' share in all 16 GB), where over HTTP/1.1 a request in flight holds a
// connection and the same bounds hold 800 and 40,000. boundH2Requests gives HTTP/2's
// requests in flight the connections' bounds (webConnLimits, a count of their own), so
// that HTTP/2 is bounded as HTTP/1.1 is; beyond them a request is answered 503 at once,
// its handler never run. Behind a proxy the trusted proxies have the bound in all only,
// as for connections.

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
