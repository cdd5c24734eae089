package signaling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// expectRefused sends typ and expects the reply to be an error with code.
func expectRefused(t *testing.T, c *testclient.Client, typ string, payload any, code string) {
	t.Helper()
	id, err := c.Send(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	if got, ref := expectError(t, c); got != code || ref != id {
		t.Fatalf("%s: got %s (ref %q), want %s (ref %q)", typ, got, ref, code, id)
	}
}

// TestNegotiationRateLimits: publish_offer takes a burst of 10 and then one a second;
// ice a burst of 50 and then 10 a second; beyond that they are refused with
// rate_limited. Time is the server's (fake) clock.
func TestNegotiationRateLimits(t *testing.T) {
	clk := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clk})
	a := srv.join(t, srv.createMeeting(t), "Alice")

	bad := map[string]any{"sdp": "not SDP", "tracks": []any{}}
	for i := 0; i < 10; i++ {
		expectRefused(t, a, "publish_offer", bad, "bad_sdp")
	}
	expectRefused(t, a, "publish_offer", bad, "rate_limited")
	clk.Advance(time.Second)
	expectRefused(t, a, "publish_offer", bad, "bad_sdp")
	expectRefused(t, a, "publish_offer", bad, "rate_limited")

	// End-of-candidates messages are accepted without a reply: the first error is the
	// 51st message's.
	end := map[string]any{"pc": "publish", "candidate": map[string]any{"candidate": ""}}
	for i := 0; i < 50; i++ {
		if _, err := a.Send("ice", end); err != nil {
			t.Fatal(err)
		}
	}
	expectRefused(t, a, "ice", end, "rate_limited")
	clk.Advance(time.Second) // ten more
	for i := 0; i < 10; i++ {
		if _, err := a.Send("ice", end); err != nil {
			t.Fatal(err)
		}
	}
	expectRefused(t, a, "ice", end, "rate_limited")
}

// TestTrickledCandidatesCapped: each connection takes 32 trickled candidates; the 33rd
// is refused with invalid_field, and the other connection keeps its own budget.
func TestTrickledCandidatesCapped(t *testing.T) {
	srv := newTestServer(t)
	a := srv.join(t, srv.createMeeting(t), "Alice")
	cand := func(pc string, i int) map[string]any {
		return map[string]any{"pc": pc, "candidate": map[string]any{
			"candidate": fmt.Sprintf("candidate:%d 1 udp 2130706431 127.0.0.1 %d typ host", i, 40000+i), "sdpMid": "0"}}
	}
	for i := 0; i < 32; i++ {
		if _, err := a.Send("ice", cand("publish", i)); err != nil {
			t.Fatal(err)
		}
	}
	expectRefused(t, a, "ice", cand("publish", 32), "invalid_field")
	if _, err := a.Send("ice", cand("subscribe", 0)); err != nil {
		t.Fatal(err)
	}
	// The subscribe candidate drew no error: the next error is the next message's.
	expectRefused(t, a, "ice", map[string]any{"pc": "neither"}, "invalid_field")
}

// TestCandidateAfterTheMediaEndedIsNoError: a candidate trickled after the member's
// media has closed (as at the meeting's end, before its bye) draws no error: it was
// answered bad_sdp, "candidate rejected", as though the client had sent a wrong one.
func TestCandidateAfterTheMediaEndedIsNoError(t *testing.T) {
	srv := newTestServer(t)
	meeting := srv.createMeeting(t)
	a := srv.join(t, meeting, "Alice")
	if !signaling.CloseMedia(srv.sig, meeting, a.ParticipantID) {
		t.Fatal("Alice has no media to close")
	}
	for _, pc := range []string{"publish", "subscribe"} {
		if _, err := a.Send("ice", map[string]any{"pc": pc, "candidate": map[string]any{
			"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host", "sdpMid": "0"}}); err != nil {
			t.Fatal(err)
		}
	}
	// Neither candidate drew an error: the next error is the next message's.
	expectRefused(t, a, "ice", map[string]any{"pc": "neither"}, "invalid_field")
}

// TestServerDialsNoClientAddress: a client names a TCP listener the test owns as its
// candidate, in its publish offer, in its subscribe answer and trickled on both
// connections, in every TCP shape; media flows over UDP, and the server never connects
// to the listener.
func TestServerDialsNoClientAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 1)
	var acceptors sync.WaitGroup
	acceptors.Add(1)
	go func() {
		defer acceptors.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); acceptors.Wait() })
	port := ln.Addr().(*net.TCPAddr).Port
	var lines []string
	for i, typ := range []string{"passive", "active", "so"} {
		lines = append(lines, fmt.Sprintf("candidate:9%d 1 tcp 1518280447 127.0.0.1 %d typ host tcptype %s", i, port, typ))
	}
	// A UDP-looking candidate that names the same port over TCP must not matter either,
	// nor ones a peer cannot have.
	lines = append(lines,
		fmt.Sprintf("candidate:95 1 tcp 1518280447 127.0.0.1 %d typ srflx raddr 0.0.0.0 rport 0 tcptype passive", port),
		"candidate:96 1 udp 2130706431 0.0.0.0 9 typ host",
		"candidate:97 1 udp 2130706431 224.0.0.1 5000 typ host",
		"candidate:98 1 udp 2130706431 169.254.169.254 80 typ host")
	inject := func(sdp string) string {
		var extra strings.Builder
		for _, l := range lines {
			extra.WriteString("a=" + l + "\r\n")
		}
		i := strings.Index(sdp, "a=mid:")
		j := strings.Index(sdp[i:], "\r\n") + i + 2
		return sdp[:j] + extra.String() + sdp[j:]
	}

	srv := newTestServer(t)
	meeting := srv.createMeeting(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := srv.join(t, meeting, "Publisher")
	sub := srv.join(t, meeting, "Subscriber")
	sub.EditSubscribeAnswers(inject)
	pubs, err := pub.PublishWith(ctx, testclient.PublishOptions{
		Tracks:  []testclient.PublishTrack{{Kind: "audio", Label: "microphone"}},
		EditSDP: inject,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testclient.Client{pub, sub} {
		for _, pc := range []string{"publish", "subscribe"} {
			for _, l := range lines {
				if _, err := c.Send("ice", map[string]any{"pc": pc, "candidate": map[string]any{"candidate": l, "sdpMid": "0"}}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	stop := make(chan struct{})
	defer close(stop)
	go sendLoop(pub, pubs, newSentLog(), stop)
	conntest.Eventually(t, "audio at the subscriber", func() bool {
		r := sub.Received(pub.ParticipantID, "microphone")
		return r != nil && r.Count() >= 20
	})
	// ICE has run on both connections with every candidate above; a server that dials
	// would have done so by now. Nothing happened is all this can check: bounded.
	select {
	case <-accepted:
		t.Fatal("the server connected to an address a client named")
	case <-time.After(2 * time.Second):
	}
	if errs := sub.SubscribeErrors(); len(errs) > 0 {
		t.Fatalf("subscribe errors: %v", errs)
	}
}

// subscribeOffers counts the subscribe offers c has received.
func subscribeOffers(c *testclient.Client) int {
	n := 0
	for _, m := range c.All() {
		if m.Type == "subscribe_offer" {
			n++
		}
	}
	return n
}

// TestUnansweredSubscribeOfferRecovers: a subscriber that never answers a subscribe
// offer still receives a track published later: after 10 s on the server's clock the
// server withdraws the offer and offers again with the current tracks.
func TestUnansweredSubscribeOfferRecovers(t *testing.T) {
	clk := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clk})
	meeting := srv.createMeeting(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub := srv.join(t, meeting, "Subscriber")
	sub.IgnoreSubscribeOffers(1)
	first := srv.join(t, meeting, "First")
	firstPubs, err := first.Publish(ctx, "microphone")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go sendLoop(first, firstPubs, newSentLog(), stop)
	conntest.Eventually(t, "the first subscribe offer (left unanswered)", func() bool { return subscribeOffers(sub) == 1 })
	// A reply to a message sent after the offer arrived means the session has finished
	// sending it, so its answer deadline is set.
	expectRefused(t, sub, "ice", map[string]any{"pc": "neither"}, "invalid_field")

	second := srv.join(t, meeting, "Second")
	secondPubs, err := second.Publish(ctx, "camera")
	if err != nil {
		t.Fatal(err)
	}
	go sendLoop(second, secondPubs, newSentLog(), stop)
	conntest.Eventually(t, "the second track published", func() bool {
		r := first.Received(second.ParticipantID, "camera")
		return r != nil && r.Count() > 0
	})
	if n := subscribeOffers(sub); n != 1 {
		t.Fatalf("%d subscribe offers before the deadline, want the one outstanding", n)
	}

	clk.Advance(11 * time.Second)
	for _, key := range [][2]string{{second.ParticipantID, "camera"}, {first.ParticipantID, "microphone"}} {
		conntest.Eventually(t, "media after the offer was made again", func() bool {
			r := sub.Received(key[0], key[1])
			return r != nil && r.Count() >= 10
		})
	}
}

// TestRefusedSubscribeAnswerReoffers: an answer the server cannot apply is refused with
// bad_sdp, and a fresh offer follows, so the tracks still arrive.
func TestRefusedSubscribeAnswerReoffers(t *testing.T) {
	srv := newTestServer(t)
	meeting := srv.createMeeting(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub := srv.join(t, meeting, "Subscriber")
	var once sync.Once
	sub.EditSubscribeAnswers(func(sdp string) string {
		out := sdp
		once.Do(func() { out = "v=0\r\nnot an answer\r\n" })
		return out
	})
	pub := srv.join(t, meeting, "Publisher")
	pubs, err := pub.Publish(ctx, "camera")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go sendLoop(pub, pubs, newSentLog(), stop)
	if code, _ := expectError(t, sub); code != "bad_sdp" {
		t.Fatalf("garbled answer: %s, want bad_sdp", code)
	}
	conntest.Eventually(t, "media after a refused answer", func() bool {
		r := sub.Received(pub.ParticipantID, "camera")
		return r != nil && r.Count() >= 10
	})
}

// TestSubscribeICERestart: a client whose subscribe connection failed asks for an ICE
// restart over the live websocket and gets a subscribe offer with new ICE credentials.
func TestSubscribeICERestart(t *testing.T) {
	srv := newTestServer(t)
	meeting := srv.createMeeting(t)
	alice := srv.join(t, meeting, "Alice")
	bob := srv.join(t, meeting, "Bob")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pubs, err := alice.Publish(ctx, "camera")
	if err != nil {
		t.Fatal(err)
	}
	ufrags := func() []string {
		var out []string
		for _, m := range bob.All() {
			if m.Type != "subscribe_offer" {
				continue
			}
			var p struct{ SDP string }
			_ = json.Unmarshal(m.Payload, &p)
			for _, line := range strings.Split(p.SDP, "\r\n") {
				if u, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok {
					out = append(out, u)
					break
				}
			}
		}
		return out
	}
	conntest.Eventually(t, "Bob's first subscribe offer", func() bool {
		_ = pubs[0].Send([]byte("a camera frame............................................"))
		return len(ufrags()) > 0
	})
	first := ufrags()[0]
	if _, err := bob.Send("ice_restart", map[string]string{"pc": "subscribe"}); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "a subscribe offer with new ICE credentials", func() bool {
		u := ufrags()
		return u[len(u)-1] != first
	})
	if _, err := bob.Send("ice_restart", map[string]string{"pc": "publish"}); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, bob); code != "invalid_field" {
		t.Fatalf("ice_restart of the publish connection: %s", code)
	}
}
