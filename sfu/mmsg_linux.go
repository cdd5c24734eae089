package sfu

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
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
// Where the kernel offers UDP segmentation (UDP_SEGMENT, Linux 4.18), a run of
// datagrams to one peer, all of one size but the last, which may be shorter, goes as
// one message that the kernel cuts into those datagrams: the IP and device layers run
// once for the run instead of once a datagram, and that was half the server's time per
// forwarded packet (bench/README.md, "UDP segmentation, our own AES-GCM"). A writer's batch holds such
// runs: it drains one subscriber's queue at a time, and a video frame is a burst of
// packets of one size. What leaves is the same datagrams in the same order.
//
// Each has one user (a batchConn's sender goroutine, or one writer's writerBatch); its
// arrays are reused for every batch and live on the heap (the kernel reads them
// during the call).
type mmsgWriter struct {
	rc   syscall.RawConn
	v6   bool // the socket is AF_INET6 (IPv4 peers as mapped addresses)
	gso  bool // runs of datagrams to one peer go as one segmented message
	hdrs [maxBatch]unix.Mmsghdr
	iovs [maxBatch]unix.Iovec
	sas  [maxBatch]unix.RawSockaddrInet6 // an AF_INET address uses its first bytes
	// cmsgs holds each message's UDP_SEGMENT control message (the segment size).
	cmsgs [maxBatch][segmentCmsgRoom]byte
	segs  [maxBatch]int // datagrams in each message

	// The call's arguments and results, so that the function RawConn.Write gets is
	// made once (a closure per call would be an allocation per batch).
	count  int
	sent   int
	errno  syscall.Errno
	sendFn func(fd uintptr) bool

	// segmented counts datagrams sent as segments of a larger message, refused the
	// batches the kernel would not segment (sent again one message a datagram).
	segmented, refused atomic.Uint64
}

func (w *mmsgWriter) segmentation() (segmented, refused uint64) {
	return w.segmented.Load(), w.refused.Load()
}

// segmentCmsgRoom holds a control message with a 16-bit value on every platform.
const segmentCmsgRoom = 32

// A run sent as one segmented message is at most gsoMaxSegments datagrams (the
// kernel's UDP_MAX_SEGMENTS before Linux 6.2) and gsoMaxBytes in all (what one IPv4 UDP
// datagram can carry, 65,507 bytes, with room to spare): the kernel refuses a longer
// one.
const (
	gsoMaxSegments = 64
	gsoMaxBytes    = 65000
)

func newBatchWriter(c *net.UDPConn) (batchWriter, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	w := &mmsgWriter{rc: rc}
	var sa unix.Sockaddr
	var serr, gsoErr error
	err = rc.Control(func(fd uintptr) {
		sa, serr = unix.Getsockname(int(fd))
		// A kernel that knows the option answers; one that does not refuses.
		_, gsoErr = unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
	})
	if err != nil {
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
	w.gso = gsoErr == nil && unix.CmsgSpace(2) <= segmentCmsgRoom
	for i := range w.cmsgs {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&w.cmsgs[i][0]))
		h.Level, h.Type = unix.IPPROTO_UDP, unix.UDP_SEGMENT
		h.SetLen(unix.CmsgLen(2))
	}
	w.sendFn = w.sendmmsg
	return w, nil
}

// writeBatch sends ds in order and reports how many the kernel took. An error is that
// of the first datagram not sent.
func (w *mmsgWriter) writeBatch(ds []*datagram) (int, error) {
	sent, err := w.call(ds, w.gso)
	if err == nil || w.segs[0] <= 1 {
		return sent, err
	}
	// errno is declared here, not above: errors.As takes its address, which moves it
	// to the heap, and a batch that went out must not allocate.
	var errno syscall.Errno
	if errors.As(err, &errno) && (errno == unix.EIO || errno == unix.EINVAL) {
		// The first message was a segmented one and the kernel would not cut it: the
		// device cannot checksum the segments (EIO: never again on this socket) or the
		// path's MTU is below the segment (EINVAL: this batch). Sent as datagrams,
		// the kernel fragments or refuses each as it would any other.
		w.refused.Add(1)
		if errno == unix.EIO {
			w.gso = false
		}
		sent, err = w.call(ds, false)
	}
	return sent, err
}

// call makes one sendmmsg of ds, in runs when gso, and returns the datagrams sent (of
// whole messages) and the error of the first message not sent.
func (w *mmsgWriter) call(ds []*datagram, gso bool) (int, error) {
	m := w.build(ds, gso)
	w.count, w.sent, w.errno = m, 0, 0
	err := w.rc.Write(w.sendFn)
	for i := range ds {
		w.iovs[i].Base = nil // let the datagrams go back to the pool unreferenced
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range w.segs[:w.sent] {
		n += s
		if s > 1 {
			w.segmented.Add(uint64(s))
		}
	}
	if w.errno != 0 {
		return n, w.errno
	}
	return n, nil
}

// build lays ds out as messages and returns how many: one a datagram, or, with gso, one
// a run to one peer whose datagrams are all as long as the first but the last, which
// is no longer (UDP_SEGMENT's rule).
func (w *mmsgWriter) build(ds []*datagram, gso bool) int {
	m := 0
	for i := 0; i < len(ds); m++ {
		d := ds[i]
		j := i + 1
		for gso && j < len(ds) && ds[j].ap == d.ap && ds[j-1].n == d.n && ds[j].n > 0 && ds[j].n <= d.n &&
			j-i < gsoMaxSegments && (j-i+1)*d.n <= gsoMaxBytes {
			j++
		}
		for k := i; k < j; k++ {
			w.iovs[k].Base = &ds[k].buf[0]
			w.iovs[k].SetLen(ds[k].n)
		}
		h := &w.hdrs[m].Hdr
		h.Name = (*byte)(unsafe.Pointer(&w.sas[m]))
		h.Namelen = w.setAddr(&w.sas[m], d.ap)
		h.Iov = &w.iovs[i]
		h.SetIovlen(j - i)
		h.Control, h.Controllen = nil, 0
		if j-i > 1 {
			c := &w.cmsgs[m]
			*(*uint16)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = uint16(d.n)
			h.Control = &c[0]
			h.SetControllen(unix.CmsgSpace(2))
		}
		w.segs[m] = j - i
		i = j
	}
	return m
}

// sendmmsg is the call itself; false asks the poller to wait until the socket can
// take more.
func (w *mmsgWriter) sendmmsg(fd uintptr) bool {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.hdrs[0])), uintptr(w.count), 0, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	w.sent, w.errno = int(r), e
	if e != 0 {
		w.sent = 0
	}
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

// mmsgReader reads the socket with recvmmsg, up to readBatch datagrams per call, and
// hands them out one at a time. Like the writer's, the call is raw: the runtime's
// monitor sleeps while the server is idle and is woken, to watch system calls again
// every 20 µs for a millisecond and more, by the first system call made through the
// runtime after it. The media socket's reads were that call, many times a second (each
// packet that arrives after a pause), and the monitor cost a tenth of the server's CPU
// at 1 → 200 (bench/README.md, "Raw system calls").
type mmsgReader struct {
	mu   sync.Mutex
	rc   syscall.RawConn
	hdrs [readBatch]unix.Mmsghdr
	iovs [readBatch]unix.Iovec
	sas  [readBatch]unix.RawSockaddrInet6 // large enough for AF_INET and AF_INET6
	bufs [readBatch][readSlot]byte
	n    int // datagrams in the buffers
	next int // the next one to hand out

	// With stamps, each datagram comes with the kernel's receive time in its control
	// buffer (SO_TIMESTAMPNS; words, so the header and the time in it are aligned).
	stamps bool
	ctrl   [readBatch][(stampSpace + 7) / 8]uint64
	// now is the clock the times are given on, and skew the wall clock's reading less
	// its, taken at each read: the kernel stamps on the wall clock, which steps.
	now  func() time.Time
	skew int64

	got    int
	errno  syscall.Errno
	recvFn func(fd uintptr) bool

	truncated atomic.Uint64 // datagrams larger than readSlot, dropped
}

// stampSpace holds one control message of a timespec, the receive time (both parts
// are word-aligned already, so this is CMSG_SPACE).
const stampSpace = unix.SizeofCmsghdr + int(unsafe.Sizeof(unix.Timespec{}))

const (
	readBatch = 16
	// readSlot is the largest datagram read whole: browsers and Pion keep theirs near
	// 1200 bytes, DTLS flights included; a larger one is dropped and counted.
	readSlot = 4096
)

func newBatchReader(c *net.UDPConn) (batchReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &mmsgReader{rc: rc}
	for i := range r.hdrs {
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(readSlot)
		h := &r.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.sas[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
	}
	r.recvFn = r.recvmmsg
	return r, nil
}

// drained reports whether the datagrams of the last recvmmsg have all been handed out.
func (r *mmsgReader) drained() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next >= r.n
}

// readFrom copies the next datagram into p (cut to p's length, as a read of a socket
// does) and returns its sender and, with receive times on, when the kernel received it.
func (r *mmsgReader) readFrom(p []byte) (int, netip.AddrPort, int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		for r.next >= r.n {
			if err := r.fill(); err != nil {
				return 0, netip.AddrPort{}, 0, err
			}
		}
		i := r.next
		r.next++
		h := &r.hdrs[i]
		if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
			r.truncated.Add(1)
			continue
		}
		ap, ok := sockaddrAddrPort(&r.sas[i])
		if !ok {
			continue
		}
		var at int64
		if r.stamps {
			ctrl := (*[stampSpace]byte)(unsafe.Pointer(&r.ctrl[i]))
			if at = receiveStamp(ctrl[:min(int(h.Hdr.Controllen), stampSpace)]); at != 0 {
				at -= r.skew
			}
		}
		return copy(p, r.bufs[i][:h.Len]), ap, at, nil
	}
}

// stampReceipts turns on the kernel's receive times (SO_TIMESTAMPNS) for the reads
// that follow, given on now's clock. The reader's goroutine calls it before its first
// read.
func (r *mmsgReader) stampReceipts(now func() time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var serr error
	if err := r.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("sfu: receive times: %w", serr)
	}
	for i := range r.hdrs {
		r.hdrs[i].Hdr.Control = (*byte)(unsafe.Pointer(&r.ctrl[i]))
	}
	r.stamps, r.now = true, now
	return nil
}

// receiveStamp reads the receive time from a datagram's control messages, 0 when they
// hold none.
func receiveStamp(ctrl []byte) int64 {
	for len(ctrl) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
		n := int(h.Len)
		if n < unix.SizeofCmsghdr || n > len(ctrl) {
			return 0
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && n >= stampSpace {
			ts := (*unix.Timespec)(unsafe.Pointer(&ctrl[unix.SizeofCmsghdr]))
			return ts.Nano()
		}
		ctrl = ctrl[min(unix.CmsgSpace(n-unix.SizeofCmsghdr), len(ctrl)):]
	}
	return 0
}

// fill reads what the socket holds, waiting for at least one datagram.
func (r *mmsgReader) fill() error {
	for i := range r.hdrs {
		r.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		r.hdrs[i].Hdr.Flags = 0
		r.hdrs[i].Len = 0
		if r.stamps {
			r.hdrs[i].Hdr.SetControllen(stampSpace)
		}
	}
	r.n, r.next, r.got, r.errno = 0, 0, 0, 0
	if err := r.rc.Read(r.recvFn); err != nil {
		return err
	}
	if r.errno != 0 {
		return r.errno
	}
	r.n = r.got
	if r.stamps {
		// Two readings a system call of up to readBatch datagrams.
		r.skew = time.Now().UnixNano() - r.now().UnixNano()
	}
	return nil
}

// recvmmsg is the call itself; false asks the poller to wait for a datagram.
func (r *mmsgReader) recvmmsg(fd uintptr) bool {
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), readBatch, 0, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	r.got, r.errno = int(n), e
	return true
}

// sockaddrAddrPort reads the sender's address as Go's own UDP reads report it (an
// IPv4 peer of an IPv6 socket as a mapped address, a zone by interface name).
func sockaddrAddrPort(sa *unix.RawSockaddrInet6) (netip.AddrPort, bool) {
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p := uint16(port[0])<<8 | uint16(port[1])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), p), true
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.Scope_id)); err == nil {
				a = a.WithZone(ifi.Name)
			} else {
				a = a.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
			}
		}
		return netip.AddrPortFrom(a, p), true
	}
	return netip.AddrPort{}, false
}
