package sfu

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"conclave/internal/benchonce"
	"conclave/internal/conntest"
)

// platformBenchmarks are the benchmarks of the Linux-only code TestBenchmarksRun runs.
var platformBenchmarks = []benchonce.Benchmark{{Name: "WriterBatch", F: BenchmarkWriterBatch}}

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

// segmentPlan is a batch in which UDP segmentation has runs to find: to peer A a run of
// four (the last shorter), then a run of two (a shorter datagram ends a run), to peer B
// a run of two, back to A one datagram that is longer than the one before it (so not
// in its run), and a lone datagram to B. Each datagram carries its number.
var segmentPlan = []struct {
	peer, n int
}{{0, 1000}, {0, 1000}, {0, 1000}, {0, 700}, {0, 1000}, {0, 1000}, {1, 900}, {1, 900}, {0, 500}, {0, 600}, {1, 40}}

// segmentedInPlan is how many of segmentPlan's datagrams go as segments of a run.
const segmentedInPlan = 4 + 2 + 2

// sendSegmentPlan queues segmentPlan in b, a writer batch of the socket from, flushes
// it, and checks that each peer got its datagrams whole and in order.
func sendSegmentPlan(t *testing.T, b *writerBatch, from net.Addr, peers [2]*net.UDPConn) {
	t.Helper()
	sentBefore := b.sent.Load()
	for i, p := range segmentPlan {
		d := b.newDatagram()
		for k := range p.n {
			d.buf[k] = byte(i)
		}
		d.n = p.n
		d.ap = peers[p.peer].LocalAddr().(*net.UDPAddr).AddrPort()
		if err := b.queueDatagram(d); err != nil {
			t.Fatal(err)
		}
	}
	b.flush()
	for pi, peer := range peers {
		var want []int
		for i, p := range segmentPlan {
			if p.peer == pi {
				want = append(want, i)
			}
		}
		for k, d := range readDatagrams(t, peer, from, len(want)) {
			i := want[k]
			if len(d) != segmentPlan[i].n || d[0] != byte(i) || d[len(d)-1] != byte(i) {
				t.Fatalf("peer %d's datagram %d: %d bytes of %d, want %d bytes of %d", pi, k, len(d), d[0], segmentPlan[i].n, i)
			}
		}
	}
	if got := b.sent.Load() - sentBefore; got != uint64(len(segmentPlan)) {
		t.Fatalf("%d datagrams counted as sent, want %d", got, len(segmentPlan))
	}
}

func mustWriterBatch(t *testing.T, c *net.UDPConn) (*writerBatch, *mmsgWriter) {
	t.Helper()
	b, err := newWriterBatch(c)
	if err != nil {
		t.Fatal(err)
	}
	return b, b.w.(*mmsgWriter)
}

// TestWriterBatchSegmentsRuns: runs of datagrams to one peer go as one segmented
// message where the kernel offers it, from an IPv4 socket and from a dual-stack one
// (IPv4 peers as mapped addresses); each peer gets every datagram whole, in order.
func TestWriterBatchSegmentsRuns(t *testing.T) {
	for _, network := range []string{"udp4", "udp"} {
		t.Run(network, func(t *testing.T) {
			send, err := net.ListenUDP(network, &net.UDPAddr{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = send.Close() })
			b, w := mustWriterBatch(t, send)
			sendSegmentPlan(t, b, send.LocalAddr(), [2]*net.UDPConn{listenLoopback(t), listenLoopback(t)})
			if !w.gso {
				t.Logf("this kernel does not segment UDP: every datagram went alone")
				return
			}
			if got := w.segmented.Load(); got != segmentedInPlan {
				t.Fatalf("%d datagrams went as segments, want %d", got, segmentedInPlan)
			}
			if got := b.calls.Load(); got != 1 {
				t.Fatalf("%d system calls for one batch", got)
			}
		})
	}
}

// TestWriterBatchSendsAloneWhatTheKernelWillNotSegment: when the kernel refuses a
// segmented message (here made to, as a device without checksum offload does with
// EIO, or a path whose MTU is below the segment with EINVAL), the batch goes again
// one datagram a message and arrives whole and in order; after EIO the writer no
// longer tries, after EINVAL it tries again with the next batch.
func TestWriterBatchSendsAloneWhatTheKernelWillNotSegment(t *testing.T) {
	for _, tc := range []struct {
		errno        syscall.Errno
		refusedAfter uint64 // batches refused after two
	}{{unix.EIO, 1}, {unix.EINVAL, 2}} {
		t.Run(tc.errno.Error(), func(t *testing.T) {
			send := listenLoopback(t)
			b, w := mustWriterBatch(t, send)
			if !w.gso {
				t.Skip("this kernel does not segment UDP")
			}
			w.sendFn = func(fd uintptr) bool {
				for _, h := range w.hdrs[:w.count] {
					if h.Hdr.Controllen != 0 {
						w.sent, w.errno = 0, tc.errno
						return true
					}
				}
				return w.sendmmsg(fd)
			}
			peers := [2]*net.UDPConn{listenLoopback(t), listenLoopback(t)}
			sendSegmentPlan(t, b, send.LocalAddr(), peers)
			sendSegmentPlan(t, b, send.LocalAddr(), peers)
			if got := w.refused.Load(); got != tc.refusedAfter {
				t.Fatalf("%d batches refused, want %d", got, tc.refusedAfter)
			}
			if got := w.segmented.Load(); got != 0 {
				t.Fatalf("%d datagrams counted as segments of a refused message", got)
			}
			if f := b.failed.Load(); f != 0 {
				t.Fatalf("%d datagrams counted as failed", f)
			}
		})
	}
}

// BenchmarkWriterBatch sends what a writer sends in a fan-out of video: for each of 32
// subscribers (loopback sockets nobody reads: the kernel drops what their buffers
// cannot hold, after delivering) a frame of four 1178-byte packets, batch after
// batch, with and without UDP segmentation, and without segmentation with each
// datagram's forwarding delay measured (forwarddelay.go). ns/op is per datagram.
func BenchmarkWriterBatch(b *testing.B) {
	for _, tc := range []struct {
		name         string
		gso, measure bool
	}{{"datagrams", false, false}, {"segmented", true, false}, {"measured", false, true}} {
		gso := tc.gso
		b.Run(tc.name, func(b *testing.B) {
			send := listenLoopback(b)
			wb, err := newWriterBatch(send)
			if err != nil {
				b.Fatal(err)
			}
			w := wb.w.(*mmsgWriter)
			if gso && !w.gso {
				b.Skip("this kernel does not segment UDP")
			}
			w.gso = gso
			if tc.measure {
				wb.now = time.Now
				wb.arrival = time.Now().UnixNano()
			}
			var peers [32]netip.AddrPort
			for i := range peers {
				peers[i] = listenLoopback(b).LocalAddr().(*net.UDPAddr).AddrPort()
			}
			b.SetBytes(1178)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d := wb.newDatagram()
				d.n, d.ap = 1178, peers[(i/4)%len(peers)]
				_ = wb.queueDatagram(d)
			}
			wb.flush()
			b.StopTimer()
			if c := wb.calls.Load(); c > 0 {
				b.ReportMetric(float64(wb.sent.Load())/float64(c), "datagrams/call")
			}
		})
	}
}

// TestWriterBatchSendsWithoutAllocating: a batch that the kernel takes, segmented or
// one datagram a message, allocates nothing (the forwarding path's promise, which
// TestForwardPathDoesNotAllocate keeps up to the writer's batch).
func TestWriterBatchSendsWithoutAllocating(t *testing.T) {
	for _, gso := range []bool{false, true} {
		send := listenLoopback(t)
		b, w := mustWriterBatch(t, send)
		if gso && !w.gso {
			t.Log("this kernel does not segment UDP")
			continue
		}
		w.gso = gso
		peers := [2]netip.AddrPort{
			listenLoopback(t).LocalAddr().(*net.UDPAddr).AddrPort(),
			listenLoopback(t).LocalAddr().(*net.UDPAddr).AddrPort(),
		}
		allocs := testing.AllocsPerRun(50, func() {
			for i := range 8 { // a run of four to each peer
				d := b.newDatagram()
				d.n, d.ap = 1000, peers[i/4]
				_ = b.queueDatagram(d)
			}
			b.flush()
		})
		if allocs != 0 {
			t.Errorf("gso %v: %.1f allocations a batch", gso, allocs)
		}
		if b.failed.Load() != 0 || b.sent.Load() == 0 {
			t.Fatalf("gso %v: %d sent, %d refused", gso, b.sent.Load(), b.failed.Load())
		}
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

// TestWriterBatchCapsRuns: a full batch of maximal datagrams to one peer is more than
// one segmented message may carry; the runs are cut to what the kernel takes, and the
// peer gets every datagram whole, in order, from one system call.
func TestWriterBatchCapsRuns(t *testing.T) {
	send := listenLoopback(t)
	b, w := mustWriterBatch(t, send)
	peer := listenLoopback(t)
	if err := peer.SetReadBuffer(4 << 20); err != nil {
		t.Fatal(err)
	}
	to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	for i := range maxBatch {
		d := b.newDatagram()
		d.n = maxDatagram
		for k := range d.n {
			d.buf[k] = byte(i)
		}
		d.ap = to
		if err := b.queueDatagram(d); err != nil { // the last one flushes the full batch
			t.Fatal(err)
		}
	}
	for i, d := range readDatagrams(t, peer, send.LocalAddr(), maxBatch) {
		if len(d) != maxDatagram || d[0] != byte(i) || d[len(d)-1] != byte(i) {
			t.Fatalf("datagram %d: %d bytes of %d", i, len(d), d[0])
		}
	}
	if b.calls.Load() != 1 || b.sent.Load() != maxBatch {
		t.Fatalf("%d calls sent %d datagrams, want one call for %d", b.calls.Load(), b.sent.Load(), maxBatch)
	}
	if w.gso && w.refused.Load() != 0 {
		t.Fatalf("the kernel refused %d segmented messages", w.refused.Load())
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
