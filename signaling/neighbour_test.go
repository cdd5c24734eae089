package signaling_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"conclave/signaling"
)

// TestNeighbourCannotLockOutAHost: a school behind one NAT address. A pupil who
// needs no link at all sends wrong host keys (POST /api/meetings with any "Bearer
// x.y") until the address is locked out. The teacher at the same address still uses her
// right host key: a random secret cannot be guessed, so refusing a right one (as
// happened, unchecked, while the address was locked out) protected nothing and let a
// neighbour lock her out. A wrong host key from there is still refused (the right one
// then forgives the host-key guesses, as a right guess always did). Resumption secrets
// alike: TestResumeRefusals.
func TestNeighbourCannotLockOutAHost(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	srv := newTestServerWith(t, signaling.Config{Now: clock.Now})
	school := net.IPv4(127, 0, 0, 7)

	client := &http.Client{Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: school}}).DialContext,
	}}
	hostKey := func(key string) (int, time.Duration) {
		req, _ := http.NewRequest(http.MethodPost, srv.http.URL+"/api/meetings", strings.NewReader(`{"e2ee":false}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Close = true
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ra, _ := time.ParseDuration(resp.Header.Get("Retry-After") + "s")
		return resp.StatusCode, ra
	}
	// The pupil: wrong host keys, waiting out each delay, until locked out.
	for i := 0; i < 40; i++ {
		code, retry := hostKey("pupil.guess")
		if code == http.StatusTooManyRequests {
			if retry >= 10*time.Minute {
				break
			}
			clock.Advance(retry)
		}
	}

	if code, _ := hostKey("pupil.guess"); code != http.StatusTooManyRequests {
		t.Errorf("a wrong host key from the locked-out address: %d, want 429", code)
	}
	if code, _ := hostKey(testHostKey); code != http.StatusCreated {
		t.Errorf("the teacher's right host key, from the pupil's address: %d", code)
	}
}

// TestModeratorSecretGuessesStayThrottled: an address that guessed wrong at a meeting's
// moderator secret is throttled at it, right guess or not: a room's moderator secret
// may be one its host chose through the rooms API (only its length says it is random),
// so the way past the throttle that keeps neighbours from locking a moderator out is
// not a way to guess it faster. Another address, that never guessed at it, gets in.
func TestModeratorSecretGuessesStayThrottled(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Clock: newClock()})
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	guesser := loop(9)
	wrong := map[string]any{"meetingId": mt.MeetingID, "name": "G", "moderatorSecret": strings.Repeat("A", len(mt.ModeratorSecret))}
	right := map[string]any{"meetingId": mt.MeetingID, "name": "G", "moderatorSecret": mt.ModeratorSecret}
	for i := 0; ; i++ {
		code := guessJoin(t, srv, guesser, nil, wrong)
		if code == "too_many_attempts" {
			break
		}
		if code != "wrong_moderator_secret" || i > 10 {
			t.Fatalf("wrong guess %d: %q", i+1, code)
		}
	}
	if code := guessJoin(t, srv, guesser, nil, right); code != "too_many_attempts" {
		t.Fatalf("the right secret from the address that guessed at it: %q, want too_many_attempts", code)
	}
	if code := guessJoin(t, srv, loop(10), nil, right); code != "" {
		t.Fatalf("the right secret from another address: %q", code)
	}
}
