package sfu

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"conclave/internal/benchonce"
)

// The writer's batches on Linux (mmsg_linux.go): runs of datagrams to one peer sent as
// segments of one message where the kernel segments them (UDP GSO), alone where it
// will not, capped, and without allocating. mmsg_linux_test.go tests the reader.

// platformBenchmarks are the benchmarks of the Linux-only code TestBenchmarksRun runs.
var platformBenchmarks = []benchonce.Benchmark{{Name: "WriterBatch", F: BenchmarkWriterBatch}}

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
