package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"conclave/e2ee"
	"conclave/internal/fakeclock"
)

// TestRelayBudgetScales: the key relay's budget follows the meeting's size on the fake
// clock: a meeting's burst at once, its rate each second after, more room as members
// arrive, less as they leave.
func TestRelayBudgetScales(t *testing.T) {
	clock := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	b := newTokenBucket(e2ee.RelayLimits(2))
	take := func(members int) int {
		n := 0
		rate, burst := e2ee.RelayLimits(members)
		for {
			b.resize(clock.Now(), rate, burst)
			if !b.allow(clock.Now()) {
				return n
			}
			n++
		}
	}
	if r, bu := e2ee.RelayLimits(100); r != 210 || bu != 420 {
		t.Fatalf("a meeting of 100: rate %v, burst %v; want 210 and 420", r, bu)
	}
	if r, bu := e2ee.RelayLimits(1); r != 14 || bu != 28 {
		t.Fatalf("a meeting of one: rate %v, burst %v; want the floor of two members", r, bu)
	}
	if n := take(100); n != 420 {
		t.Fatalf("a meeting of 100 allowed %d at once, want 420", n)
	}
	clock.Advance(time.Second)
	if n := take(100); n != 210 {
		t.Fatalf("a second later %d, want the rate of 210", n)
	}
	clock.Advance(100 * time.Millisecond)
	if n := take(101); n != 21+4 {
		t.Fatalf("a newcomer and a tenth of a second: %d, want 21 + 4", n)
	}
	clock.Advance(time.Hour)
	if n := take(3); n != 32 {
		t.Fatalf("after an hour in a meeting of three: %d, want its burst of 32", n)
	}
}

// maxBatchMessage is the largest e2ee_batch a member of a meeting of members sends: an
// envelope for every other member with a 64-character to and data of MaxBatchShare
// quotes (each doubled by JSON escaping).
func maxBatchMessage(members int) []byte {
	envs := make([]BatchEnvelope, members-1)
	for i := range envs {
		envs[i] = BatchEnvelope{To: fmt.Sprintf("%064d", i), Data: strings.Repeat(`"`, e2ee.MaxBatchShare)}
	}
	b, _ := json.Marshal(map[string]any{"type": TypeE2EEBatch, "id": strings.Repeat("9", maxIDBytes), "payload": E2EEBatchPayload{Envelopes: envs}})
	return b
}

// TestBatchFitsReadLimit: the largest batch of the largest meeting passes both the
// websocket read limit and ParseBatch, for the default size and others.
func TestBatchFitsReadLimit(t *testing.T) {
	if got := batchWireBytes(DefaultMaxParticipants); got != 111904 {
		t.Fatalf("read limit for 100 members: %d", got)
	}
	if got := batchWireBytes(2); got != MaxMessageBytes {
		t.Fatalf("a small meeting lowers the read limit to %d", got)
	}
	for _, n := range []int{2, 10, DefaultMaxParticipants, 500} {
		msg := maxBatchMessage(n)
		if len(msg) > batchWireBytes(n) {
			t.Fatalf("%d members: batch of %d bytes over the read limit %d", n, len(msg), batchWireBytes(n))
		}
		env, perr := DecodeEnvelope(msg)
		if perr != nil {
			t.Fatal(perr)
		}
		if _, err := ParseBatch(env.Payload, n-1); err != nil {
			t.Fatalf("%d members: %v", n, err)
		}
	}
}

// FuzzParseBatch: ParseBatch never panics, and what it accepts is within every bound.
// The seed corpus runs in every go test.
func FuzzParseBatch(f *testing.F) {
	f.Add([]byte(`{"envelopes":[{"to":"p-1","data":"x"},{"to":"p-2","data":"y"}]}`), 3)
	f.Add([]byte(`{"envelopes":[]}`), 3)
	f.Add([]byte(`{"envelopes":[{"to":"p-1","data":"x"},{"to":"p-1","data":"y"}]}`), 3)
	f.Add([]byte(`{"envelopes":[{"to":"","data":"x"}]}`), 1)
	f.Add([]byte(`{"envelopes":[{"to":"p-1"}]}`), 1)
	f.Add([]byte(`{"envelopes":"x"}`), 1)
	f.Add([]byte(`{"envelopes":[{"to":"p-1","data":"x","extra":1}]}`), 1)
	f.Add([]byte(`null`), 1)
	f.Add([]byte(`{"envelopes":[{"to":5}]}`), 1)
	f.Add([]byte(`[1,2]`), 2)
	f.Fuzz(func(t *testing.T, payload []byte, max int) {
		if max < 0 || max > 1000 {
			return
		}
		envs, err := ParseBatch(payload, max)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) && batchError(err).Code != CodeInvalidField {
				t.Fatalf("untyped error %v", err)
			}
			if envs != nil {
				t.Fatal("envelopes with an error")
			}
			return
		}
		if len(envs) == 0 || len(envs) > max {
			t.Fatalf("%d envelopes accepted, at most %d", len(envs), max)
		}
		seen, total := map[string]bool{}, 0
		for _, e := range envs {
			if e.To == "" || len(e.To) > maxIDBytes || seen[e.To] || e2ee.CheckEnvelope(e.Data) != nil {
				t.Fatalf("accepted %+v", e)
			}
			seen[e.To] = true
			total += len(e.Data)
		}
		if total > e2ee.BatchData(len(envs)) {
			t.Fatalf("accepted %d bytes of data in %d envelopes", total, len(envs))
		}
	})
}
