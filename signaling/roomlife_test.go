package signaling_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/secret"
	"conclave/signaling"
	"conclave/store"
)

// gatedStore is a store whose next read of a room, once armed, returns what it read
// only when the test lets it: so that a request or a join can be held between its
// read of a room and what it does with it, while the test changes the room.
type gatedStore struct {
	*store.Memory
	mu     sync.Mutex
	gate   chan struct{} // the armed read waits for it to close
	held   chan struct{} // closed once the armed read has read
	looked chan struct{} // a host was looked up (buffered, one signal)
	ticks  atomic.Int32  // janitor rounds begun (DeleteExpired calls)
	// janitor, when set, holds the janitor's next round at its start (holdJanitor).
	janitor chan struct{}
	inRound chan struct{}
	// list, when set, holds the next listing of a host's rooms once read (armList).
	list     chan struct{}
	listHeld chan struct{}
}

// armList holds the next listing of a host's rooms after it has read them; release
// lets it go on.
func (g *gatedStore) armList() (held <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.list, g.listHeld = make(chan struct{}), make(chan struct{})
	gate := g.list
	var once sync.Once
	return g.listHeld, func() { once.Do(func() { close(gate) }) }
}

func (g *gatedStore) Rooms(ctx context.Context, hostID string) ([]store.Room, error) {
	rs, err := g.Memory.Rooms(ctx, hostID)
	g.mu.Lock()
	gate, held := g.list, g.listHeld
	g.list, g.listHeld = nil, nil
	g.mu.Unlock()
	if gate != nil {
		close(held)
		<-gate
	}
	return rs, err
}

// holdJanitor holds the janitor's next round before it deletes expired rooms or ends
// any meeting; release lets it go on.
func (g *gatedStore) holdJanitor() (held <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.janitor, g.inRound = make(chan struct{}), make(chan struct{})
	gate := g.janitor
	var once sync.Once
	return g.inRound, func() { once.Do(func() { close(gate) }) }
}

func newGatedStore() *gatedStore {
	return &gatedStore{Memory: store.NewMemory(), looked: make(chan struct{}, 1)}
}

// arm holds the next read of a room; release lets it go on.
func (g *gatedStore) arm() (held <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate, g.held = make(chan struct{}), make(chan struct{})
	gate := g.gate
	return g.held, func() { close(gate) }
}

func (g *gatedStore) Room(ctx context.Context, id string) (store.Room, error) {
	r, err := g.Memory.Room(ctx, id)
	g.mu.Lock()
	gate, held := g.gate, g.held
	g.gate, g.held = nil, nil
	g.mu.Unlock()
	if gate != nil {
		close(held)
		<-gate
	}
	return r, err
}

func (g *gatedStore) Host(ctx context.Context, id string) (store.Host, error) {
	h, err := g.Memory.Host(ctx, id)
	select {
	case g.looked <- struct{}{}:
	default:
	}
	return h, err
}

func (g *gatedStore) DeleteExpired(ctx context.Context, now time.Time) ([]string, error) {
	g.ticks.Add(1)
	g.mu.Lock()
	gate, in := g.janitor, g.inRound
	g.janitor, g.inRound = nil, nil
	g.mu.Unlock()
	if gate != nil {
		close(in)
		<-gate
	}
	return g.Memory.DeleteExpired(ctx, now)
}

// waitFor waits for ch, failing the test after conntest.Wait (only a hung test).
func waitFor(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(conntest.Wait):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestRemovedHostsCreationInFlight: a host removed (conclave host remove, over the
// admin socket) while its request to create a room or a one-off meeting is under way
// (its key checked, its body still coming, or its password being hashed) gets no
// room: the removal deleted the host's rooms, and a room stored after it would be a
// working meeting place, with links its former host holds, that nobody can manage.
func TestRemovedHostsCreationInFlight(t *testing.T) {
	for _, path := range []string{"/api/rooms", "/api/meetings"} {
		t.Run(strings.TrimPrefix(path, "/api/"), func(t *testing.T) {
			rooms := newGatedStore()
			ctx := context.Background()
			sec := secret.Random(24)
			if err := rooms.CreateHost(ctx, store.Host{ID: "leaving", Name: "Leaving", KeyHash: secret.KeyedHash(sec)}); err != nil {
				t.Fatal(err)
			}
			srv := newTestServerWith(t, signaling.Config{Store: rooms})
			for len(rooms.looked) > 0 { // a lookup made at the start, if any
				<-rooms.looked
			}

			pr, pw := io.Pipe()
			req, err := http.NewRequest(http.MethodPost, srv.http.URL+path, pr)
			if err != nil {
				t.Fatal(err)
			}
			req.Close = true
			req.Header.Set("Authorization", "Bearer leaving."+sec)
			type answer struct {
				code int
				body []byte
			}
			answers := make(chan answer, 1)
			go func() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					answers <- answer{}
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				answers <- answer{resp.StatusCode, b}
			}()
			first := make(chan struct{}) // the second chunk goes after the first, whatever the scheduler does
			go func() {                  // the headers and a first chunk go out
				_, _ = pw.Write([]byte(`{"settings":`))
				close(first)
			}()
			waitFor(t, "the host key to be checked", rooms.looked)

			// The operator removes the host meanwhile (what the admin socket's RemoveHost
			// does to the store).
			if err := rooms.DeleteHost(ctx, "leaving"); err != nil {
				t.Fatal(err)
			}
			go func() {
				<-first
				_, _ = pw.Write([]byte(`{"lobby":false}}`))
				_ = pw.Close()
			}()
			a := <-answers
			all, err := rooms.AllRooms(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if a.code == http.StatusCreated || len(all) != 0 {
				t.Fatalf("a removed host's creation in flight: %d %s; the store keeps %d room(s) of it", a.code, a.body, len(all))
			}
			if a.code != http.StatusUnauthorized {
				t.Fatalf("a removed host's creation in flight: %d %s, want 401", a.code, a.body)
			}
		})
	}
}

// TestJoinInFlightAcrossWithdrawal: a join that read its room just before the host
// rotated its links (or deleted it) does not start a meeting under the withdrawn id:
// with the old moderator secret (the leaked link a host rotates away) it would be let
// in as a moderator of a meeting nobody can end but the janitor.
func TestJoinInFlightAcrossWithdrawal(t *testing.T) {
	for _, how := range []string{"rotate", "delete"} {
		t.Run(how, func(t *testing.T) {
			rooms := newGatedStore()
			srv := newTestServerWith(t, signaling.Config{Store: rooms})
			room := srv.createRoom(t, `{"settings":{"lobby":false}}`)
			id := room.Room.ID

			held, release := rooms.arm()
			c := srv.dial(t)
			if err := c.SendJoin(map[string]any{"meetingId": id, "name": "Leaked link", "moderatorSecret": room.ModeratorSecret}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the join to read the room", held)
			if how == "rotate" {
				srv.apiJSON(t, http.MethodPost, "/api/rooms/"+id+"/rotate", `{}`, http.StatusOK, nil)
			} else {
				srv.apiJSON(t, http.MethodDelete, "/api/rooms/"+id, "", http.StatusNoContent, nil)
			}
			release()

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m, err := c.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var p struct{ Code, Reason string }
			_ = json.Unmarshal(m.Payload, &p)
			if m.Type == "welcome" || srv.sig.Registry().Get(id) != nil {
				t.Fatalf("a join in flight across %s: %s %s; the withdrawn id has a live meeting: %v", how, m.Type, m.Payload, srv.sig.Registry().Get(id) != nil)
			}
			if !(m.Type == "error" && p.Code == "unknown_meeting") && !(m.Type == "bye" && p.Reason == "ended") {
				t.Fatalf("a join in flight across %s: %s %s", how, m.Type, m.Payload)
			}
		})
	}
}

// TestConcurrentRoomChangesAreNotLost: two changes of one room at once (two devices of
// the host, the shell and the browser) both count: the one that read the room first
// does not write back what it read over the other's change (here: the waiting room
// turned back on would silently stay off).
func TestConcurrentRoomChangesAreNotLost(t *testing.T) {
	rooms := newGatedStore()
	srv := newTestServerWith(t, signaling.Config{Store: rooms})
	room := srv.createRoom(t, `{"settings":{"lobby":false}}`)
	path := "/api/rooms/" + room.Room.ID

	held, release := rooms.arm()
	first := make(chan int, 1)
	go func() {
		code, _ := srv.api(t, http.MethodPatch, path, `{"settings":{"chat":false}}`, testHostKey)
		first <- code
	}()
	waitFor(t, "the first change to read the room", held)
	second := make(chan int, 1)
	go func() {
		code, _ := srv.api(t, http.MethodPatch, path, `{"settings":{"lobby":true}}`, testHostKey)
		second <- code
	}()
	// Without a turn per room the second change is written now, before the first; with
	// one it waits for the first, which is let go once the second waits for its turn
	// (not after a while: on a slow machine the second had not read the room yet, and
	// the test passed without the turn).
	var codes [2]int
	conntest.Eventually(t, "the second change to be answered or to wait for its turn", func() bool {
		select {
		case codes[1] = <-second:
			return true
		default:
			return signaling.HostTurnUsers(srv.sig, "testhost") == 2
		}
	})
	release()
	codes[0] = <-first
	if codes[1] == 0 {
		codes[1] = <-second
	}
	if codes != [2]int{http.StatusOK, http.StatusOK} {
		t.Fatalf("answers %v", codes)
	}
	var got roomView
	srv.apiJSON(t, http.MethodGet, path, "", http.StatusOK, &got)
	if !got.Settings.Lobby || got.Settings.Chat {
		t.Fatalf("after two changes at once: %+v (want lobby on, chat off)", got.Settings)
	}
}

// TestExtendedRoomKeepsItsMeeting: a host who extends a room (or makes it standing)
// while a meeting goes on in it does not have that meeting ended at the old expiry:
// the room is still there and its links still work.
func TestExtendedRoomKeepsItsMeeting(t *testing.T) {
	clock := newFakeClock()
	rooms := newGatedStore()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Store: rooms})
	soon := clock.Now().Add(10 * time.Second).Format(time.RFC3339)
	room := srv.createRoom(t, `{"settings":{"lobby":false},"expires":"`+soon+`"}`)
	id := room.Room.ID
	a := inWith(t, srv, id, "A", nil)
	srv.apiJSON(t, http.MethodPatch, "/api/rooms/"+id, `{"expires":null}`, http.StatusOK, nil)

	clock.Advance(10 * time.Second)
	// Two more janitor rounds begun: the round at the old expiry is over.
	start := rooms.ticks.Load()
	conntest.Eventually(t, "two janitor rounds", func() bool {
		if rooms.ticks.Load() >= start+2 {
			return true
		}
		clock.Advance(5 * time.Second)
		return false
	})
	if _, err := rooms.Memory.Room(context.Background(), id); err != nil {
		t.Fatalf("the extended room: %v", err)
	}
	for _, m := range a.All() {
		if m.Type == "bye" {
			t.Fatalf("the meeting of an extended room was ended at its old expiry: %s", m.Payload)
		}
	}
	if srv.sig.Registry().Get(id) == nil {
		t.Fatal("the meeting of an extended room is gone")
	}
	// Its links still lead into that meeting.
	b := inWith(t, srv, id, "B", nil)
	if w := welcomeOf(t, b); len(w.Participants) != 1 {
		t.Fatalf("a join after the old expiry: %+v", w.Participants)
	}
}

// TestExpiredRoomRefusesJoinsBeforeTheJanitor: once a room has expired, its links let
// nobody new into the meeting still going on in it, and GET /api/meetings says it is
// gone, also before the janitor's round ends that meeting (which it then does).
func TestExpiredRoomRefusesJoinsBeforeTheJanitor(t *testing.T) {
	clock := newFakeClock()
	rooms := newGatedStore()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Store: rooms})
	soon := clock.Now().Add(10 * time.Second).Format(time.RFC3339)
	room := srv.createRoom(t, `{"settings":{"lobby":false},"expires":"`+soon+`"}`)
	id := room.Room.ID
	a := inWith(t, srv, id, "A", nil)

	held, release := rooms.holdJanitor()
	t.Cleanup(release)
	clock.Advance(10 * time.Second)
	waitFor(t, "the janitor's round", held)
	refusedUnknown(t, srv, id, nil)
	refusedUnknown(t, srv, id, map[string]any{"moderatorSecret": room.ModeratorSecret})
	if code, body := srv.api(t, http.MethodGet, "/api/meetings/"+id, "", ""); code != http.StatusNotFound {
		t.Fatalf("GET /api/meetings of the expired room: %d %s", code, body)
	}
	release()
	if reason, _ := byeReason(t, a); reason != "ended" {
		t.Fatalf("bye %q", reason)
	}
}

// TestShortenedRoomRefusesJoinsBeforeTheJanitor: a host who gives a standing room an
// expiry (or brings it forward) while a meeting goes on in it has its links let nobody
// new in from that expiry on, also before the janitor's round: the meeting's own
// expiry, the one it was made with, let them in until then.
func TestShortenedRoomRefusesJoinsBeforeTheJanitor(t *testing.T) {
	clock := newFakeClock()
	rooms := newGatedStore()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Store: rooms})
	room := srv.createRoom(t, `{"settings":{"lobby":false}}`)
	id := room.Room.ID
	a := inWith(t, srv, id, "A", nil)
	soon := clock.Now().Add(10 * time.Second).Format(time.RFC3339)
	srv.apiJSON(t, http.MethodPatch, "/api/rooms/"+id, `{"expires":"`+soon+`"}`, http.StatusOK, nil)

	held, release := rooms.holdJanitor()
	t.Cleanup(release)
	clock.Advance(10 * time.Second)
	waitFor(t, "the janitor's round", held)
	refusedUnknown(t, srv, id, nil)
	if code, body := srv.api(t, http.MethodGet, "/api/meetings/"+id, "", ""); code != http.StatusNotFound {
		t.Fatalf("GET /api/meetings of the expired room: %d %s", code, body)
	}
	release()
	if reason, _ := byeReason(t, a); reason != "ended" {
		t.Fatalf("bye %q", reason)
	}
}

// TestExpiredRoomLetsNobodyBack: once a room has expired, a member whose connection
// dropped does not resume into the meeting still going on in it, also before the
// janitor's round ends that meeting: the meeting is over, and the resume fails as one
// into an ended meeting does (resume_failed). It came back, for up to the janitor's
// period (from a helper's audit).
func TestExpiredRoomLetsNobodyBack(t *testing.T) {
	clock := newFakeClock()
	rooms := newGatedStore()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, Store: rooms, ResumeGrace: testGrace})
	soon := clock.Now().Add(10 * time.Second).Format(time.RFC3339)
	room := srv.createRoom(t, `{"settings":{"lobby":false},"expires":"`+soon+`"}`)
	id := room.Room.ID
	a := inWith(t, srv, id, "A", nil)
	b := inWith(t, srv, id, "B", nil)
	aID, aSecret := a.ParticipantID, a.ResumeSecret
	dropAndSeeReconnecting(t, a, b)

	held, release := rooms.holdJanitor()
	t.Cleanup(release)
	clock.Advance(10 * time.Second) // the room expires; A's grace (30 s) runs on
	waitFor(t, "the janitor's round", held)
	c := srv.dial(t)
	if err := c.SendResume(id, aID, aSecret, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg, err := c.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Code string }
	_ = json.Unmarshal(msg.Payload, &p)
	if msg.Type != "error" || p.Code != "resume_failed" {
		t.Fatalf("a resume into the meeting of an expired room got %s %s, want resume_failed", msg.Type, msg.Payload)
	}
	if code := waitClosed(t, c); code != 4401 {
		t.Fatalf("close %d, want 4401", code)
	}
	release()
	if reason, _ := byeReason(t, b); reason != "ended" {
		t.Fatalf("bye %q", reason)
	}
}

// TestHostRemovalHoldsItsRooms: while a host is removed (conclave host remove, over
// the admin socket: signaling.Server.RemoveHost), its rooms cannot change: a room
// created or a link rotated after the removal listed the host's rooms would be
// deleted with the host, but a meeting started under its id ran on until the
// janitor's round. A creation waits and then finds the host gone (401), a rotation
// finds no room (404), and no meeting runs under any id of the host's afterwards (from
// a helper's audit).
func TestHostRemovalHoldsItsRooms(t *testing.T) {
	for _, how := range []string{"create", "rotate"} {
		t.Run(how, func(t *testing.T) {
			rooms := newGatedStore()
			ctx := context.Background()
			sec := secret.Random(24)
			if err := rooms.CreateHost(ctx, store.Host{ID: "leaving", Name: "Leaving", KeyHash: secret.KeyedHash(sec)}); err != nil {
				t.Fatal(err)
			}
			key := "leaving." + sec
			srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), Store: rooms}) // no janitor's round
			var before roomCreated
			if code, b := srv.api(t, http.MethodPost, "/api/rooms", `{"settings":{"lobby":false}}`, key); code != http.StatusCreated {
				t.Fatalf("create: %d %s", code, b)
			} else if err := json.Unmarshal(b, &before); err != nil {
				t.Fatal(err)
			}
			inBefore := inWith(t, srv, before.Room.ID, "Before", nil)

			// The removal has listed the host's rooms, and waits.
			held, release := rooms.armList()
			defer release()
			removed := make(chan error, 1)
			go func() {
				_, err := srv.sig.RemoveHost(ctx, "leaving", func(ctx context.Context) error { return rooms.DeleteHost(ctx, "leaving") })
				removed <- err
			}()
			waitFor(t, "the removal to list the host's rooms", held)

			type answer struct {
				code int
				body []byte
			}
			answers := make(chan answer, 1)
			go func() {
				var a answer
				if how == "create" {
					a.code, a.body = srv.api(t, http.MethodPost, "/api/rooms", `{"settings":{"lobby":false}}`, key)
				} else {
					a.code, a.body = srv.api(t, http.MethodPost, "/api/rooms/"+before.Room.ID+"/rotate", `{}`, key)
				}
				answers <- a
			}()
			// Without the host's turn the request is answered now; with it, it waits.
			var a answer
			answered := false
			conntest.Eventually(t, "the "+how+" to be answered or to wait for the host's turn", func() bool {
				select {
				case a = <-answers:
					answered = true
					return true
				default:
					return signaling.HostTurnUsers(srv.sig, "leaving") == 2
				}
			})
			var inNew *testclient.Client
			var newID string
			if answered && a.code/100 == 2 {
				// A meeting starts under the new id before the removal deletes it.
				var made roomCreated
				if err := json.Unmarshal(a.body, &made); err != nil {
					t.Fatal(err)
				}
				newID = made.Room.ID
				inNew = inWith(t, srv, newID, "New", nil)
			}
			release()
			if err := <-removed; err != nil {
				t.Fatal(err)
			}
			if !answered {
				a = <-answers
			}
			// The removal ended the meetings of the host's rooms before it returned.
			if newID != "" && srv.sig.Registry().Get(newID) != nil {
				t.Fatalf("a meeting runs under the id a %s made while its host was removed (%d %s)", how, a.code, a.body)
			}
			for _, c := range []*testclient.Client{inBefore, inNew} {
				if c == nil {
					continue
				}
				if reason, _ := byeReason(t, c); reason != "ended" {
					t.Fatalf("a meeting of the removed host's: bye %q", reason)
				}
			}
			want := map[string]int{"create": http.StatusUnauthorized, "rotate": http.StatusNotFound}[how]
			if a.code != want {
				t.Fatalf("a %s while its host was removed: %d %s, want %d", how, a.code, a.body, want)
			}
			if all, err := rooms.AllRooms(ctx); err != nil || len(all) != 0 {
				t.Fatalf("the store keeps %d room(s) of the removed host (%v)", len(all), err)
			}
		})
	}
}
