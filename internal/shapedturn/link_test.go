package shapedturn

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"conclave/internal/fakeclock"
)

// chanConn is a relay socket fed by the test: every value sent on in is one datagram.
type chanConn struct {
	net.PacketConn
	in     chan []byte
	closed chan struct{}
	once   sync.Once
}

func newChanConn() *chanConn {
	return &chanConn{in: make(chan []byte, 64), closed: make(chan struct{})}
}

var peerAddr = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}

func (c *chanConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case p := <-c.in:
		return copy(b, p), peerAddr, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *chanConn) Close() error { c.once.Do(func() { close(c.closed) }); return nil }

// slow is 8000 bit/s = 1000 bytes a second, so one 1000-byte packet a second.
var slow = Shape{Rate: 8000, Burst: 2000, QueueBytes: 3000}

func waitCounts(t *testing.T, c *shapedConn, what string, ok func(Counts) bool) Counts {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := c.stats()
		if ok(n) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: counts %+v", what, n)
		}
		time.Sleep(time.Millisecond)
	}
}

type readResult struct {
	n   int
	err error
}

func readAsync(c *shapedConn) chan readResult {
	out := make(chan readResult, 1)
	go func() {
		b := make([]byte, maxPacket)
		n, _, err := c.ReadFrom(b)
		out <- readResult{n, err}
	}()
	return out
}

func receive(t *testing.T, r chan readResult, what string) readResult {
	t.Helper()
	select {
	case got := <-r:
		return got
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no packet", what)
		return readResult{}
	}
}

func notYet(t *testing.T, r chan readResult, what string) {
	t.Helper()
	select {
	case got := <-r:
		t.Fatalf("%s: got %+v before its tokens", what, got)
	default:
	}
}

// TestBucketAndDropTail: the bucket lets Burst bytes out at once and then Rate; a
// packet that finds the queue full of bytes still waiting is dropped on arrival; idle
// time fills the bucket only up to Burst. All on the injected clock.
func TestBucketAndDropTail(t *testing.T) {
	clock := fakeclock.New(time.Unix(1000, 0))
	inner := newChanConn()
	c := newShapedConn(inner, slow, clock)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// releasedAfter: the next read gets a packet of size once the clock has moved by
	// d, not a millisecond earlier (the clock moves once the read armed its timer).
	releasedAfter := func(d time.Duration, size int, what string) {
		t.Helper()
		r := readAsync(c)
		if err := clock.WaitForTimers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clock.Advance(d - time.Millisecond)
		notYet(t, r, what)
		clock.Advance(time.Millisecond)
		if got := receive(t, r, what); got.n != size || got.err != nil {
			t.Fatalf("%s: %+v, want %d bytes", what, got, size)
		}
	}

	// Ten packets of 1000 bytes at once: two leave now (the burst), three wait (due in
	// 1, 2 and 3 s: 3000 bytes, the queue), five are dropped.
	for range 10 {
		inner.in <- make([]byte, 1000)
	}
	n := waitCounts(t, c, "ten packets in", func(n Counts) bool { return n.DroppedPackets+int64(n.QueuedBytes/1000) == 10 })
	if n.DroppedPackets != 5 || n.DroppedBytes != 5000 || n.QueuedBytes != 5000 {
		t.Fatalf("counts %+v, want 5 dropped and 5000 bytes not yet read", n)
	}
	for i := range 2 {
		if got := receive(t, readAsync(c), "burst"); got.n != 1000 || got.err != nil {
			t.Fatalf("burst packet %d: %+v", i, got)
		}
	}
	releasedAfter(time.Second, 1000, "the third, a second after the burst")
	clock.Advance(2 * time.Second)
	for i := range 2 {
		if got := receive(t, readAsync(c), "the rest of the queue"); got.n != 1000 {
			t.Fatalf("queued packet %d: %+v", i, got)
		}
	}

	// A minute idle fills the bucket to 2000 bytes, no more. Four packets of 1500
	// bytes: the first leaves now (500 left), the second a second later, the third
	// 1.5 s after that; the fourth finds 3000 bytes waiting and is dropped.
	clock.Advance(time.Minute)
	for range 4 {
		inner.in <- make([]byte, 1500)
	}
	n = waitCounts(t, c, "four more in", func(n Counts) bool { return n.DroppedPackets == 6 && n.QueuedBytes == 4500 })
	if n.PassedPackets != 5 || n.PassedBytes != 5000 {
		t.Fatalf("counts %+v", n)
	}
	if got := receive(t, readAsync(c), "after a minute"); got.n != 1500 {
		t.Fatalf("%+v", got)
	}
	releasedAfter(time.Second, 1500, "the second of 1500 bytes")
	releasedAfter(1500*time.Millisecond, 1500, "the third of 1500 bytes")

	// Close ends a waiting read at once.
	waiting := readAsync(c)
	_ = c.Close()
	if got := receive(t, waiting, "close"); got.err == nil {
		t.Fatalf("read after close: %+v", got)
	}
}

func TestShapeValidate(t *testing.T) {
	for _, s := range []Shape{{}, {Rate: 300_000, Burst: 1000, QueueBytes: 6000}, {Rate: 300_000, Burst: 4000}} {
		if s.Validate() == nil {
			t.Errorf("%+v: want an error", s)
		}
	}
	if err := (Shape{Rate: 300_000, Burst: 4000, QueueBytes: 6000}).Validate(); err != nil {
		t.Error(err)
	}
}
