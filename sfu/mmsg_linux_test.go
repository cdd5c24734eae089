package sfu

import (
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"conclave/internal/conntest"
)

// TestMmsgReaderDropsOversized: a datagram larger than a read slot cannot be read whole;
// it is dropped and counted, and the datagrams around it are read as they came.
func TestMmsgReaderDropsOversized(t *testing.T) {
	b := mustBatchConn(t, listenLoopback(t))
	t.Cleanup(func() { _ = b.Close() })
	if err := b.SetReadDeadline(time.Now().Add(conntest.Wait)); err != nil { // only a lost datagram meets it
		t.Fatal(err)
	}
	peer := listenLoopback(t)
	for _, p := range [][]byte{[]byte("before"), make([]byte, readSlot+1), []byte("after")} {
		if _, err := peer.WriteTo(p, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2*readSlot)
	for _, want := range []string{"before", "after"} {
		n, _, err := b.ReadFromAddrPort(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("read %d bytes %q (%v), want %q", n, buf[:min(n, 16)], err, want)
		}
	}
	if n := b.reader.(*mmsgReader).truncated.Load(); n != 1 {
		t.Fatalf("%d datagrams dropped as too large, want 1", n)
	}
}

// batchLog is a datagramTaker that takes the datagrams beginning with "take" and
// records what it was called for, and the receive times it was given.
type batchLog struct {
	calls []string
	ats   []int64
}

func (l *batchLog) take(b []byte, _ netip.AddrPort, at int64) bool {
	if len(b) < 4 || string(b[:4]) != "take" {
		return false
	}
	l.calls = append(l.calls, string(b))
	l.ats = append(l.ats, at)
	return true
}

func (l *batchLog) batchDone() { l.calls = append(l.calls, "done") }

// TestBatchDoneEndsEachReadBatch: the taker hears that a batch is done once all of its
// datagrams were handed out, before the socket is read again, and not in between.
func TestBatchDoneEndsEachReadBatch(t *testing.T) {
	b := mustBatchConn(t, listenLoopback(t))
	t.Cleanup(func() { _ = b.Close() })
	log := &batchLog{}
	b.taker = log
	if err := b.SetReadDeadline(time.Now().Add(conntest.Wait)); err != nil { // only a lost datagram meets it
		t.Fatal(err)
	}
	peer := listenLoopback(t)
	send := func(ps ...string) {
		for _, p := range ps {
			if _, err := peer.WriteTo([]byte(p), b.LocalAddr()); err != nil {
				t.Fatal(err)
			}
		}
	}
	buf := make([]byte, 64)
	read := func(want string) {
		t.Helper()
		n, _, err := b.ReadFromAddrPort(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("read %q (%v), want %q", buf[:n], err, want)
		}
	}
	// Sent before the first read, so that one recvmmsg has them all (loopback delivers
	// a datagram within the sending call).
	send("take1", "take2", "take3", "pion1")
	read("pion1")
	send("take4", "pion2")
	read("pion2")
	want := []string{"done", "take1", "take2", "take3", "done", "take4"}
	if len(log.calls) != len(want) {
		t.Fatalf("calls %q, want %q", log.calls, want)
	}
	for i := range want {
		if log.calls[i] != want[i] {
			t.Fatalf("calls %q, want %q", log.calls, want)
		}
	}
}

// TestReadsCarryTheKernelsReceiveTime: with receive times on, every datagram the
// reader hands the taker carries the time the kernel received it: after it was sent,
// and for one the socket held before the read began, before that read, so not the
// read's time. Without, none does.
func TestReadsCarryTheKernelsReceiveTime(t *testing.T) {
	for _, stamped := range []bool{true, false} {
		b := mustBatchConn(t, listenLoopback(t))
		t.Cleanup(func() { _ = b.Close() })
		if err := b.SetReadDeadline(time.Now().Add(conntest.Wait)); err != nil {
			t.Fatal(err)
		}
		peer := listenLoopback(t)
		if stamped {
			if err := b.reader.stampReceipts(time.Now); err != nil {
				t.Fatal(err)
			}
			waitForReceiveStamps(t, b, peer)
		}
		log := &batchLog{}
		b.taker = log
		before := time.Now().UnixNano()
		for _, p := range []string{"take1", "take2", "pion1"} {
			if _, err := peer.WriteTo([]byte(p), b.LocalAddr()); err != nil {
				t.Fatal(err)
			}
		}
		waitReadable(t, b.UDPConn) // take1 is in the socket
		held := time.Now().UnixNano()
		buf := make([]byte, 64)
		if n, _, err := b.ReadFromAddrPort(buf); err != nil || string(buf[:n]) != "pion1" {
			t.Fatalf("read %q (%v), want pion1", buf[:n], err)
		}
		read := time.Now().UnixNano()
		if len(log.ats) != 2 {
			t.Fatalf("the taker took %q", log.calls)
		}
		for _, c := range []struct {
			what     string
			at, upto int64
		}{{"take1", log.ats[0], held}, {"take2", log.ats[1], read}} {
			if stamped && (c.at < before || c.at > c.upto) {
				t.Errorf("%s received at %d, want between %d and %d", c.what, c.at, before, c.upto)
			}
			if !stamped && c.at != 0 {
				t.Errorf("%s has a receive time (%d) without receive times on", c.what, c.at)
			}
		}
	}
}

// TestReceiveTimesAreOnTheReadersClock: the kernel stamps on the wall clock, which
// steps; the reader gives its times on the clock stampReceipts was given (the
// engine's steadyClock), here one an hour behind the wall, as after the wall clock
// stepped an hour ahead.
func TestReceiveTimesAreOnTheReadersClock(t *testing.T) {
	b := mustBatchConn(t, listenLoopback(t))
	t.Cleanup(func() { _ = b.Close() })
	if err := b.SetReadDeadline(time.Now().Add(conntest.Wait)); err != nil {
		t.Fatal(err)
	}
	peer := listenLoopback(t)
	if err := b.reader.stampReceipts(time.Now); err != nil {
		t.Fatal(err)
	}
	waitForReceiveStamps(t, b, peer)
	behind := func() time.Time { return time.Now().Add(-time.Hour) }
	if err := b.reader.stampReceipts(behind); err != nil {
		t.Fatal(err)
	}
	before := behind().UnixNano()
	if _, err := peer.WriteTo([]byte("stepped"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	waitReadable(t, b.UDPConn)
	buf := make([]byte, 64)
	n, _, at, err := b.reader.readFrom(buf)
	after := behind().UnixNano()
	if err != nil || string(buf[:n]) != "stepped" {
		t.Fatalf("read %q (%v), want the datagram", buf[:n], err)
	}
	if at < before || at > after {
		t.Fatalf("received at %d, want on the reader's clock, between %d and %d (%v off)", at, before, after, time.Duration(at-after))
	}
}

// waitForReceiveStamps waits (conntest.Wait at most) until the kernel stamps datagrams as
// it receives them: the first socket to ask turns stamping on for the whole system
// from a kernel work queue, and until that has run a datagram is stamped when it is
// read.
func waitForReceiveStamps(t *testing.T, b *batchConn, peer *net.UDPConn) {
	t.Helper()
	buf := make([]byte, 64)
	for deadline := time.Now().Add(conntest.Wait); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, err := peer.WriteTo([]byte("probe"), b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		waitReadable(t, b.UDPConn)
		held := time.Now().UnixNano()
		n, _, at, err := b.reader.readFrom(buf)
		if err != nil || string(buf[:n]) != "probe" {
			t.Fatalf("read %q (%v), want the probe", buf[:n], err)
		}
		if at != 0 && at <= held {
			return
		}
	}
	t.Fatal("the kernel does not stamp datagrams as it receives them")
}

// waitReadable waits (conntest.Wait at most) until c holds a datagram.
func waitReadable(t *testing.T, c *net.UDPConn) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var perr error
	if err := rc.Control(func(fd uintptr) {
		n, perr = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(conntest.Wait/time.Millisecond))
	}); err != nil || perr != nil || n != 1 {
		t.Fatalf("waiting for a datagram: %v %v (%d ready)", err, perr, n)
	}
}

// TestReceiveStamp: the receive time is read from a well-formed control message of
// its type only; a buffer too short, a length that runs past it or is shorter than a
// header, or a message of another type gives 0.
func TestReceiveStamp(t *testing.T) {
	const sec, nsec = 1_700_000_000, 123_456_789
	// msgs lays control messages out one after the other in an aligned buffer, as the
	// kernel does in the reader's.
	type cmsg struct {
		level, typ int32
		length     int
		data       []int64
	}
	msgs := func(ms ...cmsg) []byte {
		words := make([]uint64, 32)
		b := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
		off := 0
		for _, m := range ms {
			h := (*unix.Cmsghdr)(unsafe.Pointer(&b[off]))
			h.Level, h.Type = m.level, m.typ
			h.SetLen(m.length)
			for i, d := range m.data {
				*(*int64)(unsafe.Pointer(&b[off+unix.SizeofCmsghdr+8*i])) = d
			}
			off += unix.CmsgSpace(max(0, m.length-unix.SizeofCmsghdr))
		}
		return b[:off]
	}
	msg := func(level, typ int32, length int, data ...int64) []byte {
		return msgs(cmsg{level, typ, length, data})
	}
	good := unix.CmsgLen(16)
	for _, c := range []struct {
		name string
		ctrl []byte
		want int64
	}{
		{"a receive time", msg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, good, sec, nsec), sec*1e9 + nsec},
		{"none", nil, 0},
		{"shorter than a header", msg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, good, sec, nsec)[:8], 0},
		{"after a message of another type", msgs(cmsg{unix.SOL_SOCKET, unix.SCM_RIGHTS, unix.CmsgLen(4), []int64{7}},
			cmsg{unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, good, []int64{sec, nsec}}), sec*1e9 + nsec},
		{"a length shorter than a header", msg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, 4, sec, nsec), 0},
		{"a length past the buffer", msg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, good, sec, nsec)[:good-1], 0},
		{"another type", msg(unix.SOL_SOCKET, unix.SCM_RIGHTS, good, sec, nsec), 0},
		{"another level", msg(unix.IPPROTO_IP, unix.SCM_TIMESTAMPNS, good, sec, nsec), 0},
		{"a time's type with too little data", msg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, unix.CmsgLen(8), sec), 0},
	} {
		if got := receiveStamp(c.ctrl); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}
