package sfu

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgWriter sends a batch of datagrams with one sendmmsg system call, made as a raw
// system call. The socket is non-blocking (Go's sockets are), so the call never
// sleeps: when the socket buffer is full it returns EAGAIN and the runtime's poller
// waits for room (RawConn.Write). A raw call keeps the goroutine's processor while the
// kernel works. Through syscall.Syscall (as x/net's WriteBatch makes it) a batch of 32
// on loopback, which takes the kernel longer than the runtime's monitor tick (20 µs),
// had the monitor take the processor away and hand it to another thread on almost
// every call, and kept the monitor itself waking every 20 µs: at 1 → 200 that was a
// tenth of the server's CPU (bench/README.md, "Raw sendmmsg").
//
// Only the sender goroutine of a batchConn uses it; its arrays are reused for every
// batch and live on the heap (the kernel reads them during the call).
type mmsgWriter struct {
	rc   syscall.RawConn
	v6   bool // the socket is AF_INET6 (IPv4 peers as mapped addresses)
	hdrs [maxBatch]unix.Mmsghdr
	iovs [maxBatch]unix.Iovec
	sas  [maxBatch]unix.RawSockaddrInet6 // an AF_INET address uses its first bytes

	// The call's arguments and results, so that the function RawConn.Write gets is
	// made once (a closure per call would be an allocation per batch).
	count  int
	sent   int
	errno  syscall.Errno
	sendFn func(fd uintptr) bool
}

func newBatchWriter(c *net.UDPConn) (batchWriter, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	w := &mmsgWriter{rc: rc}
	var sa unix.Sockaddr
	var serr error
	if err := rc.Control(func(fd uintptr) { sa, serr = unix.Getsockname(int(fd)) }); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	switch sa.(type) {
	case *unix.SockaddrInet4:
	case *unix.SockaddrInet6:
		w.v6 = true
	default:
		return nil, fmt.Errorf("sfu: media socket of address family %T", sa)
	}
	w.sendFn = w.sendmmsg
	return w, nil
}

// writeBatch sends ds in order and reports how many the kernel took. An error is that
// of the first datagram not sent.
func (w *mmsgWriter) writeBatch(ds []*datagram) (int, error) {
	for i, d := range ds {
		w.iovs[i].Base = &d.buf[0]
		w.iovs[i].SetLen(d.n)
		h := &w.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&w.sas[i]))
		h.Namelen = w.setAddr(&w.sas[i], d.ap)
		h.Iov = &w.iovs[i]
		h.SetIovlen(1)
	}
	w.count, w.sent, w.errno = len(ds), 0, 0
	err := w.rc.Write(w.sendFn)
	for i := range ds {
		w.iovs[i].Base = nil // let the datagrams go back to the pool unreferenced
	}
	if err != nil {
		return 0, err
	}
	if w.errno != 0 {
		return 0, w.errno
	}
	return w.sent, nil
}

// sendmmsg is the call itself; false asks the poller to wait until the socket can
// take more.
func (w *mmsgWriter) sendmmsg(fd uintptr) bool {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.hdrs[0])), uintptr(w.count), 0, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	w.sent, w.errno = int(r), e
	return true
}

// setAddr writes ap into sa as the socket's family wants it and returns its length.
// An IPv6 address on an IPv4 socket is written as IPv6: the kernel refuses that
// datagram, as it would from sendto.
func (w *mmsgWriter) setAddr(sa *unix.RawSockaddrInet6, ap netip.AddrPort) uint32 {
	a := ap.Addr()
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port[0], port[1] = byte(ap.Port()>>8), byte(ap.Port())
	if !w.v6 && a.Unmap().Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		sa4.Family = unix.AF_INET
		sa4.Addr = a.Unmap().As4()
		sa4.Zero = [8]byte{}
		return unix.SizeofSockaddrInet4
	}
	sa.Family = unix.AF_INET6
	sa.Flowinfo = 0
	sa.Addr = a.As16() // an IPv4 address as ::ffff:a.b.c.d
	sa.Scope_id = zoneIndex(a.Zone())
	return unix.SizeofSockaddrInet6
}

// zoneIndex is the interface index of an IPv6 zone (a link-local peer's), 0 for none.
func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}
