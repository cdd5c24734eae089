package sfu

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// flightLossConn is a peer's socket on a link that loses DTLS datagrams by rule, each
// way (up: from the peer to the server), and nothing else: ICE stays up.
type flightLossConn struct {
	net.PacketConn
	lose func(up bool, b []byte) bool
	mu   sync.Mutex
	lost [2]int
}

func (c *flightLossConn) dropped(up bool, b []byte) bool {
	if !dtlsRecord(b) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.lose(up, b) {
		return false
	}
	if up {
		c.lost[1]++
	} else {
		c.lost[0]++
	}
	return true
}

func (c *flightLossConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.dropped(true, b) {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

func (c *flightLossConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.dropped(false, b[:n]) {
			return n, addr, err
		}
	}
}

// joinTwo joins a subscriber and a publisher to room.
func joinTwo(t *testing.T, room *Room) (sub, pub *Participant) {
	t.Helper()
	sub, err := room.Join("sub")
	if err != nil {
		t.Fatal(err)
	}
	pub, err = room.Join("pub")
	if err != nil {
		t.Fatal(err)
	}
	return sub, pub
}

// TestStalledSubscribeHandshakeEndsOnTheEnginesClock: a subscriber every DTLS datagram
// of which is lost, either way, holds a half-made handshake on the server (pion/dtls's
// goroutines, its flights, the records queued for it) only until dtlsHandshakeTimeout
// has passed on the engine's clock (Config.AfterFunc), and not 1 ms less: then the
// dtlsPeer is stopped and keeps nothing. The bound was a context deadline on the
// system's clock, which the engine's fake clock did not move: the handshake stayed
// whatever that clock did, and no test could drive or rely on its end.
func TestStalledSubscribeHandshakeEndsOnTheEnginesClock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	var armed atomic.Int32
	clock, _, room := newClockedRoom(t, true, withOwnSubscribe, func(clock *fakeclock.Clock, cfg *Config) {
		// The consent outlives the test's steps: only the handshake's bound is judged.
		cfg.iceTimeouts = iceTimeouts{disconnected: time.Hour, failed: time.Hour, keepalive: 100 * time.Millisecond}
		cfg.liteConsent = time.Hour
		cfg.AfterFunc = func(d time.Duration, f func()) func() bool {
			if d == dtlsHandshakeTimeout {
				armed.Add(1)
			}
			return clock.AfterFunc(d, f)
		}
	})
	sub, pub := joinTwo(t, room)
	keepPublishingCamera(ctx, t, pub)
	raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn := &flightLossConn{PacketConn: raw, lose: func(bool, []byte) bool { return true }}
	spc, _ := pionSubscriberOver(t, conn, webrtc.DTLSRoleClient)
	// The publisher's connection, up before its track is offered, armed its own.
	offer := nextSubscribeOffer(ctx, t, sub)
	before := armed.Load()
	if err := sub.AcceptSubscribeAnswer(answerWith(t, spc, offer)); err != nil {
		t.Fatal(err)
	}
	// The handshake starts with the answer; its bound is armed before it runs.
	if n := armed.Load() - before; n != 1 {
		t.Fatalf("%d waits of %v on the engine's clock for the subscribe handshake, want 1", n, dtlsHandshakeTimeout)
	}
	conntest.Eventually(t, "the subscriber's ClientHello, lost on the way", func() bool {
		conn.mu.Lock()
		defer conn.mu.Unlock()
		return conn.lost[1] > 0
	})
	peer := sub.own.dtls
	clock.Advance(dtlsHandshakeTimeout - time.Millisecond)
	if err := clock.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-peer.done:
		t.Fatalf("the handshake ended before %v had passed on the engine's clock", dtlsHandshakeTimeout)
	default:
	}
	clock.Advance(time.Millisecond)
	if err := clock.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-peer.done:
	case <-ctx.Done():
		t.Fatalf("the handshake still runs %v after it began on the engine's clock", dtlsHandshakeTimeout)
	}
	if peer.conn.Load() != nil {
		t.Fatal("the stopped handshake still holds its connection")
	}
	peer.deliver([]byte{22, 254, 253})
	if n := len(peer.in); n != 0 {
		t.Fatalf("%d records queued for a handshake that ended", n)
	}
}

// TestStalledPublishHandshakeEndsOnTheEnginesClock: the DTLS handshake of a connection
// Pion runs for the server (a publish connection) whose peer's records are all lost is
// bounded as the engine's own are, by dtlsHandshakeTimeout on the engine's clock: the
// handshake fails (and Pion closes the connection) when it has passed, not 1 ms
// before. Pion's default is no bound at all: the half-made handshake stayed as long as
// the participant, however far either clock went.
func TestStalledPublishHandshakeEndsOnTheEnginesClock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	var armed atomic.Int32
	clock, _, room := newClockedRoom(t, true, func(clock *fakeclock.Clock, cfg *Config) {
		cfg.iceTimeouts = iceTimeouts{disconnected: time.Hour, failed: time.Hour, keepalive: 100 * time.Millisecond}
		cfg.AfterFunc = func(d time.Duration, f func()) func() bool {
			if d == dtlsHandshakeTimeout {
				armed.Add(1)
			}
			return clock.AfterFunc(d, f)
		}
	})
	pubP, err := room.Join("pub")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn := &flightLossConn{PacketConn: raw, lose: func(bool, []byte) bool { return true }}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { _ = mux.Close() })
	s := testPeerSettings()
	s.SetICEUDPMux(mux)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(defaultMediaEngine(t)), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(s))
	pc, _, tr := newCameraSender(t, api)
	publishTo(ctx, t, pubP, pc, func() map[string]Source { return map[string]Source{tr.Mid(): SourceCamera} })
	server := pubP.pub.Load()
	dtlsState := func() webrtc.DTLSTransportState {
		for _, st := range server.GetTransceivers() {
			if tp := st.Receiver().Transport(); tp != nil {
				return tp.State()
			}
		}
		return webrtc.DTLSTransportStateNew
	}
	// Pion arms the bound as its handshake starts, once ICE is up; a bound on another
	// clock would end the handshake at that clock's time instead, and with none it
	// runs on.
	conntest.Eventually(t, "a bound on the publish handshake on the engine's clock, or its end", func() bool {
		st := dtlsState()
		return armed.Load() > 0 || st == webrtc.DTLSTransportStateFailed || st == webrtc.DTLSTransportStateClosed
	})
	if n := armed.Load(); n != 1 {
		t.Fatalf("%d waits of %v on the engine's clock for the publish handshake, want 1", n, dtlsHandshakeTimeout)
	}
	// The stall is the records' loss: the publisher (the DTLS client) has sent its
	// first before the engine's clock moves. Its handshake runs on real time, so on a
	// loaded machine the bound could pass before it had sent anything (a CI run beside
	// a browser test: "the publisher sent no DTLS record").
	conntest.Eventually(t, "the publisher's first DTLS record sent and lost", func() bool {
		conn.mu.Lock()
		defer conn.mu.Unlock()
		return conn.lost[1] > 0
	})
	clock.Advance(dtlsHandshakeTimeout - time.Millisecond)
	if err := clock.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	if st := dtlsState(); st != webrtc.DTLSTransportStateConnecting {
		t.Fatalf("the publish connection's DTLS is %v before %v had passed on the engine's clock, want connecting", st, dtlsHandshakeTimeout)
	}
	clock.Advance(time.Millisecond)
	conntest.Eventually(t, "the stalled publish handshake failed", func() bool {
		st := dtlsState()
		return st == webrtc.DTLSTransportStateFailed || st == webrtc.DTLSTransportStateClosed
	})
}

// handshakeWaits records the waits of dtlsHandshakeTimeout an engine arms on its fake
// clock, and which of them were stopped before they ran.
type handshakeWaits struct {
	mu      sync.Mutex
	armed   int
	stopped int
}

// option is the engine option that arms every wait on clock, recording the handshakes'.
func (w *handshakeWaits) option(clock *fakeclock.Clock, cfg *Config) {
	cfg.AfterFunc = func(d time.Duration, f func()) func() bool {
		stop := clock.AfterFunc(d, f)
		if d != dtlsHandshakeTimeout {
			return stop
		}
		w.mu.Lock()
		w.armed++
		w.mu.Unlock()
		var once sync.Once
		return func() bool {
			ok := stop()
			if ok {
				once.Do(func() {
					w.mu.Lock()
					w.stopped++
					w.mu.Unlock()
				})
			}
			return ok
		}
	}
}

func (w *handshakeWaits) counts() (armed, stopped int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.armed, w.stopped
}

// TestHandshakeBoundStopsWhenTheHandshakeEnds: a handshake that finishes stops its
// wait of dtlsHandshakeTimeout on the engine's clock, on the publish connection Pion
// runs and on the subscribe connection, the server's own or Pion's. A wait left armed holds its context and cancel until it runs, one per
// connection: 30 s of each join on the system's clock, and on a test's fake clock for
// as long as the clock is not moved, where a later Advance would cancel a handshake
// long over. (The server's own connection as the DTLS server is left out: its
// dtlsLinger, a wait of the same length, is armed as the handshake ends and stopped only
// with the handshake's reading: TestLingerStopsWithTheHandshakesReading.)
func TestHandshakeBoundStopsWhenTheHandshakeEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		role webrtc.DTLSRole // the subscribing peer's
		opt  engineOption
	}{
		{"own subscribe, peer as DTLS server", webrtc.DTLSRoleServer, withOwnSubscribe},
		{"Pion's subscribe", webrtc.DTLSRoleClient, withPionSubscribe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testPeerSettings()
			if err := s.SetAnsweringDTLSRole(tc.role); err != nil {
				t.Fatal(err)
			}
			subAPI := webrtc.NewAPI(webrtc.WithSettingEngine(s), webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
			waits := &handshakeWaits{}
			r := newMediaRigAPIs(t, testPeerAPI(t), subAPI, tc.opt, waits.option)
			seq := r.pub.send()
			conntest.Eventually(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
			conntest.Eventually(t, "both handshakes' waits stopped", func() bool {
				armed, stopped := waits.counts()
				return armed == 2 && stopped == 2
			})
		})
	}
}
