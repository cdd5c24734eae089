package signaling_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/secret"
	"conclave/signaling"
	"conclave/store"
)

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
