package sfu

import (
	"net"
	"sync"
	"time"
)

// checkWait is a new ICE-TCP connection's time to pass a check (Engine.tcpWait), on
// the engine's clock (Config.AfterFunc) as the engine's other timers are, not on the
// socket's: a socket's deadline runs on the kernel's clock, which no test can hold
// still, so a test of a connection closed when its time is up could not also hold a
// connection that passed, on a machine too loaded to read that one's check in time.
// When the time is up, the wait sets the connection's read deadline in the past, and
// its reader (firstFrame, liteTCP.serve) closes it as it did at a deadline of its own.
type checkWait struct {
	mu    sync.Mutex
	conn  net.Conn
	state checkWaitState
	stop  func() bool // stops the timer (Config.AfterFunc's)
	// deadlineSet is closed once expire has set the deadline in the past: end waits
	// for it, so that a deadline its caller sets afterwards is not undone.
	deadlineSet chan struct{}
	waits       *checkWaits // holds it until it ends
}

type checkWaitState uint8

const (
	checkWaiting checkWaitState = iota
	checkEnded                  // ended in time: the connection stays
	checkTimeUp                 // the time was up first: the reader is woken, its deadline past
)

// longAgo is a read deadline that has passed.
var longAgo = time.Unix(1, 0)

// arm starts w's timer: d, timed by after.
func (w *checkWait) arm(after func(time.Duration, func()) func() bool, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Under the lock, so that end finds stop set; expire, which takes the lock, runs
	// on a goroutine of its own.
	w.stop = after(d, w.expire)
}

// expire ends the wait unless it ended in time: the connection's reader is woken by a
// read deadline in the past and closes it, unless a check it read before passes.
func (w *checkWait) expire() {
	w.mu.Lock()
	up := w.state == checkWaiting
	if up {
		w.state = checkTimeUp
	}
	w.mu.Unlock()
	if up {
		// After the lock; end waits for it.
		_ = w.conn.SetReadDeadline(longAgo)
		close(w.deadlineSet)
	}
}

// end ends the wait (a check passed, the connection was handed on or is closing) and
// reports whether it ended in time. False means the time was up first: the read
// deadline is past by the time end returns, and stays so unless the caller sets
// another (a check read in time passed as the time ran out: liteTCP.serve).
func (w *checkWait) end() bool {
	w.mu.Lock()
	if w.state == checkWaiting {
		w.state = checkEnded
		w.stop()
	}
	inTime := w.state == checkEnded
	w.mu.Unlock()
	w.waits.remove(w)
	if !inTime {
		<-w.deadlineSet // expire sets it right after its lock
	}
	return inTime
}

// checkWaits are the waits of an ICE-TCP port's connections that run: the connections
// whose first frame has not come, and a lite agent's that passed no check yet. Once
// the port closes, acceptTCP closes them (closeAll); the others are closed with their
// agent (liteAgents.closeAll) or by Pion's mux. Their time is on the engine's clock,
// which nothing may move after the engine's Close (a test's fake clock), and their
// readers would be left until their peers went.
type checkWaits struct {
	mu sync.Mutex
	m  map[*checkWait]struct{}
}

// start gives c d to pass a check, timed by after; the set holds the wait until it
// ends.
func (s *checkWaits) start(c net.Conn, after func(time.Duration, func()) func() bool, d time.Duration) *checkWait {
	w := &checkWait{conn: c, deadlineSet: make(chan struct{}), waits: s}
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[*checkWait]struct{})
	}
	s.m[w] = struct{}{}
	s.mu.Unlock()
	w.arm(after, d)
	return w
}

func (s *checkWaits) remove(w *checkWait) {
	s.mu.Lock()
	delete(s.m, w)
	s.mu.Unlock()
}

// closeAll closes the connections of the waits that run; their readers end them.
// Nothing starts a wait after it.
func (s *checkWaits) closeAll() {
	s.mu.Lock()
	conns := make([]net.Conn, 0, len(s.m))
	for w := range s.m {
		conns = append(conns, w.conn)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}
