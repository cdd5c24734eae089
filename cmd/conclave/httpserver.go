package main

import (
	"log"
	"net/http"
	"time"
)

// Every HTTP server of ours waits httpHeaderWait at most for a request's header, and
// closes a kept-alive connection that has been idle for httpIdleWait. Without the
// second, net/http keeps an idle connection open for as long as its client likes, so
// anyone who can reach a port could hold as many as the process has descriptors.
// Websockets are not idle connections: the upgrade takes them out of the server's
// hands (their own pings and deadlines bound them, signaling/conn.go).
const (
	httpHeaderWait = 10 * time.Second
	httpIdleWait   = 2 * time.Minute
)

// newHTTPServer is an http.Server for h with our timeouts; errorLog gets net/http's
// own complaints (at debug level: they can name clients' addresses).
func newHTTPServer(h http.Handler, errorLog *log.Logger, idle time.Duration) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: httpHeaderWait, IdleTimeout: idle, ErrorLog: errorLog}
}
