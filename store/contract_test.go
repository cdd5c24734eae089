package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// full is every method both stores have: the contract the tests hold them to.
type full interface {
	Room(context.Context, string) (Room, error)
	Rooms(context.Context, string) ([]Room, error)
	AllRooms(context.Context) ([]Room, error)
	CreateRoom(context.Context, Room) error
	UpdateRoom(context.Context, string, Room) error
	DeleteRoom(context.Context, string) error
	DeleteExpired(context.Context, time.Time) ([]string, error)
	Host(context.Context, string) (Host, error)
	Hosts(context.Context) ([]Host, error)
	CreateHost(context.Context, Host) error
	DeleteHost(context.Context, string) error
	ImportHosts(context.Context, []Host) (int, bool, error)
	Close() error
}

var (
	_ full = (*Memory)(nil)
	_ full = (*Bolt)(nil)
)

// stores are the implementations under test, each made fresh for one test.
var stores = []struct {
	name string
	open func(t *testing.T) full
}{
	{"Memory", func(t *testing.T) full { return NewMemory() }},
	{"Bolt", func(t *testing.T) full {
		b, err := OpenBolt(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}},
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func room(id, host string, created time.Time) Room {
	return Room{ID: id, HostID: host, Created: created, ModeratorMAC: "$hmac-sha256$k$m", Settings: Settings{Lobby: true}}
}

func host(id, name string) Host {
	return Host{ID: id, Name: name, KeyHash: "$hmac-sha256$k$" + id, Created: t0}
}

func ids(rs []Room) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// TestContract runs the same table of behaviours against Memory and Bolt.
func TestContract(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, s full)
	}{
		{"not found", func(t *testing.T, s full) {
			if _, err := s.Room(ctx, "nope"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Room: %v", err)
			}
			if _, err := s.Host(ctx, "nope"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Host: %v", err)
			}
			if err := s.UpdateRoom(ctx, "nope", room("nope", "h", t0)); !errors.Is(err, ErrNotFound) {
				t.Errorf("UpdateRoom: %v", err)
			}
			if err := s.DeleteRoom(ctx, "nope"); !errors.Is(err, ErrNotFound) {
				t.Errorf("DeleteRoom: %v", err)
			}
			if err := s.DeleteHost(ctx, "nope"); !errors.Is(err, ErrNotFound) {
				t.Errorf("DeleteHost: %v", err)
			}
			if rs, err := s.Rooms(ctx, "nope"); err != nil || len(rs) != 0 {
				t.Errorf("Rooms: %v %v", rs, err)
			}
			if hs, err := s.Hosts(ctx); err != nil || len(hs) != 0 {
				t.Errorf("Hosts: %v %v", hs, err)
			}
		}},
		{"an id deleted, expired, rotated away or its host's removed is never a room's again", func(t *testing.T, s full) {
			if err := s.CreateHost(ctx, host("h3", "Carol")); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"del", "exp", "old", "hostgone"} {
				hostID := "h1"
				if id == "hostgone" {
					hostID = "h3"
				}
				r := room(id, hostID, t0)
				if id == "exp" {
					r.Expires = t0.Add(time.Minute)
				}
				if err := s.CreateRoom(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.DeleteRoom(ctx, "del"); err != nil {
				t.Fatal(err)
			}
			if gone, err := s.DeleteExpired(ctx, t0.Add(time.Hour)); err != nil || !slices.Equal(gone, []string{"exp"}) {
				t.Fatalf("DeleteExpired: %v %v", gone, err)
			}
			if err := s.UpdateRoom(ctx, "old", room("new", "h1", t0)); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteHost(ctx, "h3"); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"del", "exp", "old", "hostgone"} {
				if err := s.CreateRoom(ctx, room(id, "h2", t0)); !errors.Is(err, ErrExists) {
					t.Errorf("CreateRoom(%s) after it was retired: %v", id, err)
				}
				if err := s.UpdateRoom(ctx, "new", room(id, "h1", t0)); !errors.Is(err, ErrExists) {
					t.Errorf("rotation to %s after it was retired: %v", id, err)
				}
			}
			if _, err := s.Room(ctx, "new"); err != nil {
				t.Fatalf("the rotated room: %v", err)
			}
		}},
		{"create, read back, exists", func(t *testing.T, s full) {
			r := room("r1", "h1", t0)
			r.Title, r.E2EE, r.PasswordHash, r.Expires = "e1.cipher", true, "$argon2id$x", t0.Add(time.Hour)
			if err := s.CreateRoom(ctx, r); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Room(ctx, "r1"); err != nil || !sameRoom(got, r) {
				t.Fatalf("Room = %+v %v, want %+v", got, err, r)
			}
			other := room("r1", "h2", t0.Add(time.Minute))
			if err := s.CreateRoom(ctx, other); !errors.Is(err, ErrExists) {
				t.Fatalf("duplicate room: %v", err)
			}
			if got, _ := s.Room(ctx, "r1"); !sameRoom(got, r) {
				t.Fatalf("a refused create changed the room: %+v", got)
			}
			h := host("h1", "Alice")
			if err := s.CreateHost(ctx, h); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Host(ctx, "h1"); err != nil || !got.Created.Equal(h.Created) || got.Name != h.Name || got.KeyHash != h.KeyHash {
				t.Fatalf("Host = %+v %v", got, err)
			}
			for _, dup := range []Host{host("h1", "Bob"), host("h2", "Alice")} {
				if err := s.CreateHost(ctx, dup); !errors.Is(err, ErrExists) {
					t.Errorf("duplicate host %+v: %v", dup, err)
				}
			}
		}},
		{"bad records are refused and change nothing", func(t *testing.T, s full) {
			for _, r := range []Room{{HostID: "h"}, {ID: "r"}} {
				if err := s.CreateRoom(ctx, r); !errors.Is(err, ErrBadRecord) {
					t.Errorf("CreateRoom(%+v): %v", r, err)
				}
			}
			if err := s.CreateRoom(ctx, room("r", "h", t0)); err != nil {
				t.Fatal(err)
			}
			if err := s.UpdateRoom(ctx, "r", Room{ID: "r2"}); !errors.Is(err, ErrBadRecord) {
				t.Errorf("UpdateRoom without host: %v", err)
			}
			if rs, _ := s.AllRooms(ctx); !slices.Equal(ids(rs), []string{"r"}) {
				t.Errorf("rooms %v", ids(rs))
			}
			for _, h := range []Host{{Name: "n", KeyHash: "k"}, {ID: "i", KeyHash: "k"}, {ID: "i", Name: "n"}} {
				if err := s.CreateHost(ctx, h); !errors.Is(err, ErrBadRecord) {
					t.Errorf("CreateHost(%+v): %v", h, err)
				}
			}
			if hs, _ := s.Hosts(ctx); len(hs) != 0 {
				t.Errorf("hosts %v", hs)
			}
		}},
		{"update in place", func(t *testing.T, s full) {
			r := room("r", "h", t0)
			if err := s.CreateRoom(ctx, r); err != nil {
				t.Fatal(err)
			}
			r.Settings = Settings{Chat: true, Unmute: true}
			r.PasswordHash = "$argon2id$new"
			if err := s.UpdateRoom(ctx, "r", r); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Room(ctx, "r"); !sameRoom(got, r) {
				t.Fatalf("after update %+v, want %+v", got, r)
			}
		}},
		{"rotation", func(t *testing.T, s full) {
			a, b := room("a", "h", t0), room("b", "h", t0.Add(time.Second))
			for _, r := range []Room{a, b} {
				if err := s.CreateRoom(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			// To a taken id: refused, both rooms as they were.
			moved := a
			moved.ID = "b"
			if err := s.UpdateRoom(ctx, "a", moved); !errors.Is(err, ErrExists) {
				t.Fatalf("rotation onto a taken id: %v", err)
			}
			if got, _ := s.Room(ctx, "b"); !sameRoom(got, b) {
				t.Fatalf("refused rotation changed b: %+v", got)
			}
			if _, err := s.Room(ctx, "a"); err != nil {
				t.Fatalf("refused rotation removed a: %v", err)
			}
			// To a new id: the old stops as the new starts.
			moved.ID = "c"
			moved.ModeratorMAC, moved.ModeratorMade = "$hmac-sha256$k$rotated", true
			if err := s.UpdateRoom(ctx, "a", moved); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Room(ctx, "a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("old id still works: %v", err)
			}
			if got, err := s.Room(ctx, "c"); err != nil || !sameRoom(got, moved) {
				t.Fatalf("new id: %+v %v", got, err)
			}
			if rs, _ := s.Rooms(ctx, "h"); !slices.Equal(ids(rs), []string{"c", "b"}) {
				t.Fatalf("rooms after rotation %v", ids(rs))
			}
		}},
		{"rotation is one step for readers", func(t *testing.T, s full) {
			if err := s.CreateRoom(ctx, room("x0", "h", t0)); err != nil {
				t.Fatal(err)
			}
			const rotations = 40
			var wg sync.WaitGroup
			stop := make(chan struct{})
			bad := make(chan string, 1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if rs, err := s.AllRooms(ctx); err != nil || len(rs) != 1 {
						select {
						case bad <- fmt.Sprintf("a reader saw %v (%v)", ids(rs), err):
						default:
						}
						return
					}
				}
			}()
			for i := range rotations {
				if err := s.UpdateRoom(ctx, fmt.Sprint("x", i), room(fmt.Sprint("x", i+1), "h", t0)); err != nil {
					t.Error(err)
					break
				}
			}
			close(stop)
			wg.Wait()
			select {
			case msg := <-bad:
				t.Fatal(msg)
			default:
			}
			if rs, _ := s.AllRooms(ctx); !slices.Equal(ids(rs), []string{fmt.Sprint("x", rotations)}) {
				t.Fatalf("rooms %v", ids(rs))
			}
		}},
		{"expiry deletion", func(t *testing.T, s full) {
			now := t0.Add(24 * time.Hour)
			rs := map[string]time.Time{
				"past":     now.Add(-time.Hour),
				"now":      now,
				"future":   now.Add(time.Nanosecond),
				"standing": {},
			}
			for id, exp := range rs {
				r := room(id, "h", t0)
				r.Expires = exp
				if err := s.CreateRoom(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			gone, err := s.DeleteExpired(ctx, now)
			if err != nil || !slices.Equal(gone, []string{"now", "past"}) {
				t.Fatalf("DeleteExpired = %v %v", gone, err)
			}
			for _, id := range gone {
				if _, err := s.Room(ctx, id); !errors.Is(err, ErrNotFound) {
					t.Errorf("expired %s still there: %v", id, err)
				}
			}
			if left, _ := s.AllRooms(ctx); !slices.Equal(ids(left), []string{"future", "standing"}) {
				t.Fatalf("left %v", ids(left))
			}
			if gone, err := s.DeleteExpired(ctx, now); err != nil || len(gone) != 0 {
				t.Fatalf("second DeleteExpired = %v %v", gone, err)
			}
		}},
		{"host deletion removes its rooms", func(t *testing.T, s full) {
			for _, h := range []Host{host("h1", "Alice"), host("h2", "Bob")} {
				if err := s.CreateHost(ctx, h); err != nil {
					t.Fatal(err)
				}
			}
			for i, id := range []string{"a1", "b1", "a2", "b2"} {
				if err := s.CreateRoom(ctx, room(id, map[byte]string{'a': "h1", 'b': "h2"}[id[0]], t0.Add(time.Duration(i)*time.Minute))); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.DeleteHost(ctx, "h1"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Host(ctx, "h1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("host still there: %v", err)
			}
			if rs, _ := s.AllRooms(ctx); !slices.Equal(ids(rs), []string{"b1", "b2"}) {
				t.Fatalf("rooms left %v", ids(rs))
			}
			if hs, _ := s.Hosts(ctx); len(hs) != 1 || hs[0].ID != "h2" {
				t.Fatalf("hosts left %+v", hs)
			}
		}},
		{"ordering", func(t *testing.T, s full) {
			// Rooms oldest first, ties by id; created out of order.
			for _, r := range []Room{room("m", "h", t0.Add(2*time.Hour)), room("z", "h", t0), room("a", "h", t0), room("q", "other", t0.Add(time.Hour)), room("b", "h", t0.Add(time.Hour))} {
				if err := s.CreateRoom(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			if rs, _ := s.Rooms(ctx, "h"); !slices.Equal(ids(rs), []string{"a", "z", "b", "m"}) {
				t.Errorf("Rooms(h) %v", ids(rs))
			}
			if rs, _ := s.AllRooms(ctx); !slices.Equal(ids(rs), []string{"a", "z", "b", "q", "m"}) {
				t.Errorf("AllRooms %v", ids(rs))
			}
			// Hosts by name, whatever their ids.
			for _, h := range []Host{host("1", "Carol"), host("2", "Alice"), host("3", "Bob")} {
				if err := s.CreateHost(ctx, h); err != nil {
					t.Fatal(err)
				}
			}
			hs, _ := s.Hosts(ctx)
			var names []string
			for _, h := range hs {
				names = append(names, h.Name)
			}
			if !slices.Equal(names, []string{"Alice", "Bob", "Carol"}) {
				t.Errorf("Hosts %v", names)
			}
		}},
		{"hosts are imported once", func(t *testing.T, s full) {
			if err := s.CreateHost(ctx, host("h1", "Alice")); err != nil {
				t.Fatal(err)
			}
			old := []Host{host("h1", "Alice"), host("h2", "Bob"), host("h3", "Alice")} // one already there, one name taken
			if n, done, err := s.ImportHosts(ctx, old); err != nil || !done || n != 1 {
				t.Fatalf("first import: %d %v %v", n, done, err)
			}
			if err := s.DeleteHost(ctx, "h2"); err != nil {
				t.Fatal(err)
			}
			if n, done, err := s.ImportHosts(ctx, old); err != nil || done || n != 0 {
				t.Fatalf("second import: %d %v %v", n, done, err)
			}
			if _, err := s.Host(ctx, "h2"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a removed host came back from the old file: %v", err)
			}
		}},
	}
	for _, impl := range stores {
		for _, c := range cases {
			t.Run(impl.name+"/"+c.name, func(t *testing.T) { c.run(t, impl.open(t)) })
		}
	}
}

// sameRoom compares rooms field by field, times by instant (a stored time comes back
// without its monotonic reading).
func sameRoom(a, b Room) bool {
	ta, tb := a, b
	ta.Created, tb.Created, ta.Expires, tb.Expires = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return ta == tb && a.Created.Equal(b.Created) && a.Expires.Equal(b.Expires)
}
