package signaling_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// The races of a host's change of a room (PATCH) with the joins that make, enter and
// leave the room's meeting (roomchange_test.go has the change itself).

// TestRoomChangeLetsNobodyIntoAMeetingMadeBeforeIt: a join read the room, the host
// then changed it (password, waiting room) and the PATCH was answered, and only then
// did the join put its meeting, made from the room as it was, in the registry. A
// second join that comes after the PATCH's answer must be judged by the changed room,
// also while the first is between putting its meeting there and its next read of the
// room; and so must the first.
func TestRoomChangeLetsNobodyIntoAMeetingMadeBeforeIt(t *testing.T) {
	rooms := newGatedStore()
	srv := newTestServerWith(t, signaling.Config{Store: rooms, Clock: newFakeClock()})
	id := srv.createRoom(t, `{"settings":{"lobby":false}}`).Room.ID

	held, release := rooms.arm()
	first := srv.dial(t)
	_ = first.SendJoin(map[string]any{"meetingId": id, "name": "Leaked link"})
	waitFor(t, "the first join to read the room", held)
	srv.apiJSON(t, http.MethodPatch, "/api/rooms/"+id, `{"password":"new pw","settings":{"lobby":true}}`, http.StatusOK, nil)
	// The first join's next read of the room (the one after its meeting is made) is held.
	heldAgain, releaseAgain := rooms.arm()
	release()
	waitFor(t, "the first join to read the room again", heldAgain)

	second := srv.dial(t)
	_ = second.SendJoin(map[string]any{"meetingId": id, "name": "Came after the change"})
	typ, code := firstAnswer(t, second)
	releaseAgain()
	if code != "password_required" {
		t.Errorf("a join that came after the change's answer: %s %s, want password_required", typ, code)
	}
	if typ, code := firstAnswer(t, first); code != "password_required" {
		t.Errorf("the join across the change: %s %s, want password_required", typ, code)
	}
}

// TestRoomChangeStartOverIsOneKnock: a join whose meeting its host's change dropped
// starts over (errRoomChanged); it is still one knock from its address, not two. With
// a budget of one knock at once, counted twice it was refused as knocking too often.
func TestRoomChangeStartOverIsOneKnock(t *testing.T) {
	rooms := &secondReadGate{Memory: newGatedStore().Memory}
	srv := newTestServerWith(t, signaling.Config{Store: rooms, Clock: newFakeClock(), MaxConnsPerAddr: 1})
	id := srv.createRoom(t, `{"settings":{"lobby":false}}`).Room.ID

	held, release := rooms.armSecond()
	c := srv.dial(t)
	_ = c.SendJoin(map[string]any{"meetingId": id, "name": "Guest"})
	waitFor(t, "the join's meeting to be there", held)
	srv.apiJSON(t, http.MethodPatch, "/api/rooms/"+id, `{"settings":{"lobby":true}}`, http.StatusOK, nil)
	if got := srv.sig.Registry().Get(id); got != nil {
		t.Fatal("the change left the meeting nobody is in: the join does not start over, the test tests nothing")
	}
	release()
	if typ, code := firstAnswer(t, c); typ != "lobby" {
		t.Fatalf("a join that started over for the change: %s %s, want it to wait (lobby)", typ, code)
	}
}

// TestRoomChangeHammered: a host changes a room again and again while people join it,
// leave it, drop their connections and resume, and refused joins open its meeting.
// Nothing deadlocks, the race detector finds nothing, every join and resume is let in
// (the room lets everyone in, whatever the change), and at the end everyone still
// connected is a connected member of the one meeting the registry holds for the room:
// none was left behind in a meeting the change dropped.
func TestRoomChangeHammered(t *testing.T) {
	const (
		workers = 2
		rounds  = 12
		// The host and the refused joins go on until the workers are done, at most so
		// many times each.
		patches = 400
		refused = 60
	)
	// A meeting outlives its last person by an hour, so that the changes find meetings
	// nobody is in to drop; the fake clock never ends a parked member's grace.
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), EmptyMeetingGrace: time.Hour, ResumeGrace: time.Hour})
	id := srv.createRoom(t, `{"settings":{"lobby":false}}`).Room.ID

	var wg, working sync.WaitGroup
	errs := make(chan error, workers+2)
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	done := make(chan struct{}) // closed once the workers are done
	wg.Add(1)
	go func() { // the host
		defer wg.Done()
		for i := range patches {
			if closedYet(done) {
				return
			}
			body := fmt.Sprintf(`{"settings":{"lobby":false,"chat":%t}}`, i%2 == 0)
			if code, err := patchRoom(ctx, srv, id, body); err != nil || code != http.StatusOK {
				errs <- fmt.Errorf("PATCH %d: %d %v", i, code, err)
				return
			}
		}
	}()
	wg.Add(1)
	go func() { // joins refused after they opened the meeting
		defer wg.Done()
		for range refused {
			if closedYet(done) {
				return
			}
			c, err := testclient.Dial(ctx, srv.wsURL)
			if err != nil {
				errs <- err
				return
			}
			// A page of another E2EE format is refused once the meeting (end-to-end
			// encrypted, the rooms' default) is open, and counts as no guess.
			_ = c.SendJoin(map[string]any{"meetingId": id, "e2ee": 1})
			m, err := c.Expect(ctx, "error")
			c.Close()
			if err != nil || !strings.Contains(string(m.Payload), "e2ee_version") {
				errs <- fmt.Errorf("a page of another E2EE format: %s %v", m.Payload, err)
				return
			}
		}
	}()
	last := make([]*testclient.Client, workers)
	for w := range workers {
		working.Add(1)
		go func() {
			defer working.Done()
			for r := range rounds {
				c, err := testclient.Dial(ctx, srv.wsURL)
				if err != nil {
					errs <- err
					return
				}
				if err := c.Join(ctx, id, fmt.Sprintf("P%d", w)); err != nil {
					c.Close()
					errs <- fmt.Errorf("worker %d round %d: %v", w, r, err)
					return
				}
				if r%2 == 1 { // its connection drops, and it comes back
					pid, sec := c.ParticipantID, c.ResumeSecret
					c.Close()
					if c, err = testclient.Dial(ctx, srv.wsURL); err != nil {
						errs <- err
						return
					}
					if err := c.Resume(ctx, id, pid, sec); err != nil {
						c.Close()
						errs <- fmt.Errorf("worker %d round %d, resume: %v", w, r, err)
						return
					}
				}
				if r == rounds-1 {
					last[w] = c
					return
				}
				if err := c.Leave(ctx); err != nil {
					errs <- fmt.Errorf("worker %d round %d, leave: %v", w, r, err)
					return
				}
			}
		}()
	}
	working.Wait()
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, c := range last {
		if c != nil {
			t.Cleanup(c.Close)
		}
	}
	if t.Failed() {
		return
	}
	m := srv.sig.Registry().Get(id)
	if m == nil {
		t.Fatal("no meeting in the registry, with three people connected to it")
	}
	in := signaling.ConnectedMembers(m)
	for w, c := range last {
		if !in[c.ParticipantID] {
			t.Errorf("worker %d's member is not in the room's meeting (members %v)", w, in)
		}
	}
	if len(in) != workers {
		t.Errorf("the room's meeting has %d connected members, want %d", len(in), workers)
	}
}

// closedYet reports whether ch is closed.
func closedYet(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// patchRoom sends a PATCH of room id as the test host, from any goroutine.
func patchRoom(ctx context.Context, srv *testServer, id, body string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, srv.http.URL+"/api/rooms/"+id, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Close = true
	req.Header.Set("Authorization", "Bearer "+testHostKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
