package signaling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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

// mutedAndAway admits Alice into a meeting where unmuting is not allowed, has the
// moderator mute her microphone, and drops her connection: she is parked with the mute.
func (f *resumeFixture) mutedAndAway(t *testing.T) *testclient.Client {
	t.Helper()
	f.modSend(t, "update_settings", map[string]any{"unmute": false})
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	f.modSend(t, "mute", map[string]any{"participantId": alice.ParticipantID, "source": "microphone"})
	expectType(t, alice, "media_command")
	dropAndSeeReconnecting(t, alice, f.mod)
	return alice
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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
	eventually(t, "the camera to arrive again", func() bool {
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

// TestResumeKeepsModeratorMutes: a reconnect does not lift a moderator's mute, and a mute
// sent while the member was away reaches it after its welcome.
func TestResumeKeepsModeratorMutes(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, ResumeGrace: testGrace})
	m := srv.createMeetingWith(t, `{"settings":{"unmute":false}}`)
	mod := srv.joinModerator(t, m, "Mod")
	f := &resumeFixture{srv: srv, clock: clock, meeting: m, mod: mod}
	alice := srv.admitted(t, mod, m.MeetingID, "Alice")
	if _, err := mod.Send("mute", map[string]any{"participantId": alice.ParticipantID, "source": "microphone"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, alice, "media_command")
	dropAndSeeReconnecting(t, alice, mod)
	if _, err := mod.Send("mute", map[string]any{"participantId": alice.ParticipantID, "source": "camera"}); err != nil {
		t.Fatal(err)
	}
	// A barrier: the moderator's session handles its messages in order, so once its
	// next one is refused the camera mute has been applied. Without it the resume could
	// overtake the mute, which would then arrive live, after the resume's own commands.
	bad, err := mod.Send("mute", map[string]any{"participantId": alice.ParticipantID, "source": "barrier"})
	if err != nil {
		t.Fatal(err)
	}
	if code, ref := expectError(t, mod); code != "invalid_field" || ref != bad {
		t.Fatalf("the barrier: error %s for %q, want invalid_field for %q", code, ref, bad)
	}
	back := f.resume(t, alice.ParticipantID, alice.ResumeSecret) // claims microphone and camera on
	// Its resume said the microphone was on (as a reloaded page that forgot the mute
	// would): it is told again that it is muted, and the others see it muted; then the
	// mute sent while it was away (the commands in the order they came).
	cmd := expectType(t, back, "media_command")
	if !jsonHas(cmd.Payload, "mute_microphone") {
		t.Fatalf("a resume claiming the muted microphone on: %s, want mute_microphone again", cmd.Payload)
	}
	if cmd = expectType(t, back, "media_command"); !jsonHas(cmd.Payload, "mute_camera") {
		t.Fatalf("the mute sent while away: %s", cmd.Payload)
	}
	if p := participantOf(t, expectType(t, mod, "participant_resumed")); p.ID != alice.ParticipantID || p.Media.Mic {
		t.Fatalf("the others see the resumed member as %+v, want its microphone off", p)
	}
	for _, media := range []map[string]bool{{"mic": true}, {"camera": true}} {
		if _, err := back.Send("media_state", media); err != nil {
			t.Fatal(err)
		}
		if code, _ := expectError(t, back); code != "not_allowed" {
			t.Fatalf("unmuting %v after a reconnect: %s, want not_allowed", media, code)
		}
	}
}

// TestResumeRepeatsMuteThatHolds: a resume that says the muted microphone is off (a
// reloaded page that kept its state but forgot why) is told of the mute again, so that
// it does not offer an unmute the server refuses; after an ask_unmute it is not.
func TestResumeRepeatsMuteThatHolds(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, ResumeGrace: testGrace})
	m := srv.createMeetingWith(t, `{"settings":{"unmute":false}}`)
	mod := srv.joinModerator(t, m, "Mod")
	alice := srv.admitted(t, mod, m.MeetingID, "Alice")
	if _, err := mod.Send("mute", map[string]any{"participantId": alice.ParticipantID, "source": "microphone"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, alice, "media_command")
	resumeMicOff := func(id, secret string) *testclient.Client {
		t.Helper()
		c := srv.dial(t)
		if err := c.SendResume(m.MeetingID, id, secret, map[string]any{"media": map[string]bool{"mic": false, "camera": true}}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.AwaitWelcome(ctx); err != nil {
			t.Fatalf("resume: %v", err)
		}
		return c
	}
	dropAndSeeReconnecting(t, alice, mod)
	back := resumeMicOff(alice.ParticipantID, alice.ResumeSecret)
	if cmd := expectType(t, back, "media_command"); !jsonHas(cmd.Payload, "mute_microphone") {
		t.Fatalf("after a resume under a mute: %s, want mute_microphone again", cmd.Payload)
	}

	// Asked to unmute, then away and back: the request stands, no mute is repeated.
	if _, err := mod.Send("ask_unmute", map[string]any{"participantId": alice.ParticipantID}); err != nil {
		t.Fatal(err)
	}
	if cmd := expectType(t, back, "media_command"); !jsonHas(cmd.Payload, "ask_unmute") {
		t.Fatalf("ask_unmute: %s", cmd.Payload)
	}
	secret := resumedWelcome(t, back).ResumeSecret
	back.ParticipantID = alice.ParticipantID
	dropAndSeeReconnecting(t, back, mod)
	again := resumeMicOff(alice.ParticipantID, secret)
	if _, err := again.Send("no_such_type", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	expectError(t, again)
	for _, msg := range again.All() {
		if msg.Type == "media_command" {
			t.Fatalf("a member asked to unmute got %s after its resume", msg.Payload)
		}
	}
	if _, err := again.Send("media_state", map[string]bool{"mic": true, "camera": true}); err != nil {
		t.Fatal(err)
	}
	if p := participantOf(t, expectType(t, mod, "participant_updated")); !p.Media.Mic {
		t.Fatalf("unmuting when asked, after a resume: the others see %+v", p)
	}
}

// TestResumeLiftsMuteWhereAllowed: where participants may unmute themselves, a resume
// whose media says the muted microphone is on is taken at its word, as a media_state
// would be: the others see it on and no mute comes back.
func TestResumeLiftsMuteWhereAllowed(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, ResumeGrace: testGrace})
	m := srv.createMeetingWith(t, `{"settings":{"unmute":true}}`)
	mod := srv.joinModerator(t, m, "Mod")
	f := &resumeFixture{srv: srv, clock: clock, meeting: m, mod: mod}
	alice := srv.admitted(t, mod, m.MeetingID, "Alice")
	if _, err := mod.Send("mute", map[string]any{"participantId": alice.ParticipantID, "source": "microphone"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, alice, "media_command")
	dropAndSeeReconnecting(t, alice, mod)
	back := f.resume(t, alice.ParticipantID, alice.ResumeSecret) // claims microphone and camera on
	if p := participantOf(t, expectType(t, mod, "participant_resumed")); !p.Media.Mic {
		t.Fatalf("the others see the resumed member as %+v, want its microphone on", p)
	}
	// A request that gets an answer: everything the server sent before it is in by then.
	if _, err := back.Send("no_such_type", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	expectError(t, back)
	for _, msg := range back.All() {
		if msg.Type == "media_command" {
			t.Fatalf("a resume allowed to unmute got %s", msg.Payload)
		}
	}
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
		eventually(t, "the server to let go of the connection", func() bool {
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
		eventually(t, "the meeting to end after the grace period", func() bool {
			return srv.sig.Stats().Meetings == 0
		})
	}
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
	eventually(t, "Bob's first subscribe offer", func() bool {
		_ = pubs[0].Send([]byte("a camera frame............................................"))
		return len(ufrags()) > 0
	})
	first := ufrags()[0]
	if _, err := bob.Send("ice_restart", map[string]string{"pc": "subscribe"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a subscribe offer with new ICE credentials", func() bool {
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

// chatBurst sends n chats on c and counts those relayed (echoed to it) and those
// refused.
func chatBurst(t *testing.T, c *testclient.Client, n int) (relayed, refused int) {
	t.Helper()
	refs := map[string]bool{}
	for range n {
		id, err := c.Send("chat", map[string]any{"text": "hello"})
		if err != nil {
			t.Fatal(err)
		}
		refs[id] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(refs) > 0 {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !refs[m.Ref] {
			continue
		}
		delete(refs, m.Ref)
		switch m.Type {
		case "chat":
			relayed++
		case "error":
			refused++
		}
	}
	return relayed, refused
}

// TestResumeKeepsTheRateLimits: a member that resumes on a new connection (the old
// one replaced, or dropped) goes on with the rate limits it had: with the clock
// standing still, the five resumes its own limit allows give it no chat beyond the one
// burst.
func TestResumeKeepsTheRateLimits(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id := alice.ParticipantID
	total, _ := chatBurst(t, alice, 25)
	c, sec := alice, alice.ResumeSecret
	for i := range 5 {
		if i%2 == 1 {
			dropAndSeeReconnecting(t, c, f.mod)
		}
		c = f.resume(t, id, sec)
		sec = resumedWelcome(t, c).ResumeSecret
		relayed, _ := chatBurst(t, c, 5)
		total += relayed
	}
	const burst = 20 // the chat burst (session.go, fanoutBurst)
	if total != burst {
		t.Fatalf("%d chats relayed with the clock standing still, want the burst of %d", total, burst)
	}
}

// TestParkedMemberKeepsEachCommandOnce: moderator commands for a parked member are
// kept once each, in the order they last came: a stream of them neither grows the
// server's memory nor, on the resume, overflows the member's queue before its welcome
// (and its next resume secret) is out; the mute still holds after the resume.
func TestParkedMemberKeepsEachCommandOnce(t *testing.T) {
	f := newResumeFixture(t)
	f.modSend(t, "update_settings", map[string]any{"unmute": false})
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id, sec := alice.ParticipantID, alice.ResumeSecret
	dropAndSeeReconnecting(t, alice, f.mod)
	for range 200 {
		f.modSend(t, "mute", map[string]any{"participantId": id, "source": "microphone"})
	}
	// The moderator's messages are handled in order: an error for this one means every
	// mute before it was handled.
	f.modHandled(t)
	c := f.resume(t, id, sec)
	if resumedWelcome(t, c).ResumeSecret == "" {
		t.Fatal("no resume secret in the welcome")
	}
	ref, err := c.Send("media_state", map[string]bool{"mic": true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("unmuting after the resume was not refused: %v (close %d)", err, c.CloseCode())
		}
		if m.Type == "error" && m.Ref == ref {
			return
		}
	}
}

// TestAskToUnmuteWhileAwayHolds: a moderator mutes a member (unmuting not allowed),
// the member's connection drops, and the moderator asks it to unmute while it is away.
// On its resume the mute it carried is told again, then the ask, the last command,
// which holds: the member may unmute.
func TestAskToUnmuteWhileAwayHolds(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.mutedAndAway(t)
	f.modSend(t, "ask_unmute", map[string]any{"participantId": alice.ParticipantID})
	f.modHandled(t)
	back := f.resume(t, alice.ParticipantID, alice.ResumeSecret)
	for _, want := range []string{"mute_microphone", "ask_unmute"} {
		if cmd := expectType(t, back, "media_command"); !jsonHas(cmd.Payload, want) {
			t.Fatalf("on the resume: %s, want %s", cmd.Payload, want)
		}
	}
	if _, err := back.Send("media_state", map[string]bool{"mic": true}); err != nil {
		t.Fatal(err)
	}
	if p := participantOf(t, expectType(t, f.mod, "participant_updated")); p.ID != alice.ParticipantID || !p.Media.Mic {
		t.Fatalf("after the ask, the member unmuted: the others see %+v", p)
	}
}

// TestParkedMuteHoldsAgainstAnUnmuteRightBehindTheResume: a moderator mutes a member
// while it is away (unmuting not allowed); the member resumes and sends media_state
// with the microphone on right behind its resume, before its welcome. The mute applies
// before that message is read, so the unmute is refused every time: applied as a
// queued event, the mute raced the message (half the time, the message went first and
// unmuted past it).
func TestParkedMuteHoldsAgainstAnUnmuteRightBehindTheResume(t *testing.T) {
	f := newResumeFixture(t)
	f.modSend(t, "update_settings", map[string]any{"unmute": false})
	for round := range 12 {
		c := f.srv.admitted(t, f.mod, f.meeting.MeetingID, fmt.Sprintf("Member %d", round))
		id, sec := c.ParticipantID, c.ResumeSecret
		dropAndSeeReconnecting(t, c, f.mod)
		f.modSend(t, "mute", map[string]any{"participantId": id, "source": "microphone"})
		// The moderator's messages are handled in order: an error for this one means
		// the mute before it was handled.
		f.modHandled(t)
		r := f.srv.dial(t)
		if err := r.SendResume(f.meeting.MeetingID, id, sec, nil); err != nil {
			t.Fatal(err)
		}
		ref, err := r.Send("media_state", map[string]bool{"mic": true})
		if err != nil {
			t.Fatal(err)
		}
		// A probe behind it, refused too (a participant may not mute others): its error
		// comes after media_state's answer, so the verdict is the order, not a wait.
		probe, err := r.Send("mute", map[string]any{"participantId": f.mod.ParticipantID, "source": "microphone"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		welcomed, code := false, ""
		for {
			m, err := r.Next(ctx)
			if err != nil {
				cancel()
				t.Fatalf("round %d: no answer to the probe: %v (close %d)", round, err, r.CloseCode())
			}
			welcomed = welcomed || m.Type == "welcome"
			if m.Type != "error" {
				continue
			}
			var e struct{ Code string }
			if err := json.Unmarshal(m.Payload, &e); err != nil {
				t.Fatal(err)
			}
			if m.Ref == ref {
				code = e.Code
			}
			if m.Ref == probe {
				break
			}
		}
		cancel()
		if !welcomed || code != "not_allowed" {
			t.Fatalf("round %d: the unmute right behind the resume: welcomed %v, refused with %q; want welcomed, not_allowed", round, welcomed, code)
		}
		r.Close()
	}
}

// TestResumesAreRateLimited: a membership resumes five times at once, then once every
// 10 s: the sixth resume waits, its secret unspent and the connection it would replace
// untouched. One whose connection closes while it waits changes nothing, also once its
// wait is over: the same secret still brings the member back, and one that waits goes
// through once the clock has moved on.
func TestResumesAreRateLimited(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id := alice.ParticipantID
	c, sec := alice, alice.ResumeSecret
	for range 5 {
		c = f.resume(t, id, sec)
		sec = resumedWelcome(t, c).ResumeSecret
	}
	delayed := func(n uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for f.srv.sig.Stats().ResumesDelayed < n {
			if time.Now().After(deadline) {
				t.Fatalf("resumes delayed: %d, want %d", f.srv.sig.Stats().ResumesDelayed, n)
			}
			time.Sleep(time.Millisecond)
		}
	}

	// A sixth resume waits; it gives up (its connection closes) before its time.
	quitter := f.srv.dial(t)
	if err := quitter.SendResume(f.meeting.MeetingID, id, sec, nil); err != nil {
		t.Fatal(err)
	}
	delayed(1)
	open := f.srv.sig.Stats().Websockets
	quitter.Close()
	eventually(t, "the server to see the closed socket", func() bool { return f.srv.sig.Stats().Websockets < open })
	// Its wait over, the closed one takes nothing: the live connection still chats, and
	// the moderator hears it.
	f.clock.Advance(10 * time.Second)
	if _, err := c.Send("chat", map[string]string{"text": "still here"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, c, "chat")
	expectType(t, f.mod, "chat")
	for _, m := range c.All() {
		if m.Type == "bye" {
			t.Fatalf("a resume whose socket had closed replaced the connection: %s", m.Payload)
		}
	}

	// The 10 s gave the membership one resume: the member's own secret takes it at once.
	back := f.resume(t, id, sec)
	if m := expectType(t, c, "bye"); !jsonHas(m.Payload, "replaced") {
		t.Fatalf("old connection: %s", m.Payload)
	}
	expectType(t, f.mod, "participant_resumed")

	// The next waits, and gets its welcome once the clock has moved 10 s more.
	next := f.srv.dial(t)
	if err := next.SendResume(f.meeting.MeetingID, id, resumedWelcome(t, back).ResumeSecret, nil); err != nil {
		t.Fatal(err)
	}
	delayed(2)
	f.clock.Advance(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := next.AwaitWelcome(ctx); err != nil {
		t.Fatalf("the delayed resume got no welcome: %v (close %d)", err, next.CloseCode())
	}
	if w := resumedWelcome(t, next); !w.Resumed || w.ParticipantID != id {
		t.Fatalf("welcome %+v, want the resumed membership %s", w, id)
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

// TestParkedCommandsSayWhoGaveThem: a moderator's commands that came while a member
// was away are told on its resume as they would have been told at once, with who gave
// them and whether they were part of an action on everyone (kept as bare commands,
// they went out with neither).
func TestParkedCommandsSayWhoGaveThem(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	dropAndSeeReconnecting(t, alice, f.mod)
	f.modSend(t, "mute", map[string]any{"participantId": alice.ParticipantID, "source": "camera"})
	f.modSend(t, "mute_all", map[string]any{"source": "microphone"})
	f.modHandled(t)
	back := f.resume(t, alice.ParticipantID, alice.ResumeSecret)
	want := []signaling.MediaCommandPayload{
		{Command: "mute_camera", By: f.mod.ParticipantID},
		{Command: "mute_microphone", By: f.mod.ParticipantID, All: true},
	}
	for _, w := range want {
		var got signaling.MediaCommandPayload
		if err := json.Unmarshal(expectType(t, back, "media_command").Payload, &got); err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Fatalf("on the resume: %+v, want %+v", got, w)
		}
	}
}

// TestMuteAllWhileAwayIsToldOnce: a member whose microphone a moderator had stopped
// drops, and a moderator mutes everyone while it is away. On its resume it is told
// the mute once, as "everyone was muted": the stop it carried is not told again
// before it, unlabelled (a client tells a known command once, so the second, with its
// all, would not show).
func TestMuteAllWhileAwayIsToldOnce(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.mutedAndAway(t)
	f.modSend(t, "mute_all", map[string]any{"source": "microphone"})
	f.modHandled(t)
	back := f.resume(t, alice.ParticipantID, alice.ResumeSecret)
	// A probe behind the resume: its error comes after every command of the resume.
	if _, err := back.Send("mute", map[string]any{"participantId": f.mod.ParticipantID, "source": "microphone"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var told []signaling.MediaCommandPayload
	for {
		m, err := back.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == "error" {
			break
		}
		if m.Type == "media_command" {
			var p signaling.MediaCommandPayload
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				t.Fatal(err)
			}
			told = append(told, p)
		}
	}
	want := []signaling.MediaCommandPayload{{Command: "mute_microphone", By: f.mod.ParticipantID, All: true}}
	if !slices.Equal(told, want) {
		t.Fatalf("on the resume: %+v, want %+v", told, want)
	}
}

// TestScreenClaimNeedsThePermission: a member whose join or resume says it shares its
// screen in a meeting where it may not is shown to the others without a share (a
// media_state saying so is refused; the roster would show a share never forwarded). A
// moderator may, and is shown with it.
func TestScreenClaimNeedsThePermission(t *testing.T) {
	f := newResumeFixture(t) // default settings: participants may not share their screens
	sharing := map[string]any{"media": map[string]any{"mic": true, "camera": true, "screen": true}}
	c := f.srv.knock(t, f.meeting.MeetingID, "Alice", sharing)
	f.modSend(t, "admit", map[string]any{"participantId": waitingID(t, f.mod, "Alice")})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.AwaitWelcome(ctx); err != nil {
		t.Fatal(err)
	}
	joined := participantOf(t, expectType(t, f.mod, "participant_joined"))
	if want := (signaling.MediaState{Mic: true, Camera: true}); joined.Media != want {
		t.Errorf("joined with a screen it may not share: %+v, want %+v", joined.Media, want)
	}

	dropAndSeeReconnecting(t, c, f.mod)
	back := f.srv.dial(t)
	if err := back.SendResume(f.meeting.MeetingID, c.ParticipantID, c.ResumeSecret, sharing); err != nil {
		t.Fatal(err)
	}
	resumed := participantOf(t, expectType(t, f.mod, "participant_resumed"))
	if want := (signaling.MediaState{Mic: true, Camera: true}); resumed.Media != want {
		t.Errorf("resumed with a screen it may not share: %+v, want %+v", resumed.Media, want)
	}

	mod2 := f.srv.dial(t)
	if err := mod2.JoinWith(ctx, map[string]any{"meetingId": f.meeting.MeetingID, "name": "Mod2", "moderatorSecret": f.meeting.ModeratorSecret, "media": sharing["media"]}); err != nil {
		t.Fatal(err)
	}
	if p := participantOf(t, expectType(t, f.mod, "participant_joined")); !p.Media.Screen {
		t.Errorf("a moderator's share was dropped: %+v", p.Media)
	}
}

// TestStoppedScreenOverAResume: a screen share a moderator stopped, whose member's
// client never answered (or lost the command as its connection dropped), resumes with
// screen: true. With the permission to share it is lifted, as a media_state saying so
// would lift it: shown sharing and forwarded. Without, it stays stopped and is shown
// stopped. Never shown sharing while the server stops it.
func TestStoppedScreenOverAResume(t *testing.T) {
	for _, permitted := range []bool{true, false} {
		f := newResumeFixture(t)
		f.modSend(t, "update_settings", map[string]any{"screenShare": true})
		expectType(t, f.mod, "settings")
		sharing := map[string]any{"media": map[string]any{"mic": true, "camera": true, "screen": true}}
		c := f.srv.knock(t, f.meeting.MeetingID, "Alice", sharing)
		f.modSend(t, "admit", map[string]any{"participantId": waitingID(t, f.mod, "Alice")})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.AwaitWelcome(ctx); err != nil {
			t.Fatal(err)
		}
		expectType(t, f.mod, "participant_joined")
		f.modSend(t, "stop_screen_share", map[string]any{"participantId": c.ParticipantID})
		if p := participantOf(t, expectType(t, f.mod, "participant_updated")); p.Media.Screen {
			t.Fatalf("after stop_screen_share: %+v", p.Media)
		}
		expectType(t, c, "media_command") // and the client does not answer
		dropAndSeeReconnecting(t, c, f.mod)
		if !permitted {
			f.modSend(t, "update_settings", map[string]any{"screenShare": false})
			expectType(t, f.mod, "settings")
		}
		back := f.srv.dial(t)
		if err := back.SendResume(f.meeting.MeetingID, c.ParticipantID, c.ResumeSecret, sharing); err != nil {
			t.Fatal(err)
		}
		if err := back.AwaitWelcome(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		shown := participantOf(t, expectType(t, f.mod, "participant_resumed")).Media.Screen
		blocked := signaling.SourceBlocked(f.srv.sig, f.meeting.MeetingID, c.ParticipantID, "screen")
		if shown != permitted || blocked == permitted {
			t.Errorf("permitted %v: shown sharing %v, stopped %v", permitted, shown, blocked)
		}
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
