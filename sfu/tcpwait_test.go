package sfu

import (
	"errors"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"conclave/internal/conntest"
)

// expiringConn runs expire before its first write: the time to pass a check runs out
// while the answer to a check read in time is being written.
type expiringConn struct {
	net.Conn
	once   sync.Once
	expire func()
}

func (c *expiringConn) Write(b []byte) (int, error) {
	c.once.Do(c.expire)
	return c.Conn.Write(b)
}

// TestICETCPCheckReadInTimeKeepsItsConnection: a check read before the connection's
// time to pass one was up keeps the connection when it passes, though the time runs out
// while it is answered: its agent has taken the connection as its path (nominated
// here) and the peer has its answer, as a check read before a socket's deadline kept
// its connection before the wait ran on the engine's clock. The connection must
// answer the next check, and be the agent's, closed with it.
func TestICETCPCheckReadInTimeKeepsItsConnection(t *testing.T) {
	r := newLiteRig(t)
	peer, near := conntest.Pair(t)
	var timers heldTimers
	var fired atomic.Bool
	conn := &expiringConn{Conn: near, expire: func() { timers.fire(t)(); fired.Store(true) }}
	c := &liteTCP{conn: conn, ap: near.RemoteAddr().(*net.TCPAddr).AddrPort()}
	ok := check{username: r.lite.ufrag + ":peer", pwd: r.lite.pwd}
	nominate := ok
	nominate.nominate = true
	served := make(chan struct{})
	go func() {
		defer close(served)
		c.serve(r.agents, nominate.bytes(t), new(checkWaits).start(conn, timers.after, tcpCheckWait))
	}()
	t.Cleanup(func() {
		_ = near.Close()
		<-served
	})

	answered := func(what string) {
		t.Helper()
		_ = peer.SetReadDeadline(time.Now().Add(conntest.Wait))
		buf := make([]byte, maxTCPFrame)
		n, err := readFrame(peer, buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: neither answered nor closed within %v", what, conntest.Wait)
		}
		if err != nil || !isSTUN(buf[:n]) {
			t.Fatalf("%s: the connection whose check passed as its time ran out was closed (%v)", what, err)
		}
	}
	answered("the check read in time")
	if !fired.Load() {
		t.Fatal("the wait's time did not run out during the answer")
	}
	frame(t, peer, ok.bytes(t))
	answered("the next check")
	r.lite.mu.Lock()
	held := slices.Contains(r.lite.tcps, c)
	r.lite.mu.Unlock()
	if !held {
		t.Fatal("the agent does not hold the connection its check passed on")
	}
}

// deadlineConn records the read deadlines set on it; one in the past waits in
// SetReadDeadline until pastHeld is closed, after saying so on pastSetting.
type deadlineConn struct {
	net.Conn
	pastSetting, pastHeld chan struct{}
	mu                    sync.Mutex
	set                   []time.Time
}

func (c *deadlineConn) SetReadDeadline(at time.Time) error {
	if at.Before(time.Now()) {
		close(c.pastSetting)
		<-c.pastHeld
	}
	c.mu.Lock()
	c.set = append(c.set, at)
	c.mu.Unlock()
	return nil
}

// TestICETCPWaitEndIsAfterTheExpirysDeadline: when the time to pass a check runs out
// as a check read in time passes, the wait's end returns only once the expiry has set
// its deadline in the past, so that the idle deadline the reader sets after it stands;
// were the expiry's set last, the connection whose check passed would be closed at
// its next read. The expiry is held in its deadline's setting until the reader is
// blocked for good (synctest.Wait): an end that does not wait for it has by then let
// the reader set its idle deadline first, however slow the machine.
func TestICETCPWaitEndIsAfterTheExpirysDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := &deadlineConn{pastSetting: make(chan struct{}), pastHeld: make(chan struct{})}
		var timers heldTimers
		wait := new(checkWaits).start(conn, timers.after, tcpCheckWait)
		expire, expired := timers.fire(t), make(chan struct{})
		go func() {
			defer close(expired)
			expire()
		}()
		<-conn.pastSetting
		idle := time.Now().Add(tcpIdle)
		passed := make(chan bool)
		go func() { // the reader, whose check passed
			inTime := wait.end()
			_ = conn.SetReadDeadline(idle)
			passed <- inTime
		}()
		synctest.Wait()
		close(conn.pastHeld)
		if <-passed {
			t.Fatal("the wait ended in time after its time was up")
		}
		<-expired
		conn.mu.Lock()
		defer conn.mu.Unlock()
		if n := len(conn.set); n != 2 || !conn.set[1].Equal(idle) {
			t.Fatalf("read deadlines set %v; want the past one, then the idle one", conn.set)
		}
	})
}

// TestEngineCloseEndsICETCPConnectionsWaitingForACheck: the engine's Close closes an
// ICE-TCP connection whose time to pass a check runs, here one a lite agent's failed
// checks keep, as it closes those whose first frame has not come: that time is the
// engine's clock's, which after a Close nothing may move (a test's fake clock never
// does), and the connection's reader would be left until its peer went.
func TestEngineCloseEndsICETCPConnectionsWaitingForACheck(t *testing.T) {
	_, eng, room := newClockedRoom(t, true, withTCP(time.Minute))
	p, err := room.Join("sub")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.own.offer(false); err != nil {
		t.Fatal(err)
	}
	wrong := check{username: p.own.lite.ufrag + ":peer", pwd: "not-the-password-of-it"}.bytes(t)
	bad := conntest.DialFrom(t, "127.0.0.1", eng.TCPAddr().String())
	frame(t, bad, wrong)
	conntest.Eventually(t, "the failed check to be read", func() bool { return eng.lites.refused.Load() == 1 })

	// As a server's shutdown closes them; the cleanup's second Close does nothing.
	room.Close()
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	if !conntest.ClosedByPeer(t, bad) {
		t.Fatal("a failed check was answered")
	}
}
