package signaling

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// heldConn is a websocket's connection as gorilla writes to it. Gorilla writes every
// frame with a write of its own, a system call (and, through the runtime, a wake-up of
// its monitor thread) per message; when a crowd joins, each join is announced to every
// member, so a meeting of n that fills costs n² of them, most while the server's core is
// saturated and messages queue up for each write pump anyway. While the pump holds the
// connection (hold … release), frames are kept and go out in one write at release:
// only what is already queued is held, so nothing waits for more to come.
type heldConn struct {
	net.Conn
	mu   sync.Mutex
	hold bool
	buf  []byte
}

// maxHeldBytes is where the pump stops adding messages to one write.
const maxHeldBytes = 64 << 10

// Write keeps p while the connection is held, and writes it at once otherwise. A
// frame written while held (a pong from the read pump) goes out with the others.
func (c *heldConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.hold {
		c.buf = append(c.buf, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// holdWrites makes writes wait for release.
func (c *heldConn) holdWrites() {
	c.mu.Lock()
	c.hold = true
	c.mu.Unlock()
}

// held is how many bytes are held.
func (c *heldConn) held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.buf)
}

// release writes what is held in one write, by deadline, and lets writes through
// again. The buffer is not kept: a member's connection is idle most of its life.
func (c *heldConn) release(deadline time.Time) error {
	c.mu.Lock()
	buf := c.buf
	c.buf, c.hold = nil, false
	c.mu.Unlock()
	if len(buf) == 0 {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := c.Conn.Write(buf)
	return err
}

// holdingWriter hands gorilla's Upgrade the hijacked connection as a heldConn.
type holdingWriter struct {
	http.ResponseWriter
	conn *heldConn
}

var errNoHijack = errors.New("signaling: the response cannot be hijacked")

func (w *holdingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errNoHijack
	}
	c, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &heldConn{Conn: c}
	return w.conn, brw, nil
}
