package signaling_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
	"conclave/internal/testclient"
	"conclave/secret"
	"conclave/signaling"
)

// Resuming a membership after a dropped connection (PROTOCOL.md, "Reconnecting"), with
// the grace period on a fake clock.

const testGrace = 30 * time.Second // below the pong wait, so no ping verdict interferes

type resumeFixture struct {
	srv     *testServer
	clock   *fakeclock.Clock
	meeting createdMeeting
	mod     *testclient.Client
}

// modSend sends a message of the moderator's.
func (f *resumeFixture) modSend(t *testing.T, typ string, payload any) {
	t.Helper()
	if _, err := f.mod.Send(typ, payload); err != nil {
		t.Fatal(err)
	}
}

// modHandled returns once the moderator's messages sent so far were handled: they are
// handled in order, and a mute of nobody sent behind them is refused.
func (f *resumeFixture) modHandled(t *testing.T) {
	t.Helper()
	f.modSend(t, "mute", map[string]any{"participantId": "p-nobody", "source": "microphone"})
	expectError(t, f.mod)
}

// newResumeFixture runs a server with a waiting room and a moderator in the meeting.
func newResumeFixture(t *testing.T) *resumeFixture {
	t.Helper()
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, ResumeGrace: testGrace, EmptyMeetingGrace: time.Minute})
	m := srv.createMeetingWith(t, `{}`)
	return &resumeFixture{srv: srv, clock: clock, meeting: m, mod: srv.joinModerator(t, m, "Mod")}
}

// participantPayload decodes a participant_* message's participant.
func participantOf(t *testing.T, m testclient.Message) signaling.ParticipantInfo {
	t.Helper()
	var p struct{ Participant signaling.ParticipantInfo }
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p.Participant
}

// dropAndSeeReconnecting cuts c's connection (no goodbye) and waits until watcher is
// told that c is reconnecting.
func dropAndSeeReconnecting(t *testing.T, c, watcher *testclient.Client) {
	t.Helper()
	id := c.ParticipantID
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	for {
		m, err := watcher.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %s to be reconnecting: %v", id, err)
		}
		switch m.Type {
		case "participant_left":
			t.Fatalf("a dropped member left instead of reconnecting: %s", m.Payload)
		case "participant_updated":
			if p := participantOf(t, m); p.ID == id && p.Reconnecting {
				return
			}
		}
	}
}

// resumeErr sends a resume on a new connection and returns the error code it gets.
func (f *resumeFixture) resumeErr(t *testing.T, id, secret string) (code string, close int) {
	t.Helper()
	c := f.srv.dial(t)
	if err := c.SendResume(f.meeting.MeetingID, id, secret, nil); err != nil {
		t.Fatal(err)
	}
	code, _ = expectError(t, c)
	<-c.Done()
	return code, c.CloseCode()
}

// resume takes id's membership back on a new connection.
func (f *resumeFixture) resume(t *testing.T, id, secret string) *testclient.Client {
	t.Helper()
	c := f.srv.dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := c.Resume(ctx, f.meeting.MeetingID, id, secret); err != nil {
		t.Fatalf("resume: %v", err)
	}
	return c
}

func resumedWelcome(t *testing.T, c *testclient.Client) (w struct {
	ParticipantID string
	Role          string
	Name          string
	Resumed       bool
	ResumeSecret  string
	Participants  []signaling.ParticipantInfo
}) {
	t.Helper()
	for _, m := range c.All() {
		if m.Type == "welcome" {
			if err := json.Unmarshal(m.Payload, &w); err != nil {
				t.Fatal(err)
			}
		}
	}
	return w
}

// TestResumeWithinGrace: a participant whose connection drops is shown to the others as
// reconnecting, never as a leave and a join; a new connection with the secret is the
// same participant (id, name, role), its media flows again, and the moderator did
// nothing.
func TestResumeWithinGrace(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id, sec := alice.ParticipantID, alice.ResumeSecret
	if len(sec) < 22 {
		t.Fatalf("welcome carries no usable resumption secret: %q", sec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := alice.Publish(ctx, "camera"); err != nil {
		t.Fatal(err)
	}
	dropAndSeeReconnecting(t, alice, f.mod)
	f.clock.Advance(testGrace - time.Second)

	back := f.resume(t, id, sec)
	w := resumedWelcome(t, back)
	// An end-to-end encrypted meeting's server holds no name (the one in join was dropped).
	if w.ParticipantID != id || w.Role != "participant" || w.Name != "" || !w.Resumed {
		t.Fatalf("resumed welcome: %+v", w)
	}
	if w.ResumeSecret == "" || w.ResumeSecret == sec {
		t.Fatal("a resume must issue a new secret")
	}
	m := expectType(t, f.mod, "participant_resumed")
	if p := participantOf(t, m); p.ID != id || p.Reconnecting || p.Name != "" {
		t.Fatalf("participant_resumed: %+v", p)
	}
	joins := 0
	for _, m := range f.mod.All() {
		if m.Type == "participant_left" {
			t.Fatalf("the moderator saw %s for a reconnect", m.Type)
		}
		if m.Type == "participant_joined" && participantOf(t, m).ID == id {
			joins++
		}
	}
	if joins != 1 {
		t.Fatalf("the moderator saw Alice join %d times", joins)
	}

	// Media: the resumed connection publishes again and the moderator receives it.
	pubs, err := back.Publish(ctx, "camera")
	if err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the camera to arrive again", func() bool {
		_ = pubs[0].Send([]byte("frame after the resume................................"))
		r := f.mod.Received(id, "camera")
		return r != nil && r.Count() > 0
	})

	// After another grace period it is still a member.
	f.clock.Advance(testGrace + time.Second)
	if _, err := back.Send("chat", map[string]string{"text": "still here"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, back, "chat")
}

// TestResumeModeratorKeepsRole: a moderator who comes back is a moderator: it gets the
// waiting list and may admit.
func TestResumeModeratorKeepsRole(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id, sec := f.mod.ParticipantID, f.mod.ResumeSecret
	dropAndSeeReconnecting(t, f.mod, alice)
	mod := f.resume(t, id, sec)
	if w := resumedWelcome(t, mod); w.Role != "moderator" || w.ParticipantID != id {
		t.Fatalf("resumed moderator: %+v", w)
	}
	expectType(t, mod, "waiting_list")
	bob := f.srv.knock(t, f.meeting.MeetingID, "Bob", nil)
	if _, err := mod.Send("admit", map[string]any{"participantId": waitingID(t, mod, "Bob")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := bob.AwaitWelcome(ctx); err != nil {
		t.Fatalf("the resumed moderator could not admit: %v", err)
	}
}

// TestResumeAfterGrace: once the grace period is over the member has left (the others
// see it), the secret is dead, and the person must knock again.
func TestResumeAfterGrace(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id, sec := alice.ParticipantID, alice.ResumeSecret
	dropAndSeeReconnecting(t, alice, f.mod)
	f.clock.Advance(testGrace)
	m := expectType(t, f.mod, "participant_left")
	if !jsonHas(m.Payload, id) {
		t.Fatalf("participant_left names someone else: %s", m.Payload)
	}
	if code, closeCode := f.resumeErr(t, id, sec); code != "resume_failed" || closeCode != 4401 {
		t.Fatalf("resume after the grace period: %s, close %d", code, closeCode)
	}
	f.srv.knock(t, f.meeting.MeetingID, "Alice", nil) // waits in the lobby like anyone
}

// TestResumeRefusals: a wrong secret, a spent one and another participant's are refused
// with resume_failed and change nothing: the member stays reconnecting and its own
// current secret still works.
func TestResumeRefusals(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	bob := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Bob")
	aliceID, first := alice.ParticipantID, alice.ResumeSecret
	dropAndSeeReconnecting(t, alice, f.mod)

	// Another participant's secret for Alice.
	if code, _ := f.resumeErr(t, aliceID, bob.ResumeSecret); code != "resume_failed" {
		t.Fatalf("another participant's secret: %s", code)
	}
	// A wrong secret of the right length, and one of the wrong length.
	wrong := []byte(first)
	wrong[0] ^= 1
	if code, _ := f.resumeErr(t, aliceID, string(wrong)); code != "resume_failed" {
		t.Fatalf("wrong secret: %s", code)
	}
	back := f.resume(t, aliceID, first)
	next := resumedWelcome(t, back).ResumeSecret
	// The page speaks on its resumed connection, so it got the welcome.
	if _, err := back.Send("chat", map[string]string{"text": "back"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, back, "chat")
	dropAndSeeReconnecting(t, back, f.mod)
	// The first secret was spent by the resume (single use).
	if code, _ := f.resumeErr(t, aliceID, first); code != "resume_failed" {
		t.Fatalf("a spent secret: %s", code)
	}
	for _, m := range f.mod.All() {
		if m.Type == "participant_left" {
			t.Fatalf("a refused resume changed the meeting: %s", m.Payload)
		}
	}
	third := resumedWelcome(t, f.resume(t, aliceID, next)).ResumeSecret

	// Wrong secrets are not counted (a resumption secret is random: there is nothing
	// to guess): however many, they throttle neither the address nor the right one.
	for i := range 2 * secret.LockoutAfter {
		if code, _ := f.resumeErr(t, aliceID, first); code != "resume_failed" {
			t.Fatalf("wrong secret %d: %s", i+1, code)
		}
	}
	f.resume(t, aliceID, third)
}

// TestResumeTakesOverLiveConnection: a resume while the server still holds the old
// connection (it has not noticed the drop yet) replaces it.
func TestResumeTakesOverLiveConnection(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	back := f.resume(t, alice.ParticipantID, alice.ResumeSecret)
	m := expectType(t, alice, "bye")
	if !jsonHas(m.Payload, "replaced") {
		t.Fatalf("old connection: %s", m.Payload)
	}
	expectType(t, f.mod, "participant_resumed")
	if w := resumedWelcome(t, back); w.ParticipantID != alice.ParticipantID {
		t.Fatalf("welcome: %+v", w)
	}
	if _, err := back.Send("chat", map[string]string{"text": "hi"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, f.mod, "chat")
}

// TestLeaveIsNotParked: a member who says goodbye leaves at once; its secret is dead.
func TestLeaveIsNotParked(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := alice.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	expectType(t, f.mod, "participant_left")
	if code, _ := f.resumeErr(t, alice.ParticipantID, alice.ResumeSecret); code != "resume_failed" {
		t.Fatalf("resume after leave: %s", code)
	}
}

func jsonHas(b []byte, s string) bool {
	return json.Valid(b) && strings.Contains(string(b), s)
}

// TestParkedMemberKeepsMeeting: a meeting whose only member dropped stays for the grace
// period even when empty meetings end at once, so that member (a moderator who reloads)
// finds it; once the grace period is over without a resume, it ends.
func TestParkedMemberKeepsMeeting(t *testing.T) {
	for _, comeBack := range []bool{true, false} {
		clock := newFakeClock()
		srv := newTestServerWith(t, signaling.Config{Clock: clock, ResumeGrace: testGrace})
		m := srv.createMeetingWith(t, `{}`)
		mod := srv.joinModerator(t, m, "Mod")
		mod.Close()
		conntest.Eventually(t, "the server to let go of the connection", func() bool {
			return srv.sig.Stats().Websockets == 0
		})
		if st := srv.sig.Stats(); st.Meetings != 1 || st.Participants != 1 {
			t.Fatalf("while parked: %+v", st)
		}
		if comeBack {
			clock.Advance(testGrace - time.Second) // the janitor runs meanwhile
			f := &resumeFixture{srv: srv, clock: clock, meeting: m}
			back := f.resume(t, mod.ParticipantID, mod.ResumeSecret)
			if w := resumedWelcome(t, back); w.Role != "moderator" {
				t.Fatalf("resumed as %q", w.Role)
			}
			continue
		}
		clock.Advance(testGrace)
		conntest.Eventually(t, "the meeting to end after the grace period", func() bool {
			return srv.sig.Stats().Meetings == 0
		})
	}
}

// TestEndedMeetingKeepsNoResume: a moderator ends the meeting while a member waits to
// resume: its membership (with its name) goes with the meeting at once, not when its
// grace period would have run out.
func TestEndedMeetingKeepsNoResume(t *testing.T) {
	f := newResumeFixture(t)
	a := f.srv.knock(t, f.meeting.MeetingID, "Ada", nil)
	waitingID(t, f.mod, "Ada")
	_, _ = f.mod.Send("admit_all", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.AwaitWelcome(ctx); err != nil {
		t.Fatal(err)
	}
	m := f.srv.sig.Registry().Get(f.meeting.MeetingID)
	dropAndSeeReconnecting(t, a, f.mod)
	_, _ = f.mod.Send("end_meeting", nil)
	if reason, _ := byeReason(t, f.mod); reason != "ended" {
		t.Fatalf("end: bye %q", reason)
	}
	if n := signaling.WaitingToResume(m); n != 0 {
		t.Fatalf("%d memberships still wait to resume in the ended meeting", n)
	}
}

// TestResumeWhoseWelcomeWasLost: a flaky link that goes again right as a resume is
// answered loses the welcome, and with it the new secret; the page still holds the
// one it resumed with and tries that again. It brings the member back (the new
// connection never showed that it got the new one), once: the new secret still works
// after it, the old one is then spent.
func TestResumeWhoseWelcomeWasLost(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id, first := alice.ParticipantID, alice.ResumeSecret
	dropAndSeeReconnecting(t, alice, f.mod)

	// The resume is answered, but the link goes before the page reads the welcome.
	lost := f.srv.dial(t)
	if err := lost.SendResume(f.meeting.MeetingID, id, first, nil); err != nil {
		t.Fatal(err)
	}
	expectType(t, lost, "welcome")
	expectType(t, f.mod, "participant_resumed")
	lost.ParticipantID = id
	dropAndSeeReconnecting(t, lost, f.mod)

	back := f.srv.dial(t)
	if err := back.SendResume(f.meeting.MeetingID, id, first, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		m, err := back.Next(ctx)
		if err != nil {
			t.Fatalf("no answer to the resume: %v", err)
		}
		if m.Type == "error" {
			t.Fatalf("the secret the page holds after a lost welcome: %s; the member is stranded until the grace ends", m.Payload)
		}
		if m.Type == "welcome" {
			break
		}
	}
	back.ParticipantID = id
	next := resumedWelcome(t, back).ResumeSecret
	expectType(t, f.mod, "participant_resumed")
	// The page got this welcome (it speaks on the connection): the first secret is spent.
	if _, err := back.Send("chat", map[string]string{"text": "back"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, back, "chat")
	dropAndSeeReconnecting(t, back, f.mod)
	if code, _ := f.resumeErr(t, id, first); code != "resume_failed" {
		t.Fatalf("the first secret after the page spoke on its resumed connection: %s", code)
	}
	f.resume(t, id, next)
}
