//go:build unix

package turn_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
)

// nothingQueued reports whether c has no datagram waiting. It judges only what the
// kernel already holds (a non-blocking receive; a past read deadline would not even
// look): the callers first prove that the server has handled the packet in question (a
// later packet of the same client arrived), and loopback delivery is complete when the
// sender's write returns.
func nothingQueued(t *testing.T, c net.PacketConn) bool {
	t.Helper()
	rc, err := c.(*net.UDPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var rerr error
	buf := make([]byte, 1500)
	if err := rc.Read(func(fd uintptr) bool {
		_, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return errors.Is(rerr, syscall.EAGAIN)
}
