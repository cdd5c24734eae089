// Package freshport gives the browser tests listeners on 127.0.0.1 whose ports no
// earlier listener of this package had in this process.
//
// The browser tests share one browser of each kind across the tests of a test binary
// (internal/browsertest), and with it one store per origin: localStorage (the only
// storage Conclave's client uses: web/web_test.go), IndexedDB, the HTTP cache. An
// origin is scheme, host and port; a test's server on 127.0.0.1:0 may get a port an
// earlier test's server had, and its pages would then find that test's storage (a
// Chromium tab came up in German in TestEncryptionFailureIsSaid, where another test had
// chosen German). Every listener a test's pages are loaded from (servers, proxies)
// comes from here, so no two tests' pages share an origin. Cookies are not separated:
// they belong to a host, whatever its port (RFC 6265, section 8.5); Conclave sets none.
// (A browser context per tab would separate everything, but changes how the shared
// browsers run every test; timed against a subset of the e2e tests, its cost was
// within the run-to-run spread of ±20 %: not shown either way.)
//
// For tests only: it never forgets a port, and gives up (an error) when the system
// offers none it has not had.
package freshport

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
)

// maxTries bounds the ports asked for at once: the system hands out the same port
// again only once it is free, and the ones already used stay held while it looks.
const maxTries = 1000

// process holds the ports this process's listeners had. It is the one package-level
// variable, and must be: what it guards is process-wide too (browsertest.Shared's
// browsers live as long as the test binary, and a port is the host's), and the
// listeners come from helpers of several packages (the e2e servers and proxies,
// hostile.Start) that could share a value only if every test threaded it through.
var process = ports{used: map[int]bool{}}

// Listen returns a TCP listener on 127.0.0.1 on a port no earlier Listen of this process
// returned.
func Listen() (net.Listener, error) {
	return process.listen(loopback)
}

// NewServer starts an httptest server of h on a Listen listener: its URL is an origin
// no earlier listener of the process had. The caller closes it (Close may be called
// more than once).
func NewServer(h http.Handler) (*httptest.Server, error) {
	return process.newServer(h, loopback)
}

// newServer is NewServer on a listener of p's, asked of system (a fake system's in the
// tests).
func (p *ports) newServer(h http.Handler, system func() (net.Listener, error)) (*httptest.Server, error) {
	ln, err := p.listen(system)
	if err != nil {
		return nil, err
	}
	// httptest.NewUnstartedServer would open a listener of the system's choice first,
	// only to be closed: the server is made as it makes it, on the fresh listener.
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	return srv, nil
}

// loopback is the system's choice of a port on 127.0.0.1.
func loopback() (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}

// ports is a set of ports handed out.
type ports struct {
	mu   sync.Mutex
	used map[int]bool
}

// listen asks system for listeners until one has a port p has not handed out; the
// others stay open meanwhile (so that the system offers another port) and are closed
// before it returns.
func (p *ports) listen(system func() (net.Listener, error)) (net.Listener, error) {
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			_ = ln.Close()
		}
	}()
	for range maxTries {
		ln, err := system()
		if err != nil {
			return nil, err
		}
		if p.claim(ln.Addr().(*net.TCPAddr).Port) {
			return ln, nil
		}
		held = append(held, ln) // held open, so the system offers another port
	}
	return nil, fmt.Errorf("freshport: no fresh port on 127.0.0.1 in %d tries", maxTries)
}

// claim marks port as used and reports whether it was fresh.
func (p *ports) claim(port int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used[port] {
		return false
	}
	p.used[port] = true
	return true
}
