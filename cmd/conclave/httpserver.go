package main

import (
	"log"
	"net/http"
	"time"

	"conclave/connlimit"
)

// Every HTTP server of ours waits httpHeaderWait at most for a request's header, and
// closes a kept-alive connection that has been idle for httpIdleWait. Without the
// second, net/http keeps an idle connection open for as long as its client likes, so
// anyone who can reach a port could hold as many as the process has descriptors.
// Websockets are not idle connections: the upgrade takes them out of the server's
// hands (their own pings and deadlines bound them, signaling/conn.go).
//
// httpReadWait bounds the reading of a whole request, header and body, and
// httpWriteWait the writing of its answer: without them a client that sends a body's
// length and never the body (net/http reads it, or discards it after a handler that
// answered without reading it), or that never reads a large answer, holds the
// connection for as long as it likes. The upgrade of a websocket clears both (net/http
// clears a hijacked connection's deadlines), and a handler still running past them
// keeps its context; httpWriteWait is long enough for the largest asset (the blur
// runtime, some 7 MB) on a slow link.
const (
	httpHeaderWait = 10 * time.Second
	httpReadWait   = 30 * time.Second
	httpWriteWait  = 5 * time.Minute
	httpIdleWait   = 2 * time.Minute
)

// httpHeaderBytes bounds a request's header: none of ours carries more than a host key
// and a browser's usual lines (no cookies), and net/http's default (1 MB) let every
// connection hold a megabyte while its header was read.
const httpHeaderBytes = 64 << 10

// newHTTPServer is an http.Server for h with our timeouts; errorLog gets net/http's
// own complaints (at debug level: they can name clients' addresses).
func newHTTPServer(h http.Handler, errorLog *log.Logger, idle time.Duration) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: httpHeaderWait, ReadTimeout: httpReadWait, WriteTimeout: httpWriteWait,
		IdleTimeout: idle, MaxHeaderBytes: httpHeaderBytes, ErrorLog: errorLog}
}

// webConnLimits bounds the connections the web ports hold (the application's and, with
// TLS, the redirect's, together): four times the websockets' bounds, since a browser
// holds its websocket and a few kept-alive HTTP connections beside it. Without them
// one address could open connections until the process has no descriptor left for
// anyone (the systemd unit allows 65,536). Behind a proxy every client comes from the
// proxy's address, so only the bound in all applies to the trusted proxies; anyone
// else who reaches the port directly keeps the bound from one address (lifted for all,
// one address could have held every connection the port takes, the proxy's refused).
// A refused connection is closed as soon as it is accepted.
func webConnLimits(o options) *connlimit.Limits {
	l := connlimit.New(4*o.limits.maxConns, 4*o.limits.maxConnsPerAddr)
	if o.behindProxy {
		l.ExemptFromPerAddr(o.proxies)
	}
	return l
}
