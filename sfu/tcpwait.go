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
}

type checkWaitState uint8

const (
	checkWaiting checkWaitState = iota
	checkEnded                  // ended in time: the connection stays
	checkTimeUp                 // the time was up first: the reader is woken, its deadline past
)

// longAgo is a read deadline that has passed.
var longAgo = time.Unix(1, 0)

// startCheckWait gives c d to pass a check, timed by after.
func startCheckWait(c net.Conn, after func(time.Duration, func()) func() bool, d time.Duration) *checkWait {
	w := &checkWait{conn: c, deadlineSet: make(chan struct{})}
	w.mu.Lock()
	defer w.mu.Unlock()
	// Under the lock, so that end finds stop set; expire, which takes the lock, runs
	// on a goroutine of its own.
	w.stop = after(d, w.expire)
	return w
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
	if !inTime {
		<-w.deadlineSet // expire sets it right after its lock
	}
	return inTime
}
