package turn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
)

// gatedConn records the writes made on it; each waits for the test to let it through
// (a socket whose peer is not reading yet), or fails with fail.
type gatedConn struct {
	net.Conn               // nil: only Write, SetWriteDeadline and Close are used
	entered  chan []byte   // a write has begun, with its bytes
	pass     chan struct{} // lets one write through
	wrote    chan struct{} // a write went through
	fail     error
	mu       sync.Mutex
	writes   [][]byte
	closed   bool
}

func newGatedConn() *gatedConn {
	return &gatedConn{entered: make(chan []byte, 16), pass: make(chan struct{}, 16), wrote: make(chan struct{}, 16)}
}

func (g *gatedConn) Write(b []byte) (int, error) {
	g.entered <- append([]byte(nil), b...)
	<-g.pass
	if g.fail != nil {
		return 0, g.fail
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writes = append(g.writes, append([]byte(nil), b...))
	g.wrote <- struct{}{}
	return len(b), nil
}

func (g *gatedConn) SetWriteDeadline(time.Time) error { return nil }

func (g *gatedConn) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	return nil
}

// TestQueuedConnWritesABurstAtOnce checks that what is written while the connection's
// writer is busy leaves in one write, in order.
func TestQueuedConnWritesABurstAtOnce(t *testing.T) {
	g := newGatedConn()
	q := newQueuedConn(g)
	mustWrite(t, q, []byte("first "))
	if got := <-g.entered; string(got) != "first " {
		t.Fatalf("first write %q", got)
	}
	for _, s := range []string{"a ", "burst ", "of three"} {
		mustWrite(t, q, []byte(s))
	}
	g.pass <- struct{}{}
	<-g.wrote
	if got := <-g.entered; string(got) != "a burst of three" {
		t.Fatalf("second write %q, want the three queued writes", got)
	}
	g.pass <- struct{}{}
	<-g.wrote
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.writes) != 2 || !g.closed {
		t.Fatalf("%d writes, closed %v; want 2 and closed", len(g.writes), g.closed)
	}
	if _, err := q.Write([]byte("late")); !errors.Is(err, errQueuedClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}

// TestQueuedConnBoundsItsQueue checks that a write waits while the queue holds
// maxQueued, so that a client that reads slowly holds no more than that.
func TestQueuedConnBoundsItsQueue(t *testing.T) {
	g := newGatedConn()
	q := newQueuedConn(g)
	part := func(c byte) []byte { return bytes.Repeat([]byte{c}, maxQueued/2-100) }
	mustWrite(t, q, part('1'))
	<-g.entered
	mustWrite(t, q, part('2'))
	mustWrite(t, q, part('3'))
	fourth := make(chan error, 1)
	go func() { _, err := q.Write(part('4')); fourth <- err }()
	g.pass <- struct{}{}
	if got := <-g.entered; !bytes.Equal(got, append(part('2'), part('3')...)) {
		t.Fatalf("second write %d bytes, want the second and third parts", len(got))
	}
	if err := <-fourth; err != nil {
		t.Fatal(err)
	}
	g.pass <- struct{}{}
	if got := <-g.entered; !bytes.Equal(got, part('4')) {
		t.Fatalf("third write %d bytes, want the fourth part", len(got))
	}
	g.pass <- struct{}{}
	_ = q.Close()
}

// TestQueuedConnBelowTLSNeverWaits: below TLS a write queues past maxQueued rather than
// wait (a TLS connection writes with its lock held, which a relay's direct write from
// the SFU's writer needs), and a queue past maxQueuedTLS fails the connection.
func TestQueuedConnBelowTLSNeverWaits(t *testing.T) {
	g := newGatedConn()
	q := newQueuedConn(g)
	q.belowTLS = true
	part := bytes.Repeat([]byte{'r'}, maxQueued/2-100)
	mustWrite(t, q, part)
	<-g.entered // the client does not read: the first write is stuck
	write := func() error {
		done := make(chan error, 1)
		go func() { _, err := q.Write(part); done <- err }()
		select {
		case err := <-done:
			return err
		case <-time.After(conntest.Wait):
			t.Fatal("a write below TLS waited for the client")
			return nil
		}
	}
	queued := 0
	for {
		err := write()
		if err != nil {
			if !errors.Is(err, errQueueOverflow) {
				t.Fatalf("write past the bound: %v", err)
			}
			break
		}
		queued += len(part)
	}
	if queued <= maxQueued || queued > maxQueuedTLS {
		t.Fatalf("%d bytes queued before the connection failed, want more than %d and at most %d", queued, maxQueued, maxQueuedTLS)
	}
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if !closed {
		t.Fatal("the connection is open after its queue passed the bound")
	}
	if _, err := q.Write([]byte("x")); !errors.Is(err, errQueueOverflow) {
		t.Fatalf("write after the failure: %v", err)
	}
	g.pass <- struct{}{}
}

// TestQueuedConnFailsAfterAFailedWrite checks that a failed write (a client that did
// not read within the deadline) closes the connection and fails every later write.
func TestQueuedConnFailsAfterAFailedWrite(t *testing.T) {
	g := newGatedConn()
	g.fail = errors.New("i/o timeout")
	q := newQueuedConn(g)
	mustWrite(t, q, []byte("lost"))
	<-g.entered
	g.pass <- struct{}{}
	for {
		// The failure is seen once the writer goroutine has noted it; until then
		// writes still queue.
		if _, err := q.Write([]byte("after")); err != nil {
			if err != g.fail {
				t.Fatalf("write after the failure: %v", err)
			}
			break
		}
		select {
		case <-g.entered:
			t.Fatal("wrote again after a failed write")
		default:
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		t.Fatal("the connection is still open after a failed write")
	}
}

func mustWrite(t *testing.T, q *queuedConn, b []byte) {
	t.Helper()
	if n, err := q.Write(b); err != nil || n != len(b) {
		t.Fatalf("write: %d, %v", n, err)
	}
}

// TestQueuedConnQueuesBesideAWriteAfterALargeOne checks that after a write larger than
// keepSpare (whose buffer is not kept) the next queue is not the buffer being written:
// what is queued while a write is under way leaves in the next write, and the one
// under way carries what it took.
func TestQueuedConnQueuesBesideAWriteAfterALargeOne(t *testing.T) {
	g := newGatedConn()
	q := newQueuedConn(g)
	mustWrite(t, q, []byte("a"))
	<-g.entered
	large := bytes.Repeat([]byte{'L'}, keepSpare+1000)
	mustWrite(t, q, large)
	g.pass <- struct{}{}
	<-g.wrote
	<-g.entered // the large write
	mustWrite(t, q, []byte("x"))
	g.pass <- struct{}{}
	<-g.wrote
	<-g.entered // "x", under way
	mustWrite(t, q, []byte("y"))
	g.pass <- struct{}{}
	<-g.wrote
	<-g.entered
	g.pass <- struct{}{}
	<-g.wrote
	_ = q.Close()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.writes) != 4 || string(g.writes[2]) != "x" || string(g.writes[3]) != "y" {
		t.Fatalf("the writes after the large one carried %q, want \"x\" then \"y\"", g.writes[2:])
	}
}

// TestQueuedConnKeepsBothBuffers checks that a connection's queue and spare are reused
// from write to write, also across a wake-up that finds the queue empty (what woke it
// was taken with an earlier write's): such a wake-up dropped a buffer, so that the
// next packets grew a new one.
func TestQueuedConnKeepsBothBuffers(t *testing.T) {
	q := newQueuedConn(newGatedConn())
	q.started = true // the test plays the writer goroutine's part
	payload := make([]byte, 1180)
	cycle := func() {
		q.appendChannelData(0x4000, payload)
		q.appendChannelData(0x4000, payload)
		q.mu.Lock()
		b := q.takeLocked()
		if q.takeLocked() != nil { // the wake-up that finds the queue empty
			t.Error("an empty queue was taken")
		}
		q.keepLocked(b)
		q.mu.Unlock()
		<-q.wake
	}
	cycle()
	cycle() // both buffers exist now
	if allocs := testing.AllocsPerRun(100, cycle); allocs != 0 {
		t.Fatalf("%v allocations a queued write, want 0", allocs)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if cap(q.queued) == 0 || cap(q.spare) == 0 {
		t.Fatalf("queue capacity %d, spare %d: a buffer was dropped", cap(q.queued), cap(q.spare))
	}
}

// TestQueuedConnDropsChannelDataWhenFull checks that a relay's direct write to a TCP
// client never waits: while the connection's writer is stuck (a client that does not
// read), messages queue up to maxQueued and the next ones are dropped; what was queued
// then leaves in order, each message framed and padded.
func TestQueuedConnDropsChannelDataWhenFull(t *testing.T) {
	g := newGatedConn()
	q := newQueuedConn(g)
	payload := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 1181) }
	if !q.appendChannelData(0x4000, payload(0)) {
		t.Fatal("first message refused")
	}
	<-g.entered // the writer is stuck in its first write
	queued := 1
	for i := 1; i < 100; i++ {
		if !q.appendChannelData(0x4000, payload(i)) {
			break
		}
		queued++
	}
	if queued == 100 || (queued-1)*channelDataSize(1181) > maxQueued {
		t.Fatalf("%d messages queued behind a stuck write, want at most %d bytes", queued-1, maxQueued)
	}
	g.pass <- struct{}{}
	<-g.wrote
	var stream []byte
	g.mu.Lock()
	stream = append(stream, g.writes[0]...)
	g.mu.Unlock()
	g.pass <- struct{}{}
	<-g.entered
	<-g.wrote
	g.mu.Lock()
	stream = append(stream, g.writes[1]...)
	g.mu.Unlock()
	for i := 0; i < queued; i++ {
		if len(stream) < 4 {
			t.Fatalf("message %d missing", i)
		}
		number, n := binary.BigEndian.Uint16(stream), int(binary.BigEndian.Uint16(stream[2:]))
		if number != 0x4000 || n != 1181 || !bytes.Equal(stream[4:4+n], payload(i)) {
			t.Fatalf("message %d: channel %#x, %d bytes", i, number, n)
		}
		stream = stream[channelDataSize(n):]
	}
	_ = q.Close()
}
