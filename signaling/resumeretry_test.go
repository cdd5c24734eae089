package signaling_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/sfu"
	"conclave/signaling"
)

// TestResumeTriedAgainBeforeTheFirstIsWelcomed: a page resumes, and its path goes again
// while the server sets that resume up (its welcome not yet out: here held at its ICE
// servers; on a real server the connection it replaces letting go, or the media being
// set up). The server does not notice that connection's end (a dead path sends no
// close), the page does (its own wait for the welcome, or the close it sees) and tries
// again on a new connection with the secret it holds, the only one it has: no welcome
// brought another. That resume takes the membership over from the first, whose welcome
// nobody will read, as a resume takes it from a connection the server still holds. It
// was refused with resume_failed, the secret spent by a claim no page could finish, so
// the page gave up and its person was at "Disconnected", to knock again. A resume on a
// connection taken before the one under way (the page's earlier attempt, read late) is
// still refused, even when the server's handler for that connection was held between
// answering its handshake and taking it in (a loaded machine's scheduling: the CI run of
// 2026-12-07 got the older connection taken after the newer one, and its resume won).
func TestResumeTriedAgainBeforeTheFirstIsWelcomed(t *testing.T) {
	gate := newGateICE()
	clock := newFakeClock()
	hold := &handshakeHold{from: kim4Addr, release: make(chan struct{}), answered: make(chan struct{})}
	t.Cleanup(hold.open)
	srv := newTestServerWrapped(t, signaling.Config{Clock: clock, ResumeGrace: testGrace, EmptyMeetingGrace: time.Minute, ICE: gate},
		sfu.Config{NoBandwidthEstimation: true}, func(l net.Listener) net.Listener { return &holdingListener{Listener: l, hold: hold} })
	t.Cleanup(gate.open) // before the server's shutdown (cleanups run last first)
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	alice := srv.admitted(t, mod, mt.MeetingID, "Alice")
	id, sec := alice.ParticipantID, alice.ResumeSecret
	dropAndSeeReconnecting(t, alice, mod)

	// The first resume: held between its media and its welcome.
	gate.armed.Store(true)
	first := srv.dialFrom(t, net.ParseIP(kim2Addr))
	if err := first.SendResume(mt.MeetingID, id, sec, nil); err != nil {
		t.Fatal(err)
	}
	gate.awaitHeld(t, "the first resume")

	// A connection the page opened before its last (its resume read late, after the
	// page gave it up) must not take the membership from the one it tries on now.
	// Its handler is held after answering the handshake until the page's last
	// connection is judged.
	stale := srv.dialFrom(t, net.ParseIP(kim4Addr))
	<-hold.answered
	// The page tries again with the same secret on a new connection.
	again := srv.dialFrom(t, net.ParseIP(kim3Addr))
	if err := again.SendResume(mt.MeetingID, id, sec, nil); err != nil {
		t.Fatal(err)
	}
	// Judged while the first is still held: refused, or holding the membership.
	conntest.Eventually(t, "the resume tried again judged", func() bool {
		return len(again.All()) > 0 || signaling.MembershipClaimedBy(srv.sig, mt.MeetingID, id) == kim3Addr
	})
	for _, m := range again.All() {
		if m.Type == "error" {
			t.Fatalf("the resume tried again while the first waited for its welcome was refused: %s", m.Payload)
		}
	}
	hold.open()
	if err := stale.SendResume(mt.MeetingID, id, sec, nil); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the older connection's resume judged", func() bool {
		return len(stale.All()) > 0 || signaling.MembershipClaimedBy(srv.sig, mt.MeetingID, id) == kim4Addr
	})
	if by := signaling.MembershipClaimedBy(srv.sig, mt.MeetingID, id); by == kim4Addr {
		t.Fatalf("a resume on a connection older than the one under way took the membership")
	}
	if code, _ := expectError(t, stale); code != "resume_failed" {
		t.Fatalf("a resume on a connection older than the one under way: %s, want resume_failed", code)
	}
	if by := signaling.MembershipClaimedBy(srv.sig, mt.MeetingID, id); by != kim3Addr {
		t.Fatalf("after the older connection's resume the membership is claimed by %q, want the page's last connection", by)
	}
	gate.open()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := again.Next(ctx)
		if err != nil {
			t.Fatalf("no answer to the resume tried again: %v (close %d)", err, again.CloseCode())
		}
		if m.Type == "error" {
			t.Fatalf("the resume tried again while the first waited for its welcome was refused: %s", m.Payload)
		}
		if m.Type == "welcome" {
			break
		}
	}
	again.ParticipantID = id
	if w := resumedWelcome(t, again); !w.Resumed || w.ParticipantID != id || w.ResumeSecret == "" {
		t.Fatalf("welcome %+v, want the resumed membership %s with a new secret", w, id)
	}
	// The first connection gets no membership: it is told it was replaced.
	if m := expectType(t, first, "bye"); !jsonHas(m.Payload, "replaced") {
		t.Fatalf("the first resume's connection: %s", m.Payload)
	}
	for _, m := range first.All() {
		if m.Type == "welcome" {
			t.Fatalf("the first resume was welcomed too: %s", m.Payload)
		}
	}
	// The others see the member back once, never gone.
	expectType(t, mod, "participant_resumed")
	for _, m := range mod.All() {
		if m.Type == "participant_left" {
			t.Fatalf("the moderator was told the member left: %s", m.Payload)
		}
	}
	// It is the member's connection: it chats, and the moderator hears it.
	if _, err := again.Send("chat", map[string]string{"text": "back"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, mod, "chat")
}

// handshakeHold holds the server's handler of the first connection from address from
// right after its handshake's answer was written (the client's dial is done then), until
// open: what a loaded machine's scheduler may do between the answer and the rest of
// the handler.
type handshakeHold struct {
	from     string
	release  chan struct{}
	answered chan struct{} // closed once the held connection's answer is written
	once     sync.Once     // of release
	taken    sync.Once     // the one connection held
}

func (h *handshakeHold) open() { h.once.Do(func() { close(h.release) }) }

type holdingListener struct {
	net.Listener
	hold *handshakeHold
}

func (l *holdingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok && a.IP.String() == l.hold.from {
		held := false
		l.hold.taken.Do(func() { held = true })
		if held {
			return &handshakeHeldConn{Conn: c, hold: l.hold}, nil
		}
	}
	return c, nil
}

// handshakeHeldConn holds its first write (the handshake's answer, written by the
// handler that upgrades) once it is on the wire.
type handshakeHeldConn struct {
	net.Conn
	hold    *handshakeHold
	written sync.Once
}

func (c *handshakeHeldConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Do(func() {
		close(c.hold.answered)
		<-c.hold.release
	})
	return n, err
}
