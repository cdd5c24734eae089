package signaling

import "sync"

// A session's write pump runs only while there is something to write: a message
// queued or a ping due starts it (kickWriter), and it ends once both are done. A
// member who is told nothing (most of a webinar's audience, most of the time) has no
// goroutine waiting to write: a waiting pump kept its stack and descriptor, about 2 KB
// a member (bench/README.md, "Own SRTCP, write pumps on demand, the collector's
// target").
// At most one pump runs at a time, so messages go out in order.

// writerState says whether a pump runs; guarded by its own lock, held only to decide
// (never across a write).
type writerState struct {
	mu      sync.Mutex
	enabled bool // serve started writing (the queue tests start it themselves)
	running bool
	stopped bool           // serve has ended: no pump starts again
	pumps   sync.WaitGroup // the pump running, for serve to wait for
}

// startWriter lets pumps start, and starts one for anything queued already.
func (s *Session) startWriter() {
	s.writer.mu.Lock()
	s.writer.enabled = true
	s.writer.mu.Unlock()
	s.kickWriter()
}

// stopWriter keeps pumps from starting and waits for the one running, if any.
func (s *Session) stopWriter() {
	s.writer.mu.Lock()
	s.writer.stopped = true
	s.writer.mu.Unlock()
	s.writer.pumps.Wait()
}

// kickWriter starts a pump unless one runs. Safe from any goroutine and under any lock:
// it never waits for a write.
func (s *Session) kickWriter() {
	w := &s.writer
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.enabled || w.running || w.stopped {
		return
	}
	w.running = true
	w.pumps.Add(1)
	go s.writePump()
}

// writePump writes the pings due and the queued messages until there are none; a
// message and those queued behind it go out in one write (writeQueued).
func (s *Session) writePump() {
	defer s.writer.pumps.Done()
	for !s.isClosing() {
		if s.pingDue.Swap(false) {
			if !s.ping() {
				s.abort(0, "")
				return
			}
			continue
		}
		m := s.queue.pop()
		if m == nil {
			if s.idle() {
				return
			}
			continue
		}
		closeMsg, ok := s.writeQueued(m)
		if !ok {
			s.abort(0, "")
			return
		}
		if closeMsg != nil {
			s.abort(closeMsg.closeCode, closeMsg.closeText) // after everything queued before it
			return
		}
	}
	// Closing: running stays set, so no pump starts for a connection that is going.
}

// idle ends the pump if nothing was queued or asked for since it looked: what comes
// after this kicks a new one, since kickWriter waits for the lock held here.
func (s *Session) idle() bool {
	s.writer.mu.Lock()
	defer s.writer.mu.Unlock()
	if s.queue.len() > 0 || s.pingDue.Load() {
		return false
	}
	s.writer.running = false
	return true
}
