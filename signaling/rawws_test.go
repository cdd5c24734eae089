package signaling_test

// Raw websocket clients for the tests of connection upkeep and caps (conns_test.go and
// the tests of pacing, stats and clock steps): gorilla connections without the test
// client's habits (it reads everything and answers every ping), members whose pings go
// unanswered, and fake clocks driven until a connection closes.

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
	"conclave/signaling"
)

// rawDial opens a websocket from local (nil: the default address) without any of the
// test client's habits. The response is returned for refused handshakes.
func rawDial(t *testing.T, url string, local net.IP) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := *websocket.DefaultDialer
	if local != nil {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: local}}
		d.NetDialContext = nd.DialContext
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	ws, resp, err := d.DialContext(ctx, url, nil)
	if err == nil {
		t.Cleanup(func() { _ = ws.Close() })
	}
	return ws, resp, err
}

// rawJoin sends join and reads until welcome; it returns the participant id.
func rawJoin(t *testing.T, ws *websocket.Conn, meeting, name string) string {
	t.Helper()
	join := map[string]any{"type": "join", "payload": map[string]any{"version": 1, "e2ee": 6, "meetingId": meeting, "name": name}}
	if err := ws.WriteJSON(join); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = ws.SetReadDeadline(time.Time{}) }()
	for {
		var m struct {
			Type    string
			Payload struct{ ParticipantID string }
		}
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("%s join: %v", name, err)
		}
		if m.Type == "welcome" {
			return m.Payload.ParticipantID
		}
	}
}

// readUntilClosed reads (answering pings unless the caller changed the handler) until
// the connection ends, and returns the close frame received, or fails.
func readUntilClosed(ws *websocket.Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				done <- err
				return
			}
		}
	}()
	return done
}

// driveUntil advances the fake clock in small steps until done delivers, and returns
// what it delivered. Real time bounds only how long the test may hang, not the verdict.
func driveUntil(t *testing.T, clock *fakeclock.Clock, step time.Duration, done <-chan error) error {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case err := <-done:
			return err
		case <-deadline:
			t.Fatalf("the connection was not closed (fake time %v)", clock.Now())
			return nil
		case <-time.After(5 * time.Millisecond):
			clock.Advance(step)
		}
	}
}

// waitForTimers waits (in bounded real time) until the clock has n timers pending.
func waitForTimers(t *testing.T, clock *fakeclock.Clock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := clock.WaitForTimers(ctx, n); err != nil {
		t.Fatalf("%d timers armed, want %d", clock.Pending(), n)
	}
}

// rawClosed returns how a raw connection ended, waiting in bounded real time.
func rawClosed(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("the connection was not closed")
		return nil
	}
}

// rawMember joins a new meeting, on a server that runs on a fake clock, under name
// over a raw websocket, and returns it with the clock.
func rawMember(t *testing.T, name string) (*websocket.Conn, *fakeclock.Clock) {
	t.Helper()
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	meeting := srv.createMeeting(t)
	ws, _, err := rawDial(t, srv.wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	rawJoin(t, ws, meeting, name)
	return ws, clock
}

// silentMember is a rawMember whose websocket reads but answers no ping.
func silentMember(t *testing.T, name string) (*websocket.Conn, *fakeclock.Clock) {
	t.Helper()
	ws, clock := rawMember(t, name)
	ws.SetPingHandler(func(string) error { return nil }) // reads, never answers
	return ws, clock
}

// pingTick moves the clock on by one ping tick (20 s) and returns once the tick is
// done: had it closed a peer, that peer would be closing.
func pingTick(t *testing.T, clock *fakeclock.Clock) {
	t.Helper()
	clock.Advance(20 * time.Second)
	settleClock(t, clock)
}

func wantClose(t *testing.T, err error, code int, text string) {
	t.Helper()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code || (text != "" && ce.Text != text) {
		t.Fatalf("connection ended with %v, want close %d %q", err, code, text)
	}
}
