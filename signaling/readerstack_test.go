package signaling_test

import (
	"bytes"
	"errors"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/gorilla/websocket"

	"conclave/internal/conntest"
	"conclave/sfu"
	"conclave/signaling"
)

// TestReaderStackIsHalved: between messages a member's websocket reader waits deep in
// gorilla and the poller, and while it reads (a ping answered, a large message) its
// stack can grow to 8 KB. The collector halves a stack only when less than a quarter of
// it is in use, and with readPump's frame as it was the wait used a little more than
// that: every such reader held 8 KB for its member's whole meeting.
//
// Here the server's side of each connection grows its reader's stack to 8 KB at its
// first read, and the readers wait. After a few collections each reader is woken by a
// ping and, still at the depth it waited at, takes 3 KB more stack: that fits in 8 KB,
// not in 4, so the stack moves (is copied to a larger one) only if the collector had
// halved it.
func TestReaderStackIsHalved(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector's instrumentation changes the size of every frame the reader waits in")
	}
	const n = 32
	var moved, kept atomic.Int64
	srv := newTestServerWrapped(t, signaling.Config{Clock: newFakeClock(), MaxConnsPerAddr: 4 * n},
		sfu.Config{NoBandwidthEstimation: true},
		func(l net.Listener) net.Listener { return &growListener{Listener: l, moved: &moved, kept: &kept} })

	clients := make([]*websocket.Conn, n)
	for i := range clients {
		ws, _, err := rawDial(t, srv.wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = ws
	}
	conntest.Eventually(t, "every reader waits for its first message, its stack grown", func() bool { return readersWaiting() == n })
	for i := 0; i < 3; i++ { // one collection halves a stack once
		runtime.GC()
	}

	errPong := errors.New("pong")
	for _, ws := range clients {
		ws.SetPongHandler(func(string) error { return errPong })
		if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := ws.NextReader(); !errors.Is(err, errPong) {
			t.Fatalf("waiting for the pong: %v", err)
		}
	}
	if moved.Load() != n {
		t.Fatalf("of %d readers whose stacks grew to 8 KB and then waited, %d still held 8 KB after the collections (%d were halved)", n, kept.Load(), moved.Load())
	}
}

// readersWaiting counts the goroutines parked in a growConn's read.
func readersWaiting() int { return goroutinesWaiting("[IO wait", "(*growConn).Read") }

// goroutinesWaiting counts the goroutines whose trace holds both: what they wait for
// (its header's "[IO wait", "[sync.Mutex.Lock") and a function they wait in.
func goroutinesWaiting(state, fn string) int {
	count := 0
	for _, g := range bytes.Split(allGoroutines(), []byte("\n\n")) {
		if bytes.Contains(g, []byte(state)) && bytes.Contains(g, []byte(fn)) {
			count++
		}
	}
	return count
}

// allGoroutines is the trace of every goroutine of the process, whatever its length.
func allGoroutines() []byte {
	buf := make([]byte, 1<<20)
	for {
		m := runtime.Stack(buf, true)
		if m < len(buf) {
			return buf[:m]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// growListener's connections grow the member's reader's stack to 8 KB at its first
// read, as a reader's deepest work does, and when the read returns tell whether its
// stack had been halved since (moved) or not (kept).
type growListener struct {
	net.Listener
	moved, kept *atomic.Int64
}

func (l *growListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return &growConn{Conn: c, l: l}, nil
}

type growConn struct {
	net.Conn
	l     *growListener
	reads atomic.Int64
}

func (c *growConn) Read(p []byte) (int, error) {
	if len(p) > 512 || len(p) < 2 {
		// net/http's reads of the request (into 4 KB) and its one-byte background
		// read before the upgrade: their goroutines end at the upgrade.
		return c.Conn.Read(p)
	}
	// A read of gorilla's, into its 512-byte buffer (Config's ReadBufferSize): the
	// member's reader.
	first := c.reads.Add(1) == 1
	if first {
		deep(16)
	}
	n, err := c.Conn.Read(p)
	if first {
		if stackMoves(10) {
			c.l.moved.Add(1)
		} else {
			c.l.kept.Add(1)
		}
	}
	return n, err
}

// stackMoves says whether taking r frames of deep's more stack moved the goroutine's
// stack: it did not fit.
//
//go:noinline
func stackMoves(r int) bool {
	var marker byte
	before := uintptr(unsafe.Pointer(&marker))
	deep(r)
	return uintptr(unsafe.Pointer(&marker)) != before
}

// deep takes r+1 frames of some 300 bytes of stack each.
//
//go:noinline
func deep(r int) byte {
	var pad [256]byte
	pad[r] = byte(r)
	if r == 0 {
		return pad[0]
	}
	return deep(r-1) + pad[r]
}
