package signaling_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/e2eeclient"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// TestKeyDistributionScales: a full meeting of 100 Go members, each running the key
// schedule of a browser (internal/e2eeclient: identities with tags, pairwise keys,
// ratchet on join, rotation on leave sent as one e2ee_batch). Five members leave within
// one second of the server's (fake) clock. Nobody is disconnected, no message is refused,
// and every remaining member ends up holding every remaining sender's newest key: asking,
// as a page does, for a key or an identity the server dropped from a long queue.
func TestKeyDistributionScales(t *testing.T) {
	if testing.Short() {
		t.Skip("100 members")
	}
	const members, leavers = signaling.DefaultMaxParticipants, 5
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock})
	mt := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)

	// One generous bound for the whole test: under -race beside a browser suite on two
	// cores the same work takes ten to twenty times as long as on a quiet machine, and
	// the verdict must not depend on that. Only a hung test meets the bound.
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	var followers sync.WaitGroup
	t.Cleanup(func() { cancel(); followers.Wait() })
	clients := make([]*testclient.Client, members)
	models := make([]*e2eeclient.Member, members)
	followErr := make(chan error, members)
	left := make([]atomic.Bool, members) // said leave
	start := time.Now()
	// Members join ten at a time (each join waits for its welcome), then follow.
	joinErr := make(chan error, members)
	var joins sync.WaitGroup
	for w := 0; w < 10; w++ {
		joins.Add(1)
		go func() {
			defer joins.Done()
			for i := w; i < members; i += 10 {
				c, err := testclient.Dial(ctx, srv.wsURL)
				if err == nil {
					t.Cleanup(c.Close)
					err = c.Join(ctx, mt.MeetingID, fmt.Sprintf("M%d", i))
				}
				if err != nil {
					joinErr <- fmt.Errorf("member %d: %w", i, err)
					return
				}
				m, err := e2eeclient.New(secret, c)
				if err != nil {
					joinErr <- err
					return
				}
				clients[i], models[i] = c, m
				followers.Add(1)
				go func() {
					defer followers.Done()
					// A leaver's send can race the server's close of its connection (a
					// broken pipe before its reader saw the close): once it said
					// leave, its faults do not count.
					if err := m.Follow(ctx, c); err != nil && !left[i].Load() {
						followErr <- fmt.Errorf("member %d: %w", i, err)
					}
				}()
			}
		}()
	}
	joins.Wait()
	select {
	case err := <-joinErr:
		t.Fatal(err)
	default:
	}

	// Everyone verifies everyone and holds a key of everyone's (lacks, holdsAll).
	// lacks says whether member r lacks what it needs of member s: its verified identity
	// and a key of it, or (newest) its current key.
	lacks := func(r, s int, newest bool) bool {
		got, ok := models[r].KeyFrom(clients[s].ParticipantID)
		if newest {
			want := models[s].OwnKey()
			return !ok || got.Index != want.Index || !bytes.Equal(got.Raw, want.Raw)
		}
		return !ok || !slices.Contains(models[r].Verified(), clients[s].ParticipantID)
	}
	// holdsAll: among members from to to-1, everyone lacks nothing of anyone (and, unless
	// newest, verifies exactly the others).
	holdsAll := func(from, to int, newest bool) bool {
		for r := from; r < to; r++ {
			if !newest && len(models[r].Verified()) != to-from-1 {
				return false
			}
			for s := from; s < to; s++ {
				if s != r && lacks(r, s, newest) {
					return false
				}
			}
		}
		return true
	}
	// What a page does when frames of a sender fail for want of its key, or its identity
	// has not verified (e2ee/FORMAT.md, "Key requests"): it asks the sender (a page with
	// a backoff; here every two seconds). The server drops key messages for a member
	// whose queue is long, as it is on a slow machine; asked only after two seconds
	// without, so that on a quick one nobody asks at all.
	asked := time.Now()
	askMissing := func(from, to int, newest bool) {
		if time.Since(asked) < 2*time.Second {
			return
		}
		asked = time.Now()
		for r := from; r < to; r++ {
			for s := from; s < to; s++ {
				if s != r && lacks(r, s, newest) {
					_ = models[r].RequestKey(clients[s].ParticipantID)
				}
			}
		}
	}
	t.Logf("joined in %v", time.Since(start))
	conntest.Eventually(t, "every member verified and keyed by every other", func() bool {
		if holdsAll(0, members, false) {
			return true
		}
		askMissing(0, members, false)
		return false
	})
	t.Logf("keyed in %v", time.Since(start))

	// Five leave within one second.
	for i := 0; i < leavers; i++ {
		left[i].Store(true)
		if _, err := clients[i].Send("leave", nil); err != nil {
			t.Fatalf("leave %d: %v", i, err)
		}
		clock.Advance(200 * time.Millisecond)
	}
	for i := 0; i < leavers; i++ {
		select {
		case <-clients[i].Done():
		case <-ctx.Done():
			t.Fatalf("leaver %d still connected", i)
		}
	}
	t.Logf("left in %v", time.Since(start))
	stay := clients[leavers:]
	stayModels := models[leavers:]
	conntest.Eventually(t, "every remaining member holding every remaining sender's rotated key", func() bool {
		if holdsAll(leavers, members, true) {
			return true
		}
		askMissing(leavers, members, true)
		return false
	})
	t.Logf("rotated in %v", time.Since(start))

	for i, c := range stay {
		select {
		case <-c.Done():
			t.Fatalf("member %d was disconnected: %v", i, c.CloseError())
		default:
		}
		if errs := errorsOf(c); len(errs) != 0 {
			t.Fatalf("member %d got %d errors, the first %s", i, len(errs), errs[0].Raw)
		}
		if n := len(stayModels[i].Verified()); n != len(stay)-1 {
			t.Fatalf("member %d verifies %d members, want %d", i, n, len(stay)-1)
		}
	}
	// Each remaining member rotated: its key is not the ratchet the leavers could follow.
	for i, m := range stayModels {
		k := m.OwnKey()
		for _, gone := range models[:leavers] {
			if old, ok := gone.KeyFrom(stay[i].ParticipantID); ok && bytes.Equal(old.Raw, k.Raw) {
				t.Fatalf("member %d still sends under a key a leaver holds", i)
			}
		}
	}
	select {
	case err := <-followErr:
		t.Fatalf("a member's key schedule failed: %v", err)
	default:
	}
}
