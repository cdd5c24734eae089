// Package rawstream reads and writes a TCP connection with raw system calls.
//
// Go's socket calls go through the runtime (entersyscall), which wakes its monitor
// thread when it sleeps deeply, as it does while every processor is idle: on a media
// server that goes idle between packets, that is a wake-up at nearly every call, and
// 20 µs ticks after each (bench/README.md, "Writers per core, raw system calls"). The
// media socket's calls were made raw for that; a meeting relayed over TURN over TCP or
// TLS, or over ICE-TCP, makes a read or a write a packet on its connections, and the
// monitor was 12–14 % of the server's CPU with everybody relayed over TCP. Go's
// sockets are non-blocking, so a raw call never sleeps: when the kernel has nothing to
// read or no room to write, it says EAGAIN and the runtime's poller waits (RawConn),
// with the connection's deadlines.
package rawstream

import "net"

// Wrap returns c read and written with raw system calls (a *Conn) where the platform
// (Linux) and c (a syscall.Conn, such as a *net.TCPConn) allow, else c itself.
// Everything but Read and Write is c's.
func Wrap(c net.Conn) net.Conn { return wrap(c) }
