//go:build !unix

package turn_test

import (
	"net"
	"testing"
)

// nothingQueued needs a non-blocking read (MSG_DONTWAIT), which this platform's
// syscall package does not offer; the tests that ask it are skipped here.
func nothingQueued(t *testing.T, _ net.PacketConn) bool {
	t.Helper()
	t.Skip("needs MSG_DONTWAIT")
	return false
}
