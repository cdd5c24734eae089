package sfu

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
)

// listenLoopback opens a UDP socket on 127.0.0.1.
func listenLoopback(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readDatagrams reads n datagrams sent from the socket from, or fails the test after
// a generous bound (only a lost datagram meets it). Others are skipped: the port may
// have been another test's a moment ago, and a peer of that test may still send to it.
func readDatagrams(t *testing.T, c *net.UDPConn, from net.Addr, n int) [][]byte {
	t.Helper()
	want := from.(*net.UDPAddr).AddrPort()
	out := make([][]byte, 0, n)
	buf := make([]byte, 2048)
	for len(out) < n {
		if err := c.SetReadDeadline(time.Now().Add(conntest.Wait)); err != nil {
			t.Fatal(err)
		}
		k, src, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(out), n, err)
		}
		if src.Port() != want.Port() || !src.Addr().Unmap().IsLoopback() {
			continue
		}
		out = append(out, append([]byte(nil), buf[:k]...))
	}
	return out
}

// TestBatchConnKeepsEachWritersOrder: writers on several goroutines, through both write
// methods, in rounds small enough for the receiving socket's buffer (loopback drops
// nothing else): every datagram arrives, whole, and each writer's in the order written.
func TestBatchConnKeepsEachWritersOrder(t *testing.T) {
	recv := listenLoopback(t)
	b := mustBatchConn(t, listenLoopback(t))
	t.Cleanup(func() { _ = b.Close() })
	to := recv.LocalAddr().(*net.UDPAddr)

	const writers, perRound, rounds = 4, 16, 10
	next := make([]uint32, writers)
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < perRound; i++ {
					seq := uint32(round*perRound + i)
					p := make([]byte, 8+w*100+i) // sizes differ: a datagram is not cut or padded
					binary.BigEndian.PutUint32(p[0:4], uint32(w))
					binary.BigEndian.PutUint32(p[4:8], seq)
					var err error
					if w%2 == 0 {
						_, err = b.WriteTo(p, to)
					} else {
						_, err = b.WriteToAddrPort(p, to.AddrPort())
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			}(w)
		}
		wg.Wait()
		for _, d := range readDatagrams(t, recv, b.LocalAddr(), writers*perRound) {
			w, seq := binary.BigEndian.Uint32(d[0:4]), binary.BigEndian.Uint32(d[4:8])
			if int(w) >= writers || seq != next[w] {
				t.Fatalf("writer %d's datagram %d arrived when %d was next", w, seq, next[w%writers])
			}
			if want := 8 + int(w)*100 + int(seq)%perRound; len(d) != want {
				t.Fatalf("writer %d's datagram %d is %d bytes, was written with %d", w, seq, len(d), want)
			}
			next[w]++
		}
	}
	// Loopback delivers during the system call, so the last datagrams can be read
	// before the sender, back from sendmmsg, has counted them.
	conntest.Eventually(t, "the sender's count of every datagram", func() bool {
		return b.sent.Load() >= writers*perRound*rounds
	})
	if got := b.sent.Load(); got != writers*perRound*rounds {
		t.Fatalf("sent %d datagrams, want %d", got, writers*perRound*rounds)
	}
	t.Logf("%d datagrams in %d calls", b.sent.Load(), b.calls.Load())
}

// TestBatchConnSkipsARefusedDatagram: a datagram the socket cannot send (an IPv6
// destination from an IPv4 socket) is counted and skipped; the ones queued behind it
// in the same batch still go.
func TestBatchConnSkipsARefusedDatagram(t *testing.T) {
	recv := listenLoopback(t)
	b := mustBatchConn(t, listenLoopback(t))
	t.Cleanup(func() { _ = b.Close() })
	to := recv.LocalAddr().(*net.UDPAddr).AddrPort()
	bad := netip.MustParseAddrPort("[2001:db8::1]:9")

	for i, ap := range []netip.AddrPort{to, bad, to, bad, bad, to} {
		if _, err := b.WriteToAddrPort([]byte{byte(i)}, ap); err != nil {
			t.Fatal(err)
		}
	}
	got := readDatagrams(t, recv, b.LocalAddr(), 3)
	for i, want := range []byte{0, 2, 5} {
		if got[i][0] != want {
			t.Fatalf("datagram %d is %d, want %d", i, got[i][0], want)
		}
	}
	// Each refusal is counted before the datagram behind it is sent.
	if f := b.failed.Load(); f != 3 {
		t.Fatalf("%d datagrams counted as refused, want 3", f)
	}
}

// TestBatchConnClose: once closed, writes fail with net.ErrClosed, reads end, and
// Close returns only when the sender goroutine has stopped.
func TestBatchConnClose(t *testing.T) {
	recv := listenLoopback(t)
	b := mustBatchConn(t, listenLoopback(t))
	to := recv.LocalAddr().(*net.UDPAddr)
	if _, err := b.WriteTo([]byte("x"), to); err != nil {
		t.Fatal(err)
	}
	readDatagrams(t, recv, b.LocalAddr(), 1)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.gone:
	default:
		t.Fatal("Close returned before the sender stopped")
	}
	if _, err := b.WriteTo([]byte("x"), to); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
	if _, err := b.WriteToAddrPort([]byte("x"), to.AddrPort()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
	if _, _, err := b.ReadFromAddrPort(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v, want net.ErrClosed", err)
	}
	if err := b.Close(); err == nil {
		t.Fatal("a second Close reported no error")
	}
}

// BenchmarkBatchConn writes 1200-byte datagrams to a loopback socket (that nobody reads:
// the kernel drops what its buffer cannot hold) from many goroutines, as subscribers'
// writers do: one sendto each (direct) or through batchConn. ns/op is per datagram.
func BenchmarkBatchConn(b *testing.B) {
	p := make([]byte, 1200)
	for _, mode := range []string{"direct", "batched"} {
		b.Run(mode, func(b *testing.B) {
			recv := listenLoopback(b)
			to := recv.LocalAddr().(*net.UDPAddr).AddrPort()
			send := listenLoopback(b)
			write := func() error { _, err := send.WriteToUDPAddrPort(p, to); return err }
			var bc *batchConn
			if mode == "batched" {
				bc = mustBatchConn(b, send)
				b.Cleanup(func() { _ = bc.Close() })
				write = func() error { _, err := bc.WriteToAddrPort(p, to); return err }
			}
			b.SetParallelism(25) // 25 writers per core
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := write(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if bc != nil && bc.calls.Load() > 0 {
				b.ReportMetric(float64(bc.sent.Load())/float64(bc.calls.Load()), "datagrams/call")
			}
		})
	}
}

// TestBatchConnDualStack: the server's default media socket listens on every address,
// an IPv6 socket that also serves IPv4 peers; batched datagrams reach both kinds.
func TestBatchConnDualStack(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	b := mustBatchConn(t, c)
	t.Cleanup(func() { _ = b.Close() })
	recv4 := listenLoopback(t)
	if _, err := b.WriteTo([]byte("four"), recv4.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got := readDatagrams(t, recv4, b.LocalAddr(), 1); string(got[0]) != "four" {
		t.Fatalf("IPv4 peer got %q", got[0])
	}
	recv6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Logf("no IPv6 loopback here: %v", err)
		return
	}
	t.Cleanup(func() { _ = recv6.Close() })
	if _, err := b.WriteTo([]byte("six"), recv6.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got := readDatagrams(t, recv6, b.LocalAddr(), 1); string(got[0]) != "six" {
		t.Fatalf("IPv6 peer got %q", got[0])
	}
	if f := b.failed.Load(); f != 0 {
		t.Fatalf("%d datagrams refused", f)
	}
}

func mustBatchConn(tb testing.TB, c *net.UDPConn) *batchConn {
	tb.Helper()
	b, err := newBatchConn(c)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestBatchConnReads: datagrams from two peers, more than one read call takes, are
// handed out whole, each peer's in order, with the sender's address; a read into a
// short buffer gets the datagram's start; Close ends a waiting read.
func TestBatchConnReads(t *testing.T) {
	b := mustBatchConn(t, listenLoopback(t))
	t.Cleanup(func() { _ = b.Close() })
	if err := b.SetReadDeadline(time.Now().Add(conntest.Wait)); err != nil { // only a lost datagram meets it
		t.Fatal(err)
	}
	peers := []*net.UDPConn{listenLoopback(t), listenLoopback(t)}
	const per = 50 // more than one recvmmsg takes (readBatch)
	for i := range per {
		for pi, peer := range peers {
			p := make([]byte, 3+i*20+pi)
			p[0], p[1] = byte(pi), byte(i)
			if _, err := peer.WriteTo(p, b.LocalAddr()); err != nil {
				t.Fatal(err)
			}
		}
	}
	next := []int{0, 0}
	buf := make([]byte, 2048)
	for got := 0; got < 2*per; got++ {
		n, ap, err := b.ReadFromAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d datagrams: %v", got, err)
		}
		pi, i := int(buf[0]), int(buf[1])
		if pi > 1 || i != next[pi] || n != 3+i*20+pi {
			t.Fatalf("datagram %d: peer %d's number %d, %d bytes; want number %d", got, pi, i, n, next[pi])
		}
		if want := peers[pi].LocalAddr().(*net.UDPAddr).AddrPort(); ap.Addr().Unmap() != want.Addr() || ap.Port() != want.Port() {
			t.Fatalf("datagram from %v, sent from %v", ap, want)
		}
		next[pi]++
	}
	if _, err := peers[1].WriteTo([]byte("longer than four"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	short := make([]byte, 4)
	if n, _, err := b.ReadFrom(short); err != nil || string(short[:n]) != "long" {
		t.Fatalf("short read: %q, %v", short[:n], err)
	}

	done := make(chan error, 1)
	go func() {
		_, _, err := b.ReadFromAddrPort(buf)
		done <- err
	}()
	_ = b.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v, want net.ErrClosed", err)
	}
}

// TestWriterBatchSendsInOrder: a writer's batch sends by itself when full and the rest
// when flushed, in the order queued, each datagram whole; a flush of nothing sends
// nothing.
func TestWriterBatchSendsInOrder(t *testing.T) {
	recv := listenLoopback(t)
	send := listenLoopback(t)
	b, err := newWriterBatch(send)
	if err != nil {
		t.Fatal(err)
	}
	to := recv.LocalAddr().(*net.UDPAddr).AddrPort()
	const n = maxBatch + 8
	for i := range n {
		d := b.newDatagram()
		binary.BigEndian.PutUint32(d.buf[:], uint32(i))
		d.n, d.ap = 4+i, to
		if err := b.queueDatagram(d); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.sent.Load(); got != maxBatch {
		t.Fatalf("%d sent before the flush, want the full batch of %d", got, maxBatch)
	}
	b.flush()
	b.flush()
	if got := b.sent.Load(); got != n {
		t.Fatalf("%d sent after the flush, want %d", got, n)
	}
	for i, d := range readDatagrams(t, recv, send.LocalAddr(), n) {
		if len(d) != 4+i || binary.BigEndian.Uint32(d) != uint32(i) {
			t.Fatalf("datagram %d: %d bytes, number %d", i, len(d), binary.BigEndian.Uint32(d))
		}
	}
}
