package sfu

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"conclave/rawstream"
)

// ICE-TCP for the subscribe connections the server runs itself (ownsub.go): a client
// that cannot use UDP connects to the server's ICE-TCP port (RFC 6544, passive), and
// every datagram on the connection is framed by a two-byte length (RFC 4571). The
// engine accepts the connections itself and reads each one's first frame: a check for
// one of its lite agents (icelite.go) makes the connection a liteTCP, read by a
// goroutine of its own; anything else is handed to Pion's TCP mux (the publish
// connections), the first frame replayed in front of the rest.

const (
	// tcpCheckWait is how long a new connection may take to send its first frame
	// and, if that was for a lite agent, to pass a check (Pion's mux waits 30 s; a
	// browser checks at once). Without the second bound a connection whose checks
	// fail (a wrong password, an agent gone) would be held a minute a frame. It runs
	// on the engine's clock (tcpwait.go).
	tcpCheckWait = 10 * time.Second
	// tcpIdle closes a connection that sent nothing for that long: a peer's consent
	// checks come every few seconds.
	tcpIdle = time.Minute
	// tcpWriteWait bounds a write to a peer that does not read: a write blocks for
	// at most that long, and at least half of it (writeLocked).
	tcpWriteWait = 5 * time.Second
	// maxTCPFrame is the largest frame read; media stays below 1,200 bytes.
	maxTCPFrame = 1500
)

// liteTCP is one ICE-TCP connection of a lite agent's peer.
type liteTCP struct {
	conn net.Conn
	ap   netip.AddrPort
	wmu  sync.Mutex // one write at a time; guards pending
	// pending are the frames not written yet: those a writer queued (queueFrame) for
	// one write at the end of its pass, and a write's own. A write sends what a
	// writer queued first, so frames leave in the order they were given.
	pending []byte
	// writeBy is the write deadline last set on conn (guarded by wmu).
	writeBy time.Time
	// now is the wall clock the write deadline is set by; nil means time.Now
	// (tests set it: a deadline is on the kernel's clock, never a fake one).
	now    func() time.Time
	closed atomic.Bool
	lite   atomic.Pointer[iceLite] // the agent whose check last passed on it
}

// maxPendingTCP is the most a connection holds of frames a writer queued before it
// writes them: a dozen video packets, more than a frame of most streams.
const maxPendingTCP = 16 << 10

// write sends b as one frame, after the frames a writer queued.
func (c *liteTCP) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.appendLocked(b); err != nil {
		return err
	}
	return c.writeLocked()
}

// queueFrame holds b as a frame for the next write (flushFrames, or any write); what
// is held is written first if b would take it past maxPendingTCP. A subscriber's
// writer queues its packets so that one write (and one segment) carries what its
// pass wrote, where a write of each packet cost a system call and a TCP segment
// each.
func (c *liteTCP) queueFrame(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.pending) > 0 && len(c.pending)+2+len(b) > maxPendingTCP {
		if err := c.writeLocked(); err != nil {
			return err
		}
	}
	return c.appendLocked(b)
}

// flushFrames writes the frames a writer queued.
func (c *liteTCP) flushFrames() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.pending) == 0 {
		return nil
	}
	return c.writeLocked()
}

// appendLocked adds b to pending as a frame (RFC 4571: its length, then it).
func (c *liteTCP) appendLocked(b []byte) error {
	if len(b) > 0xffff {
		return errTooLarge
	}
	c.pending = binary.BigEndian.AppendUint16(c.pending, uint16(len(b)))
	c.pending = append(c.pending, b...)
	return nil
}

// writeLocked writes pending, which is empty after it whether or not the write
// succeeded (a write that failed part way left the stream's framing broken anyway).
func (c *liteTCP) writeLocked() error {
	c.armWriteLocked()
	_, err := c.conn.Write(c.pending)
	c.pending = c.pending[:0]
	return err
}

// armWriteLocked sets the write deadline tcpWriteWait ahead when less than half of
// it is left: setting it at every write cost a timer's update through the poller each
// time (about 2 % of the server at 1 → 50 over ICE-TCP), and a write is bounded all
// the same, by between half and all of tcpWriteWait.
func (c *liteTCP) armWriteLocked() {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	t := now()
	if c.writeBy.Sub(t) >= tcpWriteWait/2 {
		return
	}
	c.writeBy = t.Add(tcpWriteWait)
	_ = c.conn.SetWriteDeadline(c.writeBy)
}

func (c *liteTCP) close() {
	if !c.closed.Swap(true) {
		_ = c.conn.Close()
	}
}

// serve reads the connection's frames until it closes: checks to the lite agents,
// DTLS and SRTCP to the connection of the agent whose check passed on it. Until a
// check passes on it, the connection is read until its wait is up only.
func (c *liteTCP) serve(a *liteAgents, first []byte, wait *checkWait) {
	defer c.close()
	defer wait.end()
	buf := make([]byte, maxTCPFrame)
	answer := make([]byte, 0, 128) // a check's answer, written by this goroutine
	// Read ahead: a frame's length and its body, and the frames that came with it,
	// in one read.
	r := bufio.NewReaderSize(c.conn, 2*maxTCPFrame)
	frame := first
	for {
		switch {
		case isSTUN(frame):
			_, l, reply := a.takeOn(frame, litePath{ap: c.ap, tcp: c}, answer[:0])
			answer = reply
			if l == nil {
				break
			}
			// Written here, not under the agents' lock (takeOn): waiting on this
			// peer holds up only this connection's own reading.
			if err := c.write(reply); err != nil {
				a.refused.Add(1)
				break
			}
			a.answered.Add(1)
			if c.lite.Load() == nil {
				// The check was read before the time was up, and the agent has taken
				// the connection as its path (takeOn) and the peer its answer: it stays
				// even if the time ran out meanwhile, the idle deadline below replacing
				// the wait's past one (end returns once that is set).
				wait.end()
			}
			if c.lite.Swap(l) != l {
				l.addTCP(c)
			}
		case dtlsRecord(frame):
			if l := c.lite.Load(); l != nil && l.onDTLS != nil {
				l.onDTLS(frame)
			}
		case isRTCP(frame):
			if l := c.lite.Load(); l != nil && l.onRTCP != nil {
				l.onRTCP(frame)
			}
		}
		// Until a check passes, the wait sets the deadline when its time is up (the
		// frames read from the socket before then are served, as at a deadline of the
		// socket's own).
		if c.lite.Load() != nil {
			_ = c.conn.SetReadDeadline(time.Now().Add(tcpIdle))
		}
		n, err := readFrame(r, buf)
		if err != nil {
			return
		}
		frame = buf[:n]
	}
}

var errTCPFrame = errors.New("sfu: ICE-TCP frame too large")

// readFrame reads one RFC 4571 frame into buf, whose length is at least 2 (the
// frame's length is read into it first: a local would escape through io.ReadFull, an
// allocation a frame).
func readFrame(r io.Reader, buf []byte) (int, error) {
	if len(buf) < 2 {
		return 0, errTCPFrame
	}
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint16(buf))
	if n > len(buf) {
		return 0, errTCPFrame
	}
	return io.ReadFull(r, buf[:n])
}

// liteTCPRoute is a liteTCP as a route's connection (srtpOut writes RTP to it). The
// route does not own it: Close leaves it open.
type liteTCPRoute struct{ c *liteTCP }

func (r liteTCPRoute) WriteTo(b []byte, _ net.Addr) (int, error) {
	if err := r.c.write(b); err != nil {
		return 0, err
	}
	return len(b), nil
}
func (r liteTCPRoute) queueFrame(b []byte) error              { return r.c.queueFrame(b) }
func (r liteTCPRoute) flushFrames() error                     { return r.c.flushFrames() }
func (r liteTCPRoute) ReadFrom([]byte) (int, net.Addr, error) { return 0, nil, errors.ErrUnsupported }
func (r liteTCPRoute) Close() error                           { return nil }
func (r liteTCPRoute) LocalAddr() net.Addr                    { return r.c.conn.LocalAddr() }
func (r liteTCPRoute) SetDeadline(time.Time) error            { return nil }
func (r liteTCPRoute) SetReadDeadline(time.Time) error        { return nil }
func (r liteTCPRoute) SetWriteDeadline(time.Time) error       { return nil }

// tcpHandoff is the listener Pion's TCP mux accepts from: the connections whose first
// frame was not for a lite agent, with that frame put back.
type tcpHandoff struct {
	ln    net.Listener
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newTCPHandoff(ln net.Listener) *tcpHandoff {
	return &tcpHandoff{ln: ln, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (h *tcpHandoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

// Close closes the real listener too (Pion's mux closes what it accepts from).
func (h *tcpHandoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return h.ln.Close()
}

func (h *tcpHandoff) Addr() net.Addr { return h.ln.Addr() }

// give hands c to Pion's mux, or closes it once the mux is gone.
func (h *tcpHandoff) give(c net.Conn) {
	select {
	case h.conns <- c:
	case <-h.done:
		_ = c.Close()
	}
}

// acceptTCP accepts ICE-TCP connections until the listener closes; then the
// connections whose wait for a check runs are closed (checkWaits).
func (e *Engine) acceptTCP(ln net.Listener, h *tcpHandoff) {
	var waits checkWaits
	defer waits.closeAll()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			_ = h.Close()
			return
		}
		// Every frame of the connection is a read or a write: raw calls, which do not
		// wake the runtime's monitor thread (rawstream).
		c = rawstream.Wrap(c)
		wait := waits.start(c, e.after, e.tcpWait)
		go func() {
			if first, ok := e.firstFrame(c, wait); ok {
				e.sortTCP(c, first, h, wait)
			}
		}()
	}
}

// firstFrame reads c's first frame before its wait is up, or closes c.
func (e *Engine) firstFrame(c net.Conn, wait *checkWait) ([]byte, bool) {
	buf := make([]byte, maxTCPFrame)
	n, err := readFrame(c, buf)
	if err != nil {
		wait.end()
		_ = c.Close()
		return nil, false
	}
	return buf[:n], true
}

// sortTCP gives c, whose first frame was frame, to a lite agent (which it must pass a
// check of before its wait is up) or to Pion's mux.
func (e *Engine) sortTCP(c net.Conn, frame []byte, h *tcpHandoff, wait *checkWait) {
	ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	local, isCheck := checkUfrag(frame)
	if isCheck && e.lites.lookup(local) != nil {
		lc := &liteTCP{conn: c, ap: ap}
		lc.serve(&e.lites, frame, wait)
		return
	}
	if !isCheck || !e.pubUfrags.has(local) {
		// Neither a lite agent's nor a publish connection's: Pion's mux would keep it
		// for a ufrag nobody has (pubufrags.go).
		e.stats.tcpStrangers.Add(1)
		wait.end()
		_ = c.Close()
		return
	}
	// Pion's mux bounds the connection from here; a wait that ended in time set no
	// deadline.
	if !wait.end() {
		_ = c.Close()
		return
	}
	h.give(newPubTCPConn(c, ap, &e.pubTCP, frame))
}
