package signaling

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSlowConsumerIsDisconnected: when a session's write queue is full, the next message
// does not wait: the connection is closed with 4408 and the sender carries on at once.
func TestSlowConsumerIsDisconnected(t *testing.T) {
	srv := &Server{log: testDiscard(), writeWait: DefaultWriteTimeout}
	sessions := make(chan *Session, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		sessions <- newSession(srv, conn, "127.0.0.1") // no write pump: the peer never drains
	}))
	defer hs.Close()
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	s := <-sessions

	start := make(chan struct{})
	done := make(chan struct{})
	go func() {
		close(start)
		for i := 0; i < sendQueueLen+10; i++ {
			s.send([]byte(`{"type":"chat"}`))
		}
		close(done)
	}()
	<-start
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("send blocked on a full queue")
	}
	select {
	case <-s.closing:
	default:
		t.Fatal("the session was not closed")
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = client.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != CloseSlowConsumer {
		t.Fatalf("client read %v, want close %d", err, CloseSlowConsumer)
	}
}
