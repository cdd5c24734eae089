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

// With -tls or -acme-domain the web port speaks HTTP/2 as well (net/http offers h2),
// whose one connection carries many requests at once, while the port's bounds
// (webConnLimits) count connections. net/http's defaults for it let each connection
// run 250 handlers at once, allocate a 1 MB buffer for any frame whose header
// announces that much (and keep it while the rest never comes), and buffer 1 MB of
// request bodies no handler has read: with the port's 800 connections from one
// address, that address alone could hold 200,000 handlers and gigabytes, where
// HTTP/1.1 holds one request and 4 KB of reading per connection. The page needs none
// of it: a browser queues requests beyond h2MaxStreams on its side, and no request of
// ours has a body above 8 KB (the Rooms API's). A frame of 16 KB is the least HTTP/2
// allows, 64 KB the least window a connection can have.
//
// h2StallWait closes an HTTP/2 connection whose writes have not moved for that long:
// net/http clears the connection's write deadline when HTTP/2 takes it over and bounds
// each stream's handler instead (httpWriteWait), so a client that grants a large
// window and never reads kept the frame writer blocked on the full socket for good,
// and with it the connection and its GOAWAY, queued behind the write. A browser's
// kernel takes bytes while the browser lives, however slow its link.
const (
	h2MaxStreams      = 32
	h2MaxFrameBytes   = 16 << 10
	h2StreamBodyBytes = 16 << 10
	h2ConnBodyBytes   = 64 << 10
	h2StallWait       = 30 * time.Second
)

// newHTTPServer is an http.Server for h with our timeouts and HTTP/2 bounds; errorLog
// gets net/http's own complaints (at debug level: they can name clients' addresses).
func newHTTPServer(h http.Handler, errorLog *log.Logger, idle time.Duration) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: httpHeaderWait, ReadTimeout: httpReadWait, WriteTimeout: httpWriteWait,
		IdleTimeout: idle, MaxHeaderBytes: httpHeaderBytes, ErrorLog: errorLog,
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: h2MaxStreams, MaxReadFrameSize: h2MaxFrameBytes,
			MaxReceiveBufferPerStream: h2StreamBodyBytes, MaxReceiveBufferPerConnection: h2ConnBodyBytes,
			WriteByteTimeout: h2StallWait}}
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
	all, perAddr := webConnBounds(o)
	l := connlimit.New(all, perAddr)
	if o.behindProxy {
		l.ExemptFromPerAddr(o.proxies)
	}
	return l
}

// webConnBounds are webConnLimits' bounds: in all and from one address.
func webConnBounds(o options) (all, perAddr int) {
	return 4 * o.limits.maxConns, 4 * o.limits.maxConnsPerAddr
}
