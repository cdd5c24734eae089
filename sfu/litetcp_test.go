package sfu

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/stun/v4"
)

// countingConn counts the writes made on a connection and the write deadlines set
// on it.
type countingConn struct {
	net.Conn
	writes    atomic.Int64
	deadlines atomic.Int64
	writeBy   atomic.Pointer[time.Time] // the last write deadline set
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.deadlines.Add(1)
	c.writeBy.Store(&t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// frameReader reads the RFC 4571 frames that arrive at the far end of a loopback TCP
// connection.
type frameReader struct {
	t    *testing.T
	conn net.Conn
}

// next is the next frame; only a lost frame meets the generous deadline.
func (r frameReader) next() []byte {
	r.t.Helper()
	buf := make([]byte, 0xffff)
	_ = r.conn.SetReadDeadline(time.Now().Add(conntest.Wait))
	n, err := readFrame(r.conn, buf)
	if err != nil {
		r.t.Fatal(err)
	}
	return buf[:n]
}

// tcpPair is a liteTCP on a loopback TCP connection, whose writes are counted, and
// the connection's far end.
func tcpPair(tb testing.TB) (*liteTCP, *countingConn, net.Conn) {
	tb.Helper()
	far, near := conntest.Pair(tb)
	cc := &countingConn{Conn: near}
	return &liteTCP{conn: cc, ap: near.RemoteAddr().(*net.TCPAddr).AddrPort()}, cc, far
}

// newTCPOut is an SRTP writer whose route is c, writing into a batch of its own.
func newTCPOut(tb testing.TB, c *liteTCP) (*srtpOut, *writerBatch) {
	tb.Helper()
	batch, err := newWriterBatch(listenLoopback(tb))
	if err != nil {
		tb.Skip("no batching socket here:", err)
	}
	keys := srtp.SessionKeys{LocalMasterKey: make([]byte, 16), LocalMasterSalt: make([]byte, 12)}
	var dst atomic.Pointer[route]
	dst.Store(&route{tcp: liteTCPRoute{c}, raddr: net.TCPAddrFromAddrPort(c.ap)})
	out, err := newSRTPOut(keys, srtp.ProtectionProfileAeadAes128Gcm, batch, &dst, nil, new(atomic.Uint64))
	if err != nil {
		tb.Fatal(err)
	}
	return out, batch
}

// TestICETCPWriterPassIsOneWrite: the packets a subscriber's writer writes in one pass
// over ICE-TCP go out in one write at its batch's flush, each a whole frame, in order;
// a write of the connection's own (SRTCP, DTLS, a check's answer) sends the queued
// frames before its own; frames beyond maxPendingTCP are written as the limit is
// reached, none lost or reordered.
func TestICETCPWriterPassIsOneWrite(t *testing.T) {
	c, cc, conn := tcpPair(t)
	far := frameReader{t, conn}
	out, batch := newTCPOut(t, c)
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 0x1234}
	payload := make([]byte, 1100)
	send := func(n int) {
		t.Helper()
		for range n {
			h.SequenceNumber++
			if _, _, err := out.write(batch, &h, payload, 0, twccStamp{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	expect := func(from uint16, n int) {
		t.Helper()
		for i := range n {
			f := far.next()
			var got rtp.Header
			if _, err := got.Unmarshal(f); err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			if want := from + uint16(i); got.SequenceNumber != want || len(f) != 12+len(payload)+16 {
				t.Fatalf("frame %d: sequence number %d, %d bytes; want %d, %d", i, got.SequenceNumber, len(f), want, 12+len(payload)+16)
			}
		}
	}

	send(4)
	if w := cc.writes.Load(); w != 0 {
		t.Fatalf("%d writes before the flush", w)
	}
	batch.flush()
	if w := cc.writes.Load(); w != 1 {
		t.Fatalf("a pass of four packets took %d writes, want 1", w)
	}
	expect(1, 4)

	send(2)
	own := []byte("the connection's own")
	if err := c.write(own); err != nil {
		t.Fatal(err)
	}
	if w := cc.writes.Load(); w != 2 {
		t.Fatalf("%d writes, want 2", w)
	}
	expect(5, 2)
	if f := far.next(); !bytes.Equal(f, own) {
		t.Fatalf("after the queued frames %q, want %q", f, own)
	}
	batch.flush() // nothing left: no write
	if w := cc.writes.Load(); w != 2 {
		t.Fatalf("an empty flush wrote: %d writes", w)
	}

	frame := 2 + 12 + len(payload) + 16
	perWrite := maxPendingTCP / frame
	send(3*perWrite + 1)
	batch.flush()
	if w := cc.writes.Load(); w != 2+4 {
		t.Fatalf("%d packets past the limit took %d writes, want 4", 3*perWrite+1, w-2)
	}
	expect(7, 3*perWrite+1)
}

// TestICETCPFrameTooLarge: a frame that its two-byte length cannot say is refused and
// changes nothing queued.
// TestICETCPWriteDeadlineIsRenewedAtHalf checks that a connection's write deadline is
// set tcpWriteWait ahead only when less than half of it is left, so that a write
// blocks on a peer that does not read for at least half of tcpWriteWait and at most
// all of it, without a deadline's update through the poller at every write.
func TestICETCPWriteDeadlineIsRenewedAtHalf(t *testing.T) {
	c, cc, far := tcpPair(t)
	// The deadlines it sets are the kernel's: an hour ahead of the wall clock, they
	// are in the future however slowly the test runs.
	clock := fakeclock.New(time.Now().Add(time.Hour))
	c.now = clock.Now
	r := frameReader{t, far}
	start := clock.Now()
	steps := []struct {
		advance time.Duration
		set     int64     // deadlines set so far
		writeBy time.Time // the deadline in force
	}{
		{0, 1, start.Add(tcpWriteWait)},
		{time.Second, 1, start.Add(tcpWriteWait)},
		{tcpWriteWait/2 - time.Second - time.Millisecond, 1, start.Add(tcpWriteWait)}, // just over half left
		{2 * time.Millisecond, 2, start.Add(tcpWriteWait / 2).Add(time.Millisecond + tcpWriteWait)},
		{time.Hour, 3, start.Add(time.Hour + tcpWriteWait/2 + time.Millisecond + tcpWriteWait)}, // long past
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if err := c.queueFrame([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if err := c.flushFrames(); err != nil {
			t.Fatal(err)
		}
		if got := r.next(); len(got) != 1 || got[0] != byte(i) {
			t.Fatalf("write %d: read back %v", i, got)
		}
		if got := cc.deadlines.Load(); got != s.set {
			t.Fatalf("write %d: %d write deadlines set, want %d", i, got, s.set)
		}
		if got := *cc.writeBy.Load(); !got.Equal(s.writeBy) {
			t.Fatalf("write %d: write deadline %v, want %v", i, got, s.writeBy)
		}
	}
	// A write of the connection's own (a check's answer) renews it by the same rule.
	if err := c.write([]byte{9}); err != nil {
		t.Fatal(err)
	}
	if r.next()[0] != 9 || cc.deadlines.Load() != 3 {
		t.Fatalf("a write of its own: %d deadlines set, want 3", cc.deadlines.Load())
	}
}

func TestICETCPFrameTooLarge(t *testing.T) {
	c, cc, conn := tcpPair(t)
	far := frameReader{t, conn}
	if err := c.queueFrame([]byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := c.queueFrame(make([]byte, 0x10000)); err != errTooLarge {
		t.Fatalf("queueFrame of 65,536 bytes: %v, want errTooLarge", err)
	}
	if err := c.write(make([]byte, 0x10000)); err != errTooLarge {
		t.Fatalf("write of 65,536 bytes: %v, want errTooLarge", err)
	}
	if err := c.flushFrames(); err != nil {
		t.Fatal(err)
	}
	if f := far.next(); string(f) != "first" || cc.writes.Load() != 1 {
		t.Fatalf("frame %q after %d writes", f, cc.writes.Load())
	}
}

// BenchmarkICETCPWrite is a subscriber on ICE-TCP written by its writer: a frame of
// four 1,100-byte packets of one stream, sealed and framed onto the connection, then
// the writer's batch flushed as at the end of its pass; the far end reads and drops
// it. ns/op is per packet.
func BenchmarkICETCPWrite(b *testing.B) {
	c, _, far := tcpPair(b)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, far)
	}()
	out, batch := newTCPOut(b, c)
	payload := make([]byte, 1100)
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 0x1234}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.SequenceNumber++
		h.Timestamp = uint32(i/4) * 3000
		if _, _, err := out.write(batch, &h, payload, 0, twccStamp{}); err != nil {
			b.Fatal(err)
		}
		if i%4 == 3 {
			batch.flush()
		}
	}
	batch.flush()
	_ = c.conn.Close()
	<-done
}

// TestReadFrameDoesNotAllocate: reading a frame allocates nothing (its length was read
// into a local that escaped: an allocation a frame, on every ICE-TCP connection).
func TestReadFrameDoesNotAllocate(t *testing.T) {
	in := bytes.Repeat([]byte{0, 3, 'a', 'b', 'c'}, 200)
	r := bytes.NewReader(in)
	buf := make([]byte, maxTCPFrame)
	allocs := testing.AllocsPerRun(100, func() {
		if n, err := readFrame(r, buf); err != nil || string(buf[:n]) != "abc" {
			t.Fatalf("frame %q, %v", buf[:n], err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations a frame", allocs)
	}
	if _, err := readFrame(bytes.NewReader([]byte{0, 0}), buf[:1]); err != errTCPFrame {
		t.Fatalf("a buffer too short for the length: %v", err)
	}
}

// afterReal is Config.AfterFunc's default, time.AfterFunc.
func afterReal(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// TestStuckICETCPPeerLeavesTheMediaReaderAlone: a check that comes over an ICE-TCP
// connection whose peer does not read (media filled the socket) must not hold up the
// media socket's reader, which answers the checks of every other participant under
// the same lock and reads every publisher's media. The connection's write deadline
// is an hour away here, so the answer's write is stuck for the whole test.
func TestStuckICETCPPeerLeavesTheMediaReaderAlone(t *testing.T) {
	r := newLiteRig(t)
	c, cc, far := tcpPair(t)
	_ = far.(*net.TCPConn).SetReadBuffer(4096) // the peer never reads
	raw := cc.Conn.(*net.TCPConn)
	_ = raw.SetWriteBuffer(4096)
	media := make([]byte, 16<<10)
	for { // fill the socket: a write waits only when nothing more fits
		_ = raw.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := raw.Write(media); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal(err)
			}
			break
		}
	}
	c.now = func() time.Time { return time.Now().Add(time.Hour) }
	check := check{username: r.lite.ufrag + ":peer", pwd: r.lite.pwd}
	nominate := check
	nominate.nominate = true
	go c.serve(r.agents, nominate.bytes(t), new(checkWaits).start(c.conn, afterReal, time.Hour))
	select { // the TCP check passed; its answer is due on the stuck connection
	case ap := <-r.picked:
		if ap != c.ap {
			t.Fatalf("picked %v, want the TCP peer %v", ap, c.ap)
		}
	case <-time.After(conntest.Wait):
		t.Fatal("the check over TCP was not taken")
	}

	u, err := net.DialUDP("udp4", nil, r.conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Write(check.bytes(t)); err != nil {
		t.Fatal(err)
	}
	_ = u.SetReadDeadline(time.Now().Add(conntest.Wait))
	buf := make([]byte, 1500)
	n, err := u.Read(buf)
	if err != nil {
		t.Fatalf("a check over UDP was not answered while an ICE-TCP peer was stuck: %v", err)
	}
	var m stun.Message
	m.Raw = buf[:n]
	if err := m.Decode(); err != nil || m.Type != stun.BindingSuccess {
		t.Fatalf("answer %v, %v; want a binding success", m.Type, err)
	}
}
