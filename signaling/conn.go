package signaling

import (
	"io"
	"time"

	"github.com/gorilla/websocket"

	"conclave/secret"
)

// A session's connection upkeep: the read and write pumps, the watchdog that pings and
// enforces the join, pong and message timeouts on the server's Clock, and the close path.
//
// Closing never waits in the caller: abort may be called under a meeting's lock (a full
// queue is found while a message is fanned out), so it only marks the session closing
// and leaves the close frame, which can wait for a peer that does not read, to a
// goroutine of its own.

// lingerWait is how long the closer waits for the peer to answer the close frame, so
// that unread data does not make the kernel reset the connection before the peer reads
// our frame. Real time: nothing is judged by it.
const lingerWait = 2 * time.Second

// abort ends the session: it marks it closing at once and closes the connection in the
// background, with a close frame when code is not 0. Safe from any goroutine and under
// any lock; idempotent.
func (s *Session) abort(code int, text string) {
	s.closeOnce.Do(func() {
		close(s.closing)
		go s.closeConn(code, text)
	})
}

// closeConn writes the close frame once no data frame is being written (a write blocked
// on a full TCP window ends when the peer reads or at the write timeout), gives the peer a moment
// to answer, and closes the connection.
func (s *Session) closeConn(code int, text string) {
	defer close(s.closed)
	if code != 0 {
		s.wmu.Lock()
		err := s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(s.srv.writeWait))
		s.wmu.Unlock()
		if err == nil {
			linger := time.NewTimer(lingerWait)
			select {
			case <-s.readDone:
			case <-linger.C:
			}
			linger.Stop()
		}
	}
	_ = s.conn.Close()
}

// heard records that the peer is alive (a pong or a complete message).
func (s *Session) heard() {
	s.heardNow.Store(true)
}

// readPump reads the member's messages and hands them to the owner goroutine, until the
// connection fails or the session closes. Its frame is kept small (readMessage).
func (s *Session) readPump(in chan<- inbound) {
	s.conn.SetPongHandler(func(string) error {
		s.heard()
		return nil
	})
	for {
		s.conn.SetReadLimit(s.readLimit.Load())
		typ, r, err := s.conn.NextReader()
		if err != nil || !s.readMessage(in, typ, r) {
			return
		}
	}
}

// readMessage reads the rest of a message whose first frame is in and hands it to the
// owner; false means stop reading. It is a function of its own, never inlined, so that
// readPump's frame stays small: between messages the pump waits inside gorilla and the
// poller, and with all of this in readPump's frame (and its two defers) the stack in
// use there was just above a quarter of 8 KB, so the collector never halved a reader's
// stack that had grown to 8 KB. This way a member's reader holds 4 KB of stack for the
// meeting instead of 8 (TestReaderStackIsHalved).
//
//go:noinline
func (s *Session) readMessage(in chan<- inbound, typ int, r io.Reader) bool {
	// The first frame is in: the whole message must follow within messageTimeout,
	// whatever pings and pongs come in between.
	stop := s.srv.clock.AfterFunc(messageTimeout, func() { s.abort(CloseTimeout, "message timeout") })
	data, err := io.ReadAll(r)
	stop()
	if err != nil {
		return false
	}
	s.heard()
	select {
	case in <- inbound{data: data, binary: typ == websocket.BinaryMessage}:
		return true
	case <-s.closing:
		return false
	}
}

// ping sends a ping unless the session is closing; false means stop writing.
func (s *Session) ping() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.isClosing() {
		return false
	}
	return s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.srv.writeWait)) == nil
}

// writeQueued sends m and, in the same write (heldConn), the messages queued behind it
// when it was taken, up to maxHeldBytes. A close message among them ends the batch and
// is returned, for the pump to close with once what came before it is written; ok
// false means stop writing.
func (s *Session) writeQueued(m *outMsg) (closeMsg *outMsg, ok bool) {
	if m.closeCode != 0 {
		return m, true
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.isClosing() {
		return nil, false
	}
	deadline := time.Now().Add(s.srv.writeWait)
	_ = s.conn.SetWriteDeadline(deadline)
	behind := s.queue.len() // the pump is the queue's only reader: these are there
	if behind == 0 || s.held == nil {
		return nil, s.conn.WriteMessage(websocket.TextMessage, m.data) == nil
	}
	s.held.holdWrites()
	ok = s.conn.WriteMessage(websocket.TextMessage, m.data) == nil
	for ; ok && behind > 0 && s.held.held() < maxHeldBytes; behind-- {
		next := s.queue.pop()
		if next.closeCode != 0 {
			closeMsg = next
			break
		}
		ok = s.conn.WriteMessage(websocket.TextMessage, next.data) == nil
	}
	if err := s.held.release(deadline); err != nil {
		ok = false
	}
	return closeMsg, ok
}

func (s *Session) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// startWatchdog arms the join timeout and the ping timer on the server's clock.
func (s *Session) startWatchdog() {
	s.heard()
	s.arm(&s.joinStop, s.srv.joinTimeout, s.joinTick)
	s.arm(&s.pingStop, pingInterval, s.pingTick)
}

// joinTick closes a connection that has not knocked by the join timeout, unless its
// join is being checked right now (a password hash may queue): it looks again later.
func (s *Session) joinTick() {
	switch {
	case s.knocked.Load():
	case s.joining.Load():
		s.arm(&s.joinStop, s.srv.joinTimeout, s.joinTick)
	default:
		s.abort(CloseTimeout, "join timeout")
	}
}

// pingTick closes a peer not heard from in the last silentPings intervals between its
// ticks, and otherwise pings it. The silence is counted in ticks, not measured between
// readings of the clock: the ticks are timers, which run on the monotonic clock, while
// a reading kept as a number (it was UnixNano) is the wall clock's. A step of the wall
// clock (NTP setting a drifted clock, a virtual machine resumed) then made the silence
// as long as the step: forward by 45 s or more, the next tick closed every connection
// of the server as silent ("no pong"), each a page that had to resume; backward, a
// peer gone silent was kept, its knock and its place in the meeting with it, until the
// clock had made up the step. A tick that runs late finds a peer heard meanwhile heard.
func (s *Session) pingTick() {
	if s.heardNow.Swap(false) {
		s.silent.Store(0)
	} else if s.silent.Add(1) >= silentPings {
		s.abort(CloseTimeout, "no pong")
		return
	}
	s.pingDue.Store(true)
	s.kickWriter()
	s.arm(&s.pingStop, pingInterval, s.pingTick)
}

// arm schedules f unless the session is closing, keeping its stop function in slot.
func (s *Session) arm(slot *func() bool, d time.Duration, f func()) {
	s.timerMu.Lock()
	defer s.timerMu.Unlock()
	select {
	case <-s.closing:
		return
	default:
	}
	*slot = s.srv.clock.AfterFunc(d, f)
}

// stopWatchdog cancels the pending timers (the session is closing, so none is re-armed).
func (s *Session) stopWatchdog() {
	s.timerMu.Lock()
	defer s.timerMu.Unlock()
	for _, stop := range []func() bool{s.joinStop, s.pingStop} {
		if stop != nil {
			stop()
		}
	}
}

// addrGroup is the unit of the per-address caps, the same as password throttling's:
// an IPv4 address, or the /64 of an IPv6 address (one customer's network).
func addrGroup(addr string) string { return secret.AddrGroup(addr) }
