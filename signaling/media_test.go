package signaling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
)

// sentLog remembers every payload each publisher track sent.
type sentLog struct {
	mu   sync.Mutex
	sent map[string]map[string]bool // participant/source → payloads
}

func newSentLog() *sentLog { return &sentLog{sent: map[string]map[string]bool{}} }

func (l *sentLog) add(key string, p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent[key] == nil {
		l.sent[key] = make(map[string]bool)
	}
	l.sent[key][string(p)] = true
}

func (l *sentLog) has(key string, p []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent[key][string(p)]
}

// sendLoop publishes distinct payloads on every track until stop is closed (bounded by
// a time limit as well).
func sendLoop(c *testclient.Client, pubs []*testclient.Publisher, log *sentLog, stop <-chan struct{}) {
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-deadline:
			return
		case <-tick.C:
		}
		for _, p := range pubs {
			payload := []byte(fmt.Sprintf("%s/%s/%06d/", c.ParticipantID, p.Source, n))
			for len(payload) < 200 {
				payload = append(payload, byte(n+len(payload)))
			}
			log.add(c.ParticipantID+"/"+p.Source, payload)
			_ = p.Send(payload)
		}
	}
}

// TestMeetingForwardsRTP: two publishers and three subscribers; what arrives is
// byte-identical to what was sent; leaving unpublishes; after the meeting ends no
// goroutine is left and the meeting is gone.
func TestMeetingForwardsRTP(t *testing.T) {
	srv := newTestServer(t)
	baseline := goleak.IgnoreCurrent()
	meeting := srv.createMeeting(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	alice := srv.join(t, meeting, "Alice")
	bob := srv.join(t, meeting, "Bob")
	subs := []*testclient.Client{srv.join(t, meeting, "Carol"), srv.join(t, meeting, "Dave"), srv.join(t, meeting, "Erin")}

	alicePubs, err := alice.Publish(ctx, "microphone", "camera")
	if err != nil {
		t.Fatal(err)
	}
	bobPubs, err := bob.Publish(ctx, "camera")
	if err != nil {
		t.Fatal(err)
	}
	log := newSentLog()
	stop := make(chan struct{})
	var senders sync.WaitGroup
	senders.Add(2)
	go func() { defer senders.Done(); sendLoop(alice, alicePubs, log, stop) }()
	bobStop := make(chan struct{})
	go func() { defer senders.Done(); sendLoop(bob, bobPubs, log, bobStop) }()

	type want struct {
		c   *testclient.Client
		key []string // participant, source
	}
	var wants []want
	for _, s := range subs {
		wants = append(wants, want{s, []string{alice.ParticipantID, "microphone"}}, want{s, []string{alice.ParticipantID, "camera"}}, want{s, []string{bob.ParticipantID, "camera"}})
	}
	wants = append(wants, want{bob, []string{alice.ParticipantID, "camera"}}, want{alice, []string{bob.ParticipantID, "camera"}})
	for _, w := range wants {
		conntest.Eventually(t, fmt.Sprintf("%s receiving %v", w.c.ParticipantID, w.key), func() bool {
			r := w.c.Received(w.key[0], w.key[1])
			return r != nil && r.Count() >= 30
		})
	}
	for _, w := range wants {
		key := w.key[0] + "/" + w.key[1]
		for i, p := range w.c.Received(w.key[0], w.key[1]).Payloads() {
			if !log.has(key, p) {
				t.Fatalf("%s got packet %d on %s that was never sent: %q", w.c.ParticipantID, i, key, p)
			}
		}
	}

	// Alice leaves: everyone is told, and her tracks leave their subscribe connections.
	close(stop)
	if err := alice.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(subs, bob) {
		m, err := s.Expect(ctx, "participant_left")
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			ParticipantID string `json:"participantId"`
		}
		_ = json.Unmarshal(m.Payload, &p)
		if p.ParticipantID != alice.ParticipantID {
			t.Fatalf("participant_left names %q, want Alice %q", p.ParticipantID, alice.ParticipantID)
		}
	}
	for _, s := range subs {
		conntest.Eventually(t, "a subscribe offer without Alice's tracks", func() bool {
			offers := lastOffer(s)
			if offers == nil {
				return false
			}
			for _, tr := range offers {
				if tr.ParticipantID == alice.ParticipantID {
					return false
				}
			}
			return len(offers) == 1 // Bob's camera stays
		})
	}
	// Bob's stream still flows to everyone after Alice left.
	for _, s := range subs {
		r := s.Received(bob.ParticipantID, "camera")
		before := r.Count()
		conntest.Eventually(t, "Bob's camera still flowing", func() bool { return r.Count() > before+20 })
	}
	close(bobStop)
	senders.Wait()

	for _, c := range append(subs, bob) {
		if err := c.Leave(ctx); err != nil {
			t.Fatal(err)
		}
		if errs := c.SubscribeErrors(); len(errs) > 0 {
			t.Errorf("%s subscribe errors: %v", c.ParticipantID, errs)
		}
	}
	conntest.Eventually(t, "the meeting to be removed", func() bool { return srv.sig.Registry().Len() == 0 })
	conntest.GoroutinesEnd(t, baseline)
}

// lastOffer returns the track list of the last subscribe offer c received.
func lastOffer(c *testclient.Client) []testclient.TrackInfo {
	var tracks []testclient.TrackInfo
	found := false
	for _, m := range c.All() {
		if m.Type != "subscribe_offer" {
			continue
		}
		var p struct {
			Tracks []testclient.TrackInfo `json:"tracks"`
		}
		_ = json.Unmarshal(m.Payload, &p)
		tracks, found = p.Tracks, true
	}
	if !found {
		return nil
	}
	if tracks == nil {
		tracks = []testclient.TrackInfo{}
	}
	return tracks
}

// TestKeyframeRequests: a new subscriber makes the SFU ask the publisher for a keyframe,
// and a crowd joining at once is coalesced to at most one request per 500 ms. In a
// meeting without end-to-end encryption: an encrypted meeting's subscriptions leave the
// asking to their browsers (sfu.TestEncryptedLateSubscriberAsksItself).
func TestKeyframeRequests(t *testing.T) {
	srv := newTestServer(t)
	meeting := srv.createMeetingWith(t, `{"e2ee":false,"settings":{"lobby":false}}`).MeetingID
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := srv.join(t, meeting, "Presenter")
	pubs, err := pub.Publish(ctx, "camera")
	if err != nil {
		t.Fatal(err)
	}
	log := newSentLog()
	stop := make(chan struct{})
	defer close(stop)
	go sendLoop(pub, pubs, log, stop)

	first := srv.join(t, meeting, "First")
	conntest.Eventually(t, "a keyframe request for the first subscriber", func() bool {
		return pubs[0].KeyframeRequests() >= 1
	})
	conntest.Eventually(t, "media at the first subscriber", func() bool {
		r := first.Received(pub.ParticipantID, "camera")
		return r != nil && r.Count() > 0
	})

	start := time.Now()
	before := pubs[0].KeyframeRequests()
	var crowd []*testclient.Client
	for i := 0; i < 6; i++ {
		crowd = append(crowd, srv.join(t, meeting, fmt.Sprintf("Crowd %d", i)))
	}
	for _, c := range crowd {
		conntest.Eventually(t, "media at a crowd member", func() bool {
			r := c.Received(pub.ParticipantID, "camera")
			return r != nil && r.Count() > 0
		})
	}
	conntest.Eventually(t, "a keyframe request for the crowd", func() bool {
		return pubs[0].KeyframeRequests() > before
	})
	time.Sleep(200 * time.Millisecond)
	elapsed := time.Since(start)
	got := pubs[0].KeyframeRequests() - before
	// Upper bound only (a slow machine makes fewer requests, never more).
	if limit := int(elapsed/(500*time.Millisecond)) + 2; got > limit || got < 1 {
		t.Fatalf("%d keyframe requests in %v for 6 joins, want 1..%d", got, elapsed, limit)
	}
}

// TestICETCPFallback: clients that cannot use UDP publish and receive over the ICE-TCP
// port.
func TestICETCPFallback(t *testing.T) {
	srv := newTestServer(t)
	meeting := srv.createMeeting(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := srv.join(t, meeting, "Publisher")
	sub := srv.join(t, meeting, "Subscriber")
	for _, c := range []*testclient.Client{pub, sub} {
		if err := c.UseICETCPOnly(); err != nil {
			t.Fatal(err)
		}
	}
	pubs, err := pub.Publish(ctx, "microphone")
	if err != nil {
		t.Fatal(err)
	}
	log := newSentLog()
	stop := make(chan struct{})
	defer close(stop)
	go sendLoop(pub, pubs, log, stop)
	conntest.Eventually(t, "audio over ICE-TCP", func() bool {
		r := sub.Received(pub.ParticipantID, "microphone")
		return r != nil && r.Count() >= 20
	})
	for _, p := range sub.Received(pub.ParticipantID, "microphone").Payloads() {
		if !log.has(pub.ParticipantID+"/microphone", p) {
			t.Fatalf("unexpected payload %q", p)
		}
	}
}
