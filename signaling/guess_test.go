package signaling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
	"conclave/internal/testclient"
	"conclave/secret"
	"conclave/signaling"
)

// Tests of guessing and lockout: per-address budgets across meetings and host keys, no
// shared rate, one guess at a time per address, the client address behind a proxy (a
// locked meeting that is no password oracle, and the moderators' count:
// guessseen_test.go).

// loop returns 127.0.0.n: a test's stand-in for another machine.
func loop(n int) net.IP { return net.IPv4(127, 0, 0, byte(n)) }

// newClock is a fake clock for the server: no time passes unless a test says so, so
// every wait the throttle sets holds for the whole test.
func newClock() *fakeclock.Clock { return fakeclock.New(time.Unix(1_800_000_000, 0)) }

// settleClock returns once the timer functions the clock's advances fired have
// returned (fakeclock's Settle): the janitor's round, for one, has done what it does
// and armed the next.
func settleClock(t *testing.T, clock *fakeclock.Clock) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := clock.Settle(ctx); err != nil {
		t.Fatalf("the clock's timers still running: %v", err)
	}
}

// guessJoin opens a websocket from local (with extra request headers), sends a join with
// fields and reports the outcome: "" when it got past the secret checks (lobby or
// welcome; it then leaves and waits for the close), the error code, or "bye:<reason>".
func guessJoin(t *testing.T, srv *testServer, local net.IP, header http.Header, fields map[string]any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := *websocket.DefaultDialer
	d.NetDialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: local}}).DialContext
	ws, _, err := d.DialContext(ctx, srv.wsURL, header)
	if err != nil {
		t.Error(err)
		return "dial failed"
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	p := map[string]any{"version": 1, "e2ee": 6, "name": "Guesser"}
	for k, v := range fields {
		p[k] = v
	}
	if err := ws.WriteJSON(map[string]any{"type": "join", "id": "j", "payload": p}); err != nil {
		t.Error(err)
		return "write failed"
	}
	var m struct {
		Type    string
		Payload struct{ Code, Reason string }
	}
	if err := ws.ReadJSON(&m); err != nil {
		t.Errorf("no answer to join: %v", err)
		return "no answer"
	}
	switch m.Type {
	case "lobby", "welcome":
		_ = ws.WriteJSON(map[string]any{"type": "leave"})
		for ws.ReadJSON(&m) == nil { // until the server closes: the seat is free again
		}
		return ""
	case "error":
		return m.Payload.Code
	case "bye":
		return "bye:" + m.Payload.Reason
	}
	return "unexpected " + m.Type
}

func withPassword(meeting, password string) map[string]any {
	return map[string]any{"meetingId": meeting, "password": password}
}

// TestRightPasswordDuringAttack: 20 addresses guess 8 wrong passwords each, all at once,
// while the right password is tried from a 21st address throughout. Every right try
// gets in at its first attempt: no shared rate lets the attackers refuse it.
func TestRightPasswordDuringAttack(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Clock: newClock()})
	mt := srv.createMeetingWith(t, `{"password":"correct horse battery"}`)
	srv.joinModerator(t, mt, "Mod")

	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	for a := 2; a <= 21; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				code := guessJoin(t, srv, loop(a), nil, withPassword(mt.MeetingID, fmt.Sprintf("guess %d", i)))
				mu.Lock()
				outcomes[code]++
				mu.Unlock()
			}
		}()
	}
	attackDone := make(chan struct{})
	go func() { wg.Wait(); close(attackDone) }()
	tries := 0
	for running := true; running || tries < 5; tries++ {
		select {
		case <-attackDone:
			running = false
		default:
		}
		if code := guessJoin(t, srv, loop(22), nil, withPassword(mt.MeetingID, "correct horse battery")); code != "" {
			t.Fatalf("right password, try %d, during the attack: %q", tries+1, code)
		}
	}
	// Each attacker had its own budget and no more: 4 checked guesses, then waits.
	if outcomes["wrong_password"] != 20*(secret.FreeFailures+1) || outcomes["too_many_attempts"] != 20*(8-secret.FreeFailures-1) {
		t.Fatalf("attack outcomes %v", outcomes)
	}
	// The monitoring counters agree with what the clients saw.
	if st := srv.sig.Stats(); st.WrongPasswords != uint64(outcomes["wrong_password"]) || st.GuessesThrottled != uint64(outcomes["too_many_attempts"]) {
		t.Fatalf("stats %+v, outcomes %v", st, outcomes)
	}
	t.Logf("%d right tries during the attack, all let in", tries)
}

// TestHostKeyDuringAttack: 20 addresses sending wrong host keys never make the real host
// wait or get 429.
func TestHostKeyDuringAttack(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Clock: newClock()})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for a := 2; a <= 21; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := clientFrom(loop(a))
			for i := 0; i < 8; i++ {
				status := postFrom(t, srv, client, "Bearer testhost.wrong-"+fmt.Sprint(i))
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}
		}()
	}
	attackDone := make(chan struct{})
	go func() { wg.Wait(); close(attackDone) }()
	host := clientFrom(loop(1))
	for running, tries := true, 0; running || tries < 5; tries++ {
		select {
		case <-attackDone:
			running = false
		default:
		}
		if status := postFrom(t, srv, host, "Bearer "+testHostKey); status != http.StatusCreated {
			t.Fatalf("the real host, try %d, during the attack: %d", tries+1, status)
		}
	}
	if statuses[401] != 20*(secret.FreeFailures+1) || statuses[429] != 20*(8-secret.FreeFailures-1) {
		t.Fatalf("attack outcomes %v", statuses)
	}
	if st := srv.sig.Stats(); st.WrongHostKeys != uint64(statuses[401]) || st.GuessesThrottled != uint64(statuses[429]) || st.WrongPasswords != 0 {
		t.Fatalf("stats %+v, outcomes %v", st, statuses)
	}
}

func clientFrom(local net.IP) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: local}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

func postFrom(t *testing.T, srv *testServer, c *http.Client, auth string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.http.URL+"/api/meetings", strings.NewReader(`{}`))
	req.Header.Set("Authorization", auth)
	resp, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	return resp.StatusCode
}

// TestOneBudgetAcrossMeetings: an address spreading its guesses over meetings and host
// keys runs into one budget.
func TestOneBudgetAcrossMeetings(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Clock: newClock()})
	var meetings []string
	for i := 0; i < 5; i++ {
		mt := srv.createMeetingWith(t, fmt.Sprintf(`{"password":"secret %d"}`, i))
		srv.joinModerator(t, mt, "Mod")
		meetings = append(meetings, mt.MeetingID)
	}
	attacker := loop(2)
	for i, want := range []string{"wrong_password", "wrong_password", "wrong_password"} {
		if code := guessJoin(t, srv, attacker, nil, withPassword(meetings[i], "guess")); code != want {
			t.Fatalf("meeting %d: %q", i, code)
		}
	}
	if status := postFrom(t, srv, clientFrom(attacker), "Bearer testhost.guess"); status != http.StatusUnauthorized {
		t.Fatalf("host key guess: %d", status)
	}
	// That was the 4th wrong guess: the next one waits, wherever it goes, whatever it is.
	if code := guessJoin(t, srv, attacker, nil, withPassword(meetings[3], "secret 3")); code != "too_many_attempts" {
		t.Fatalf("a fresh meeting gave a fresh budget: %q", code)
	}
	// A right random secret (a host key, a moderator secret) is not held back: it
	// cannot be guessed, and a neighbour's guesses must not lock its holder out.
	if status := postFrom(t, srv, clientFrom(attacker), "Bearer testhost.guess2"); status != http.StatusTooManyRequests {
		t.Fatalf("wrong host key after the budget: %d", status)
	}
	if status := postFrom(t, srv, clientFrom(attacker), "Bearer "+testHostKey); status != http.StatusCreated {
		t.Fatalf("right host key after the budget: %d", status)
	}
	// Another address is untouched.
	if code := guessJoin(t, srv, loop(3), nil, withPassword(meetings[4], "secret 4")); code != "" {
		t.Fatalf("another address: %q", code)
	}
}

// TestConcurrentGuessesSerialized: 20 connections from one address guess at once; they
// are checked one at a time, so the waits hold: with no time passing only the free
// guesses and the one that sets the first wait are checked. (Each check costs a real
// argon2 run, so that unserialized checks would overlap.)
func TestConcurrentGuessesSerialized(t *testing.T) {
	h := secret.NewHasher(secret.Params{MemoryKiB: 8 * 1024, Time: 1, Threads: 1}, 4)
	srv := newTestServerWith(t, signaling.Config{Clock: newClock(), Hasher: h})
	mt := srv.createMeetingWith(t, `{"password":"correct horse battery"}`)
	srv.joinModerator(t, mt, "Mod")
	var conns []*testclient.Client
	for i := 0; i < 20; i++ {
		conns = append(conns, srv.dialFrom(t, loop(2)))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	start := make(chan struct{})
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_ = c.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Guesser", "password": fmt.Sprint("guess ", i)})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			code := "no answer"
			if m, err := c.Next(ctx); err == nil {
				var p struct{ Code string }
				_ = json.Unmarshal(m.Payload, &p)
				code = m.Type + ":" + p.Code
			}
			mu.Lock()
			outcomes[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if outcomes["error:wrong_password"] != secret.FreeFailures+1 || outcomes["error:too_many_attempts"] != 20-secret.FreeFailures-1 {
		t.Fatalf("20 concurrent guesses from one address: %v", outcomes)
	}
}

// TestSchoolBehindOneNAT: 30 people behind one address join at once with the right
// password; they queue and all get in.
func TestSchoolBehindOneNAT(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Clock: newClock()})
	mt := srv.createMeetingWith(t, `{"password":"class 7b"}`)
	srv.joinModerator(t, mt, "Teacher")
	var wg sync.WaitGroup
	codes := make(chan string, 30)
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- guessJoin(t, srv, loop(2), nil, withPassword(mt.MeetingID, "class 7b"))
		}()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != "" {
			t.Fatalf("a pupil with the right password was refused: %q", code)
		}
	}
}

// TestForwardedForIgnoredFromUntrustedPeer: behind -behind-proxy, X-Forwarded-For
// counts only from a trusted proxy, and only its right-most untrusted hop: a client
// cannot pick itself a fresh budget by forging the header.
func TestForwardedForIgnoredFromUntrustedPeer(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	srv := newTestServerWith(t, signaling.Config{Clock: newClock(), TrustForwardedFor: true, TrustedProxies: proxies})
	mt := srv.createMeetingWith(t, `{"password":"correct horse battery"}`)
	srv.joinModerator(t, mt, "Mod")
	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }

	// An untrusted peer forging a new address each time is still itself.
	for i := 0; i <= secret.FreeFailures; i++ {
		if code := guessJoin(t, srv, loop(5), xff(fmt.Sprintf("198.51.100.%d", i+1)), withPassword(mt.MeetingID, "guess")); code != "wrong_password" {
			t.Fatalf("guess %d: %q", i, code)
		}
	}
	if code := guessJoin(t, srv, loop(5), xff("198.51.100.99"), withPassword(mt.MeetingID, "correct horse battery")); code != "too_many_attempts" {
		t.Fatalf("a forged X-Forwarded-For bought a fresh budget: %q", code)
	}

	// Through the trusted proxy (127.0.0.1): the hop it appended is the client, whatever
	// the client wrote to its left.
	proxy := loop(1)
	for i := 0; i <= secret.FreeFailures; i++ {
		if code := guessJoin(t, srv, proxy, xff("203.0.113.1"), withPassword(mt.MeetingID, "guess")); code != "wrong_password" {
			t.Fatalf("forwarded guess %d: %q", i, code)
		}
	}
	if code := guessJoin(t, srv, proxy, xff("10.9.9.9, 203.0.113.1"), withPassword(mt.MeetingID, "correct horse battery")); code != "too_many_attempts" {
		t.Fatalf("forged left hop bought a fresh budget: %q", code)
	}
	// Another client of the same proxy is not held back.
	if code := guessJoin(t, srv, proxy, xff("203.0.113.1, 203.0.113.2"), withPassword(mt.MeetingID, "correct horse battery")); code != "" {
		t.Fatalf("another client behind the proxy: %q", code)
	}
}
