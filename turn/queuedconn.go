package turn

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"runtime"
	"sync"
	"time"

	"conclave/rawstream"
)

// A client's TCP or TLS connection carries every packet relayed to it as its own write
// from pion/turn (a ChannelData message, or a TLS record of one): a system call and a
// TCP segment a packet, the largest cost of a relayed subscriber (bench/README.md,
// "TURN"). queuedConn makes such writes queue and return; a goroutine of the
// connection's own writes what is queued, so that a burst (a video frame's packets,
// which the relay reads one after another) leaves in one write.

const (
	// maxQueued is the most a connection queues: a writer waits for the queue to be
	// written beyond it, as it waited for the socket before. A dozen video packets, a
	// frame of most streams; a client that reads slowly makes the queue reach it, and
	// it is what each such client's connection holds (twice: the queue and the buffer
	// being written).
	maxQueued = 16 << 10
	// queuedWriteWait bounds a write to a client that does not read (to between half
	// of it and all of it); the connection is closed then, and its allocation ends.
	queuedWriteWait = 5 * time.Second
	// maxQueuedTLS bounds the queue below a TLS connection, whose writes do not wait
	// (Write).
	maxQueuedTLS = 2 * maxQueued
)

var (
	// errQueuedClosed answers a write to a queuedConn after Close.
	errQueuedClosed = errors.New("turn: connection closed")
	// errQueueOverflow fails a connection below TLS whose queue passed maxQueuedTLS.
	errQueueOverflow = errors.New("turn: client does not read its connection")
)

// queuedListener wraps the connections it accepts in queuedConns and registers them
// (streams: each is closed unless it holds an allocation); overTLS says TLS runs above
// it. With uplink, pion/turn reads a TCP connection through its streamUplink.
type queuedListener struct {
	net.Listener
	streams *streams
	overTLS bool
	uplink  bool
}

func (l queuedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	q := newQueuedConn(rawstream.Wrap(c))
	q.belowTLS = l.overTLS
	st := l.streams.accepted(q, l.overTLS)
	if l.uplink && !l.overTLS && st != nil {
		return &streamUplink{Conn: q, st: st}, nil
	}
	return q, nil
}

// tlsListener closes the TLS connections whose handshake fails, and registers the
// ones it accepts above their queuedConns (streams).
//
// pion/turn runs the handshake of each connection it accepts and, when it fails, leaves
// the connection open without reading it: a client that sends a broken ClientHello and
// goes held a connection, and its place under the listeners' bounds, until the server
// stopped; a few hundred such (400 from one address) shut TURN over TCP and TLS for
// everybody. The handshake is also run here, alongside (the connection serialises the
// two, and both see its outcome), and a connection whose handshake fails is closed.
// With uplink, pion/turn reads the connection through its streamUplink and so runs no
// handshake of its own (it looks for one only on a *tls.Conn): the one here, bounded,
// and the one the first read starts, which this one's failure ends.
type tlsListener struct {
	net.Listener
	streams *streams
	uplink  bool
}

// tlsHandshakeWait bounds a handshake, as pion/turn's own does. It runs on the clock of
// the streams' waits (Config.AfterFunc), as allocWait does, and is armed before Accept
// returns: the handshake's context is cancelled when it ends.
const tlsHandshakeWait = 10 * time.Second

func (l tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	t, ok := c.(*tls.Conn)
	if !ok {
		return c, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop := l.streams.afterFunc(tlsHandshakeWait, cancel)
	go func() {
		defer cancel()
		defer stop()
		if t.HandshakeContext(ctx) != nil {
			_ = t.Close()
		}
	}()
	if st := l.streams.acceptedTLS(t); l.uplink && st != nil {
		return &streamUplink{Conn: t, st: st}, nil
	}
	return c, nil
}

// queuedConn is a connection whose writes are queued and written by its writer
// goroutine (started at the first write), in order. A write's error is reported by a
// later one: after the first failed write the connection is closed and every write
// fails.
type queuedConn struct {
	net.Conn
	mu      sync.Mutex
	space   sync.Cond // signalled when the queue was taken or the connection failed
	queued  []byte    // what the writer goroutine writes next
	spare   []byte    // the buffer written last, reused for the next queue
	started bool      // the writer goroutine runs
	err     error     // the first failure (errQueuedClosed after Close)
	wake    chan struct{}
	writeBy time.Time // the write deadline set last (the writer goroutine's own)
	closed  []func()  // called at Close (onClose)
	// belowTLS: a TLS connection writes here, and its writes never wait (Write).
	belowTLS bool
}

func newQueuedConn(c net.Conn) *queuedConn {
	q := &queuedConn{Conn: c, wake: make(chan struct{}, 1)}
	q.space.L = &q.mu
	return q
}

// Write queues b and returns, or waits while the queue holds maxQueued.
//
// Below TLS it never waits. A TLS connection writes a record here with its write lock
// held, and a relay's direct write to the client (tlsClient) needs that lock: a record
// of pion/turn's waiting here for a client that reads slowly would make the SFU's
// writer, and every subscriber it serves, wait with it. The direct writes keep the
// queue within maxQueued themselves (they are dropped beyond it), so what goes past it
// is pion/turn's answers and a record or two of writers that raced; a queue past
// maxQueuedTLS is a client that does not read, and the connection fails.
func (q *queuedConn) Write(b []byte) (int, error) {
	q.mu.Lock()
	for !q.belowTLS && q.err == nil && len(q.queued) > 0 && len(q.queued)+len(b) > maxQueued {
		q.space.Wait()
	}
	if q.belowTLS && q.err == nil && len(q.queued)+len(b) > maxQueuedTLS {
		q.err = errQueueOverflow
		q.space.Broadcast()
		q.mu.Unlock()
		_ = q.Conn.Close()
		return 0, errQueueOverflow
	}
	if q.err != nil {
		err := q.err
		q.mu.Unlock()
		return 0, err
	}
	q.queued = append(q.queued, b...)
	q.startLocked()
	q.mu.Unlock()
	q.wakeWriter()
	return len(b), nil
}

// appendChannelData queues a ChannelData message of channel number carrying b (a
// relay's direct write, directwrite.go), framed in place. It never waits: with the
// queue full it drops the message, as a full socket buffer drops a datagram, and
// reports false.
func (q *queuedConn) appendChannelData(number uint16, b []byte) bool {
	q.mu.Lock()
	if !q.admitLocked(channelDataSize(len(b))) {
		q.mu.Unlock()
		return false
	}
	q.queued = appendChannelData(q.queued, number, b)
	q.startLocked()
	q.mu.Unlock()
	q.wakeWriter()
	return true
}

// append queues msg as appendChannelData queues its message.
func (q *queuedConn) append(msg []byte) bool {
	q.mu.Lock()
	if !q.admitLocked(len(msg)) {
		q.mu.Unlock()
		return false
	}
	q.queued = append(q.queued, msg...)
	q.startLocked()
	q.mu.Unlock()
	q.wakeWriter()
	return true
}

// admitLocked reports whether n more bytes can be queued without waiting.
func (q *queuedConn) admitLocked(n int) bool {
	return q.err == nil && (len(q.queued) == 0 || len(q.queued)+n <= maxQueued)
}

// hasRoom reports whether n more bytes would be queued without waiting now (a TLS
// connection's direct route asks before it encrypts: a record cannot be dropped once
// sealed).
func (q *queuedConn) hasRoom(n int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.admitLocked(n)
}

// onClose has f called once when the connection is closed (at once if it is).
func (q *queuedConn) onClose(f func()) {
	q.mu.Lock()
	if q.err != errQueuedClosed {
		q.closed = append(q.closed, f)
		f = nil
	}
	q.mu.Unlock()
	if f != nil {
		f()
	}
}

func (q *queuedConn) startLocked() {
	if !q.started {
		q.started = true
		go q.writeQueued()
	}
}

func (q *queuedConn) wakeWriter() {
	select {
	case q.wake <- struct{}{}:
	default: // already woken: it takes this with the rest
	}
}

// writeQueued writes the queue whenever a write wakes it, until the connection fails
// or closes.
func (q *queuedConn) writeQueued() {
	for range q.wake {
		// One yield first: the writers that are runnable now (the relay's readers a
		// burst woke) queue theirs, which then leaves in the same write.
		runtime.Gosched()
		q.mu.Lock()
		if q.err != nil {
			q.mu.Unlock()
			return
		}
		b := q.takeLocked()
		q.mu.Unlock()
		if len(b) == 0 {
			continue
		}
		// The deadline is renewed when less than half of it is left, not at every
		// write (an update of the poller's timer each time).
		if now := time.Now(); q.writeBy.Sub(now) < queuedWriteWait/2 {
			q.writeBy = now.Add(queuedWriteWait)
			_ = q.Conn.SetWriteDeadline(q.writeBy)
		}
		_, err := q.Conn.Write(b)
		if err != nil {
			// Closed first: a writer that sees the failure finds it closed.
			_ = q.Conn.Close()
		}
		q.mu.Lock()
		q.keepLocked(b)
		if err != nil && q.err == nil {
			q.err = err
			q.space.Broadcast()
		}
		failed := q.err != nil
		q.mu.Unlock()
		if failed {
			return
		}
	}
}

// takeLocked takes the queue to be written, nil when it is empty. The spare becomes
// the queue and is no longer the spare until keepLocked gives the taken one back.
//
// An empty queue is left as it is: a wake-up can find what woke it written already
// (taken with an earlier write's), and taking that queue dropped one of the two
// buffers, so that the next packets grew a new one (a few KB a connection, several
// times a second; with pion/turn's reader's garbage, the collector's work was a tenth
// of an all-relayed meeting over TCP).
func (q *queuedConn) takeLocked() []byte {
	if len(q.queued) == 0 {
		return nil
	}
	b := q.queued
	q.queued, q.spare = q.spare[:0], nil
	q.space.Broadcast()
	return b
}

// keepSpare is the largest buffer kept for the next queue: a queue that ended near
// maxQueued may have grown past it by a quarter (append's growth, rounded up to a size
// class). A larger one (a single write beyond maxQueued) is left to the collector.
const keepSpare = maxQueued + maxQueued/2

// keepLocked keeps b, written, as the spare for the next queue.
func (q *queuedConn) keepLocked(b []byte) {
	if cap(b) <= keepSpare {
		q.spare = b[:0]
	}
}

// Close closes the connection; what is still queued is not written (the relay's
// packets to a client that is gone).
func (q *queuedConn) Close() error {
	q.mu.Lock()
	if q.err == nil {
		q.err = errQueuedClosed
	}
	q.space.Broadcast()
	closed := q.closed
	q.closed = nil
	q.mu.Unlock()
	for _, f := range closed {
		f()
	}
	select {
	case q.wake <- struct{}{}: // the writer goroutine, if any, sees err and returns
	default:
	}
	return q.Conn.Close()
}
