//go:build linux

package turn

import (
	"net"
	"syscall"
	"testing"
)

// sameSourceDialer dials TCP from one loopback address and port, again and again: a
// client that is reset and connects again from the port it had. The port is reserved
// for the test's whole life by a socket bound there and never listening, and every
// connection from it is bound with SO_REUSEADDR beside that socket (Linux lets bound
// sockets that all set it share a port while none listens).
//
// A port the kernel gave a first connection could not be counted on for the second:
// Linux gives a connection a port other connections to other addresses hold, those in
// TIME-WAIT too (an earlier run's, with -count), and a bind to it then fails ("address
// already in use") where the connection could share it. A port bound for all the test
// is never given to another connection meanwhile, and a bind to port 0 finds one no
// socket holds, TIME-WAIT or not.
func sameSourceDialer(t *testing.T) *net.Dialer {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("reserving a source port: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		t.Fatalf("reserving a source port: %v", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("reserving a source port: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("reserving a source port: %v", err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	return &net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port},
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			}); err != nil {
				return err
			}
			return serr
		},
	}
}
