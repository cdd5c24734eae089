package signaling_test

import (
	"context"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/signaling"
)

// clockStep is a step of the wall clock larger than the ping's wait and far shorter
// than a room's lifetime, so that the room itself is not over after it.
const clockStep = 10 * time.Minute

// TestWallClockStepForwardClosesNobody: a step of the wall clock forward (NTP setting a
// clock that was behind, a virtual machine resumed) closes no connection as silent.
// Each ping tick after the step, the member has been heard (its heartbeat's ping,
// Sync); it stays connected and its messages are still answered. The silence was
// measured from the clock's UnixNano at the last hearing, so the first tick after the
// step found the member silent for the step's length and closed it ("no pong"), as it
// would have closed every connection of the server.
func TestWallClockStepForwardClosesNobody(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	meeting := srv.createMeeting(t)
	member := srv.join(t, meeting, "Member")
	clock.Jump(clockStep)
	for tick := 1; tick <= 4; tick++ {
		clock.Advance(20 * time.Second)
		settleClock(t, clock)
		ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
		_, err := member.Sync(ctx)
		cancel()
		if err != nil {
			t.Fatalf("ping tick %d after the clock stepped %v forward: the member's connection: %v", tick, clockStep, err)
		}
	}
	if _, err := member.Send("chat", map[string]string{"text": "still here"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, member, "chat")
}

// TestWallClockStepBackKeepsNoSilentPeer: after a step of the wall clock back, a member
// that answers nothing is still closed with 4408 "no pong" within three ping ticks (60
// s of the server's timers), as without the step. Measured from the clock's UnixNano,
// its silence was the step's length short, and it kept its place in the meeting until
// the clock had made up the step.
func TestWallClockStepBackKeepsNoSilentPeer(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	meeting := srv.createMeeting(t)
	ws, _, err := rawDial(t, srv.wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	rawJoin(t, ws, meeting, "Silent")
	ws.SetPingHandler(func(string) error { return nil }) // reads, never answers
	closed := readUntilClosed(ws)
	clock.Jump(-clockStep)
	for range 3 {
		clock.Advance(20 * time.Second)
		settleClock(t, clock)
	}
	wantClose(t, rawClosed(t, closed), signaling.CloseTimeout, "no pong")
}
