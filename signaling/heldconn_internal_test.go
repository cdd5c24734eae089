package signaling

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// countingConn counts the writes that reach the connection.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// heldSession is a session upgraded as serveWS does it (holdingWriter), with its
// connection's writes counted, and the client connected to it; its write pump is not
// started (TestSlowConsumerIsDisconnected needs a pump that never drains).
func heldSession(t *testing.T) (*Session, *countingConn, *websocket.Conn) {
	t.Helper()
	srv := &Server{log: testDiscard(), writeWait: DefaultWriteTimeout}
	type upgraded struct {
		s *Session
		c *countingConn
	}
	sessions := make(chan upgraded, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serial := srv.serials.Add(1) // before the handshake's answer, as serveWS takes it
		hw := &holdingWriter{ResponseWriter: w}
		conn, err := (&websocket.Upgrader{}).Upgrade(hw, r, nil)
		if err != nil {
			return
		}
		counted := &countingConn{Conn: hw.conn.Conn} // the handshake's write is done
		hw.conn.Conn = counted
		s := newSession(srv, conn, "127.0.0.1", serial)
		s.held = hw.conn
		sessions <- upgraded{s, counted}
	}))
	t.Cleanup(hs.Close)
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	u := <-sessions
	return u.s, u.c, client
}

// readMessages reads n text messages and fails unless they are msg(0) … msg(n-1).
func readMessages(t *testing.T, client *websocket.Conn, n int, msg func(int) string) {
	t.Helper()
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range n {
		typ, data, err := client.ReadMessage()
		if err != nil || typ != websocket.TextMessage || string(data) != msg(i) {
			t.Fatalf("message %d: %d %.40q %v, want %.40q", i, typ, data, err, msg(i))
		}
	}
}

// TestQueuedMessagesGoOutInOneWrite: the messages queued behind the one the write pump
// takes go out with it in one write to the connection, in order, whole; a batch ends
// at maxHeldBytes, so a long queue takes a few writes, not one per message.
func TestQueuedMessagesGoOutInOneWrite(t *testing.T) {
	s, counted, client := heldSession(t)
	small := func(i int) string { return fmt.Sprintf(`{"type":"participant_joined","n":%d}`, i) }
	for i := range 50 {
		s.send([]byte(small(i)))
	}
	s.startWriter()
	defer s.abort(0, "")
	readMessages(t, client, 50, small)
	if n := counted.count(); n != 1 {
		t.Fatalf("50 queued messages took %d writes, want 1", n)
	}

	// Large ones: 100 of 2 KB (200 KB) in batches of at most maxHeldBytes and a message.
	pad := strings.Repeat("x", 2048)
	large := func(i int) string { return fmt.Sprintf(`{"n":%d,"pad":%q}`, i, pad) }
	s.wmu.Lock() // the pump takes the first and waits here while the rest queue
	for i := range 100 {
		s.send([]byte(large(i)))
	}
	s.wmu.Unlock()
	readMessages(t, client, 100, large)
	if n := counted.count() - 1; n < 200*1024/(maxHeldBytes+4096) || n > 5 {
		t.Fatalf("100 queued messages of 2 KB took %d writes, want 4 or 5", n)
	}

	// Alone, a message is written at once.
	s.send([]byte(small(0)))
	readMessages(t, client, 1, small)
	if n := counted.count(); n < 2+4 || n > 2+5 {
		t.Fatalf("%d writes in all", n)
	}
}

// TestCloseInAQueuedBatch: a close queued among messages ends the batch: the messages
// before it arrive, then the close frame with its code, and none after it.
func TestCloseInAQueuedBatch(t *testing.T) {
	s, _, client := heldSession(t)
	msg := func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) }
	for i := range 10 {
		s.send([]byte(msg(i)))
	}
	s.enqueue(&outMsg{closeCode: CloseSlowConsumer, closeText: "slow consumer"})
	s.send([]byte(msg(10)))
	s.startWriter()
	readMessages(t, client, 10, msg)
	_, data, err := client.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != CloseSlowConsumer {
		t.Fatalf("after the batch the client read %q, %v; want close %d", data, err, CloseSlowConsumer)
	}
}
