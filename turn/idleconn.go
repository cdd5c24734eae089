package turn

import (
	"net"
	"sync"
	"time"
)

// Anyone who can reach the TCP and TLS listeners can open a connection and send
// nothing: pion/turn would hold it, and its place under the listeners' bounds, for
// good, and a few hundred such (400 from one address) would shut TURN over TCP and TLS
// for everybody. A client's connection is only good for an allocation, which a browser
// asks for as soon as it is connected: allocWaiter closes a connection that holds no
// allocation for allocWait, after it is accepted or after its allocation ends.

// allocWait is how long a TCP or TLS connection may hold no allocation. A browser
// allocates within a round trip or two of connecting (a TLS handshake, then one
// request answered with a challenge and the request again).
const allocWait = 10 * time.Second

type allocWaiter struct {
	afterFunc func(time.Duration, func()) (stop func() bool)
	mu        sync.Mutex
	conns     map[streamKey]*allocConn
}

// allocConn is an accepted connection and its wait for an allocation.
type allocConn struct {
	conn      net.Conn
	allocated bool
	stop      func() bool // the running wait's, nil while allocated
}

func newAllocWaiter(afterFunc func(time.Duration, func()) func() bool) *allocWaiter {
	return &allocWaiter{afterFunc: afterFunc, conns: map[streamKey]*allocConn{}}
}

// accepted starts q's wait; q's Close ends it.
func (w *allocWaiter) accepted(q *queuedConn) {
	key, ok := streamKeyOf(q.RemoteAddr(), q.LocalAddr())
	if !ok {
		return
	}
	c := &allocConn{conn: q}
	w.mu.Lock()
	w.conns[key] = c
	w.waitLocked(c)
	w.mu.Unlock()
	q.onClose(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.conns[key] == c {
			delete(w.conns, key)
		}
		if c.stop != nil {
			c.stop()
		}
	})
}

func (w *allocWaiter) waitLocked(c *allocConn) {
	c.stop = w.afterFunc(allocWait, func() {
		w.mu.Lock()
		idle := !c.allocated
		w.mu.Unlock()
		if idle {
			_ = c.conn.Close()
		}
	})
}

// allocationCreated and allocationDeleted follow pion/turn's events (src and dst are
// the allocation's five-tuple); allocations over UDP are no concern here.
func (w *allocWaiter) allocationCreated(src, dst net.Addr) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c := w.lookupLocked(src, dst); c != nil {
		c.allocated = true
		if c.stop != nil {
			c.stop()
			c.stop = nil
		}
	}
}

func (w *allocWaiter) allocationDeleted(src, dst net.Addr) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c := w.lookupLocked(src, dst); c != nil && c.allocated {
		c.allocated = false
		w.waitLocked(c)
	}
}

func (w *allocWaiter) lookupLocked(src, dst net.Addr) *allocConn {
	key, ok := streamKeyOf(src, dst)
	if !ok {
		return nil
	}
	return w.conns[key]
}
