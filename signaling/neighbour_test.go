package signaling_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"conclave/secret"
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

// TestNeighbourCannotLockOutAModerator: a moderator secret the server made (a one-off
// meeting's, a room's whose host left it to the server, or one a rotation made) is
// random like a host key, so a pupil behind the teacher's NAT address who guessed at it
// until the address was locked out does not keep the teacher out: her right secret gets
// in at once. A wrong guess from there is still refused.
func TestNeighbourCannotLockOutAModerator(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Clock: newClock()})
	oneOff := srv.createMeetingWith(t, `{"e2ee":false}`)
	room := srv.createRoom(t, `{"e2ee":false}`)
	chosen := srv.createRoom(t, `{"e2ee":false,"moderatorSecret":"`+strings.Repeat("c", 22)+`"}`)
	var rotated roomCreated
	srv.apiJSON(t, http.MethodPost, "/api/rooms/"+chosen.Room.ID+"/rotate", `{}`, http.StatusOK, &rotated)
	// Prepared rooms: the host's browser derived their moderator secrets (32 bytes),
	// at creation and at a rotation.
	derived := secret.Random(32)
	prepared := srv.createRoom(t, `{"e2ee":false,"moderatorSecret":"`+derived+`"}`)
	toRotate := srv.createRoom(t, `{"e2ee":false,"moderatorSecret":"`+secret.Random(32)+`"}`)
	var rotatedDerived roomCreated
	derivedAgain := secret.Random(32)
	srv.apiJSON(t, http.MethodPost, "/api/rooms/"+toRotate.Room.ID+"/rotate", `{"moderatorSecret":"`+derivedAgain+`"}`, http.StatusOK, &rotatedDerived)
	for i, c := range []struct{ name, meeting, secret string }{
		{"one-off meeting", oneOff.MeetingID, oneOff.ModeratorSecret},
		{"room", room.Room.ID, room.ModeratorSecret},
		{"room rotated to a made secret", rotated.Room.ID, rotated.ModeratorSecret},
		{"prepared room", prepared.Room.ID, derived},
		{"prepared room rotated", rotatedDerived.Room.ID, derivedAgain},
	} {
		if c.secret == "" {
			t.Fatalf("%s: no moderator secret made", c.name)
		}
		school := loop(20 + i)
		lockOutAt(t, srv, school, c.meeting, len(c.secret))
		wrong := map[string]any{"meetingId": c.meeting, "name": "P", "moderatorSecret": strings.Repeat("A", len(c.secret))}
		if code := guessJoin(t, srv, school, nil, wrong); code != "too_many_attempts" {
			t.Errorf("%s: a wrong guess from the locked-out address: %q", c.name, code)
		}
		right := map[string]any{"meetingId": c.meeting, "name": "T", "moderatorSecret": c.secret}
		if code := guessJoin(t, srv, school, nil, right); code != "" {
			t.Errorf("%s: the teacher's right secret from the pupil's address: %q", c.name, code)
		}
	}
}

// lockOutAt guesses wrong at meeting's moderator secret from local until refused.
func lockOutAt(t *testing.T, srv *testServer, local net.IP, meeting string, n int) {
	t.Helper()
	wrong := map[string]any{"meetingId": meeting, "name": "G", "moderatorSecret": strings.Repeat("A", n)}
	for i := 0; ; i++ {
		code := guessJoin(t, srv, local, nil, wrong)
		if code == "too_many_attempts" {
			return
		}
		if code != "wrong_moderator_secret" || i > 10 {
			t.Fatalf("wrong guess %d: %q", i+1, code)
		}
	}
}

// TestModeratorSecretGuessesStayThrottled: an address that guessed wrong at a moderator
// secret a host's client chose (a room's derived keys: only its length says it is
// random) is throttled at it, right guess or not, so the way past the throttle for
// secrets the server made is not a way to guess a chosen one faster. Another address,
// that never guessed at it, gets in.
func TestModeratorSecretGuessesStayThrottled(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Clock: newClock()})
	chosen := strings.Repeat("m", 22)
	room := srv.createRoom(t, `{"e2ee":false,"moderatorSecret":"`+chosen+`"}`)
	made := srv.createRoom(t, `{"e2ee":false}`)
	var rotated roomCreated
	srv.apiJSON(t, http.MethodPost, "/api/rooms/"+made.Room.ID+"/rotate", `{"moderatorSecret":"`+strings.Repeat("r", 22)+`"}`, http.StatusOK, &rotated)
	// 43 characters that are not canonical base64url of 32 bytes (the last one carries
	// bits past the 256th), and 42 that are: not a derived secret's form.
	notDerived := strings.Repeat("m", 43)
	short := secret.Random(32)[:42]
	roomND := srv.createRoom(t, `{"e2ee":false,"moderatorSecret":"`+notDerived+`"}`)
	roomShort := srv.createRoom(t, `{"e2ee":false,"moderatorSecret":"`+short+`"}`)
	for i, c := range []struct{ name, meeting, secret string }{
		{"chosen", room.Room.ID, chosen},
		{"rotated to a chosen one", rotated.Room.ID, strings.Repeat("r", 22)},
		{"43 characters, not canonical", roomND.Room.ID, notDerived},
		{"42 characters", roomShort.Room.ID, short},
	} {
		guesser := loop(30 + 2*i)
		lockOutAt(t, srv, guesser, c.meeting, len(c.secret))
		right := map[string]any{"meetingId": c.meeting, "name": "G", "moderatorSecret": c.secret}
		if code := guessJoin(t, srv, guesser, nil, right); code != "too_many_attempts" {
			t.Errorf("%s: the right secret from the address that guessed at it: %q, want too_many_attempts", c.name, code)
		}
		if code := guessJoin(t, srv, loop(31+2*i), nil, right); code != "" {
			t.Errorf("%s: the right secret from another address: %q", c.name, code)
		}
	}
}

// TestStaleResumesAreNotGuesses: after a restart (or a meeting's end) every member's page
// resumes, and a resume of a meeting that is gone, or of a membership it does not hold,
// guesses at nothing: it is refused without counting, so that a class behind one address
// does not throttle itself, its teacher's moderator secret (a room's, which waits its
// turn) with it.
func TestStaleResumesAreNotGuesses(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Clock: newClock()})
	chosen := strings.Repeat("m", 22)
	room := srv.createRoom(t, `{"e2ee":false,"moderatorSecret":"`+chosen+`"}`)
	teacher := map[string]any{"meetingId": room.Room.ID, "name": "T", "moderatorSecret": chosen}
	resumes := func(school net.IP) {
		t.Helper()
		for i := 0; i < 2*secret.LockoutAfter; i++ {
			meeting := room.Room.ID // a room; its meeting not open, or open without these members
			if i%2 == 1 {
				meeting = strings.Repeat("g", 22) // no room at all
			}
			c := srv.dialFrom(t, school)
			if err := c.SendResume(meeting, fmt.Sprintf("p-%016x", i), strings.Repeat("s", 43), nil); err != nil {
				t.Fatal(err)
			}
			if code, _ := expectError(t, c); code != "resume_failed" {
				t.Fatalf("stale resume %d: %q", i+1, code)
			}
		}
	}
	resumes(loop(40)) // the server restarted: no meeting open
	if code := guessJoin(t, srv, loop(40), nil, teacher); code != "" {
		t.Fatalf("the teacher after her class's stale resumes: %q", code)
	}
	resumes(loop(41)) // the meeting open, none of these its members
	if code := guessJoin(t, srv, loop(41), nil, teacher); code != "" {
		t.Fatalf("the teacher after resumes of memberships the meeting does not hold: %q", code)
	}
}

// TestResumeAnswersDoNotTellWhoIsIn: a resume naming a member of the meeting and one
// naming nobody get the same answer and cost the address the same (nothing), below its
// budget and throttled: otherwise anyone who once saw a participant id (a removed
// member) could ask whether that person is in the meeting right now.
func TestResumeAnswersDoNotTellWhoIsIn(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	wrong := strings.Repeat("s", 43)
	for i := range secret.LockoutAfter + 5 {
		member, _ := f.resumeErr(t, alice.ParticipantID, wrong)
		nobody, _ := f.resumeErr(t, "p-0123456789abcdef", wrong)
		if member != "resume_failed" || nobody != "resume_failed" {
			t.Fatalf("probe %d: a resume of a member: %q, of nobody: %q", i+1, member, nobody)
		}
	}
	// Throttled by other guesses (wrong moderator secrets), alike again.
	mod := map[string]any{"meetingId": f.meeting.MeetingID, "name": "G", "moderatorSecret": strings.Repeat("A", len(f.meeting.ModeratorSecret))}
	for i := 0; guessJoin(t, f.srv, loop(1), nil, mod) != "too_many_attempts"; i++ {
		if i > 10 {
			t.Fatal("the address was never throttled")
		}
	}
	member, _ := f.resumeErr(t, alice.ParticipantID, wrong)
	nobody, _ := f.resumeErr(t, "p-0123456789abcdef", wrong)
	if member != "too_many_attempts" || nobody != "too_many_attempts" {
		t.Fatalf("throttled: a resume of a member: %q, of nobody: %q", member, nobody)
	}
}
