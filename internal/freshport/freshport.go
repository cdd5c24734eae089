// Package freshport gives the browser tests listeners on 127.0.0.1 whose ports no
// earlier listener of this package had in this process.
//
// The browser tests share one browser of each kind across tests (internal/browsertest),
// and with it one store per origin: localStorage, cookies, the HTTP cache. An origin is
// scheme, host and port; a test's server on 127.0.0.1:0 may get a port an earlier test's
// server had, and its pages would then find that test's storage (a Chromium tab came up
// in German in TestEncryptionFailureIsSaid, where another test had chosen German). Every
// listener a test's pages are loaded from (servers, proxies) comes from here, so no two
// tests' pages share an origin. (A browser context per tab would too, but changes how
// the shared browsers run every test; timed against a subset of the e2e tests, its
// cost was within the run-to-run spread of ±20 %: not shown either way.)
package freshport

import (
	"fmt"
	"net"
	"sync"
)

// maxTries bounds the ports asked for at once: the system hands out the same port
// again only once it is free, and the ones already used stay held while it looks.
const maxTries = 1000

// used is process-wide by nature: the ports this process's listeners had.
var used = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// Listen returns a TCP listener on 127.0.0.1 on a port no earlier Listen of this process
// returned.
func Listen() (net.Listener, error) {
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			_ = ln.Close()
		}
	}()
	for range maxTries {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		if claim(ln.Addr().(*net.TCPAddr).Port) {
			return ln, nil
		}
		held = append(held, ln) // held open, so the system offers another port
	}
	return nil, fmt.Errorf("freshport: no fresh port on 127.0.0.1 in %d tries", maxTries)
}

// claim marks port as used and reports whether it was fresh.
func claim(port int) bool {
	used.Lock()
	defer used.Unlock()
	if used.ports[port] {
		return false
	}
	used.ports[port] = true
	return true
}
