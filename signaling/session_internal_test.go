package signaling

import (
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSlowConsumerIsDisconnected: when a session's write queue is full, the next message
// does not wait: the connection is closed with 4408 and the sender carries on at once.
func TestSlowConsumerIsDisconnected(t *testing.T) {
	s, _, client := heldSession(t) // no write pump: the peer never drains

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
	_, _, err := client.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != CloseSlowConsumer {
		t.Fatalf("client read %v, want close %d", err, CloseSlowConsumer)
	}
}
