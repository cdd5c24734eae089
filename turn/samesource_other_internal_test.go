//go:build !linux

package turn

import (
	"net"
	"testing"
)

// sameSourceDialer needs Linux's sharing of a port among bound sockets that all set
// SO_REUSEADDR (samesource_linux_internal_test.go); elsewhere a connection from the
// port another had cannot be made certain, and the tests that ask it are skipped.
func sameSourceDialer(t *testing.T) *net.Dialer {
	t.Helper()
	t.Skip("connecting again from one port needs Linux's SO_REUSEADDR")
	return nil
}
