package sfu

import (
	"context"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"
)

// burstyConn is a subscriber's socket on a link that, while rough, loses datagrams in
// bursts each way (a Gilbert–Elliott channel: about 40 % lost, in runs), delivers some
// twice and swaps some with the next one. It keeps a copy of each check its agent sends
// with the server's credentials named in old, so that a test can deliver them late.
// Its randomness is seeded: a run loses the same datagrams of a given sequence.
type burstyConn struct {
	net.PacketConn
	rough atomic.Bool

	mu       sync.Mutex
	rng      *rand.Rand
	badOut   bool     // the outgoing channel's state
	badIn    bool     // the incoming one's
	heldOut  []byte   // a datagram written that waits for the next to overtake it
	heldTo   net.Addr // where it goes
	pendIn   [][]byte // datagrams read that are handed on next (a duplicate, a swapped one)
	pendFrom net.Addr
	old      map[string]bool // the server's ufrags whose checks are kept
	kept     [][]byte
	answers  map[[stun.TransactionIDSize]byte]bool // transaction ids whose answers are counted
	answered int
	// sentinels are the ids of checks a test sent itself, whose answers are counted
	// in sentinelAnswers.
	sentinels       map[[stun.TransactionIDSize]byte]bool
	sentinelAnswers int
	lost            int            // datagrams lost while rough, both ways
	checks          map[string]int // the checks written with each of the server's ufrags
}

func newBurstyConn(seed uint64) *burstyConn {
	return &burstyConn{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), old: map[string]bool{},
		answers: map[[stun.TransactionIDSize]byte]bool{}, checks: map[string]int{}, sentinels: map[[stun.TransactionIDSize]byte]bool{}}
}

// lose advances a channel's state and reports whether its next datagram is lost:
// from good to bad with 0.2, back with 0.25 (bad 44 % of the time), losing 80 % in
// the bad state and 5 % in the good one. Under mu.
func (c *burstyConn) lose(bad *bool) bool {
	switch {
	case *bad && c.rng.Float64() < 0.25:
		*bad = false
	case !*bad && c.rng.Float64() < 0.2:
		*bad = true
	}
	lost := c.rng.Float64() < 0.05
	if *bad {
		lost = c.rng.Float64() < 0.8
	}
	if lost {
		c.lost++
	}
	return lost
}

// checkUser is the USERNAME of b if b is a Binding request.
func checkUser(b []byte) (string, bool) {
	if !isSTUN(b) || b[0] != 0 || b[1] != 1 {
		return "", false
	}
	var m stun.Message
	if err := stun.Decode(append([]byte(nil), b...), &m); err != nil {
		return "", false
	}
	var u stun.Username
	if err := u.GetFrom(&m); err != nil {
		return "", false
	}
	return u.String(), true
}

func (c *burstyConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	if user, ok := checkUser(b); ok {
		ufrag, _, _ := strings.Cut(user, ":")
		c.checks[ufrag]++
		if c.old[ufrag] {
			c.kept = append(c.kept, append([]byte(nil), b...))
		}
	}
	if !c.rough.Load() {
		held, to := c.heldOut, c.heldTo
		c.heldOut = nil
		c.mu.Unlock()
		if held != nil {
			_, _ = c.PacketConn.WriteTo(held, to)
		}
		return c.PacketConn.WriteTo(b, addr)
	}
	var out [][]byte
	switch {
	case c.lose(&c.badOut):
	case c.heldOut == nil && c.rng.Float64() < 0.2:
		c.heldOut, c.heldTo = append([]byte(nil), b...), addr
	default:
		out = append(out, b)
		if c.rng.Float64() < 0.1 {
			out = append(out, b)
		}
		if c.heldOut != nil {
			out = append(out, c.heldOut) // overtaken
			c.heldOut = nil
		}
	}
	c.mu.Unlock()
	for _, d := range out {
		_, _ = c.PacketConn.WriteTo(d, addr)
	}
	return len(b), nil
}

func (c *burstyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		if len(c.pendIn) > 0 {
			d := c.pendIn[0]
			c.pendIn = c.pendIn[1:]
			from := c.pendFrom
			c.mu.Unlock()
			return copy(b, d), from, nil
		}
		c.mu.Unlock()
		n, from, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, from, err
		}
		c.mu.Lock()
		c.countAnswer(b[:n])
		if !c.rough.Load() {
			c.mu.Unlock()
			return n, from, nil
		}
		if c.lose(&c.badIn) {
			c.mu.Unlock()
			continue
		}
		r := c.rng.Float64()
		switch {
		case r < 0.1: // twice
			c.pendIn, c.pendFrom = append(c.pendIn, append([]byte(nil), b[:n]...)), from
		case r < 0.3: // after the next one
			held := append([]byte(nil), b[:n]...)
			c.mu.Unlock()
			n2, from2, err := c.PacketConn.ReadFrom(b)
			if err != nil {
				return n2, from2, err
			}
			c.mu.Lock()
			c.countAnswer(b[:n2])
			c.pendIn, c.pendFrom = append(c.pendIn, held), from
			c.mu.Unlock()
			return n2, from2, nil
		}
		c.mu.Unlock()
		return n, from, nil
	}
}

// countAnswer counts a Binding answer to one of the transaction ids watched; under mu.
func (c *burstyConn) countAnswer(b []byte) {
	if len(b) < 20 || !isSTUN(b) || b[0] != 1 || b[1] != 1 {
		return
	}
	var id [stun.TransactionIDSize]byte
	copy(id[:], b[8:20])
	if c.answers[id] {
		c.answered++
	}
	if c.sentinels[id] {
		c.sentinelAnswers++
	}
}

// keep has the checks with the server's ufrag kept from now on.
func (c *burstyConn) keep(ufrag string) {
	c.mu.Lock()
	c.old[ufrag] = true
	c.mu.Unlock()
}

// deliverKept writes the kept checks with the server's ufrags of replaced to it, now,
// and watches for their answers; it returns how many.
func (c *burstyConn) deliverKept(to net.Addr, replaced []string) int {
	c.mu.Lock()
	var kept [][]byte
	for _, b := range c.kept {
		if user, _ := checkUser(b); slices.Contains(replaced, strings.SplitN(user, ":", 2)[0]) {
			kept = append(kept, b)
		}
	}
	c.kept = nil
	for _, b := range kept {
		var id [stun.TransactionIDSize]byte
		copy(id[:], b[8:20])
		c.answers[id] = true
	}
	c.mu.Unlock()
	for _, b := range kept {
		_, _ = c.PacketConn.WriteTo(b, to)
	}
	return len(kept)
}

// checksWith is how many checks the peer wrote with the server's ufrag.
func (c *burstyConn) checksWith(ufrag string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checks[ufrag]
}

func (c *burstyConn) answersToKept() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered
}

// serverUfrag is the server's ICE ufrag in the offer sdp.
func serverUfrag(t *testing.T, sdp string) string {
	t.Helper()
	for _, line := range strings.Split(sdp, "\r\n") {
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok {
			return v
		}
	}
	t.Fatal("no ufrag in the offer")
	return ""
}

// offerRestart has the server offer an ICE restart and the subscriber answer it; the
// server's new ufrag.
func (r *mediaRig) offerRestart() string {
	t := r.t
	t.Helper()
	r.subP.RestartSubscribeICE()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	o, err := r.subP.NextSubscribeOffer(ctx)
	if err != nil || o == nil {
		t.Fatalf("the restart's offer: %v %v", o, err)
	}
	if err := r.subP.AcceptSubscribeAnswer(answerWith(t, r.sub.pc, o.SDP)); err != nil {
		t.Fatal(err)
	}
	return serverUfrag(t, o.SDP)
}

// TestICERestartThroughBurstyLoss: a subscriber (on a subscribe connection the server
// runs itself) whose link loses about 40 % of its datagrams in bursts, each way, and
// delivers others twice or out of order, restarts ICE twice during 10 s of it (on the
// engine's clock; the default consent time, 25 s), as a page whose connection stalled
// does. Its media keep coming through the loss as far as the link lets them and all
// of them once it is clean, with no restart more; the checks it sent with the
// credentials before each restart, delivered late, after the new ones', are answered
// by no one and move nothing; the server holds one agent for it, not one per restart;
// and its media keep reaching it past the consent time after that, its consent renewed
// by answers to the new credentials alone.
func TestICERestartThroughBurstyLoss(t *testing.T) {
	const consent = 25 * time.Second // the default: 5 s + 20 s of the agents' timeouts
	conn := newBurstyConn(75)
	raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn.PacketConn = raw
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { _ = mux.Close() })
	s := testPeerSettings()
	s.SetICEUDPMux(mux)
	s.SetICETimeouts(time.Hour, time.Hour, 100*time.Millisecond)
	// Pion gives a pair up after 8 unanswered checks, and 40 % loss each way in bursts
	// leaves 8 in a row unanswered often enough (a CI run on a loaded machine: "restart
	// 1: 8 checks of its credentials", then nothing more to wait for); a browser keeps
	// checking for seconds (libwebrtc: 5 s before a pair is unwritable, then pings on).
	s.SetICEMaxBindingRequests(25)
	r := newMediaRigAPIs(t, testPeerAPI(t), webrtc.NewAPI(webrtc.WithSettingEngine(s)), withOwnSubscribe, func(_ *fakeclock.Clock, cfg *Config) {
		// Pion's agents (the publish connection) on the system's clock get an hour, as
		// in ownSubscribeRigOver; the own connection's consent is the default's.
		cfg.iceTimeouts = iceTimeouts{disconnected: time.Hour, failed: time.Hour, keepalive: 100 * time.Millisecond}
		cfg.liteConsent = consent
	})

	current := serverUfrag(t, r.sub.pc.RemoteDescription().SDP)
	var replaced []string
	conn.keep(current)
	conn.rough.Store(true)
	var rough []uint16
	// 10 s of the engine's clock, 100 ms at a time, a restart at 2 s and another at
	// 6 s; each is held until the peer has sent twenty checks of its credentials
	// through the loss, whatever the machine's speed.
	deadline := time.Now().Add(conntest.Wait)
	for step := 0; step < 100; {
		if step == 20 || step == 60 {
			if len(replaced) == step/40 {
				replaced = append(replaced, current)
				current = r.offerRestart()
				conn.keep(current)
			}
			if n := conn.checksWith(current); n < 20 {
				if time.Now().After(deadline) {
					t.Fatalf("restart %d: %d checks of its credentials", len(replaced), n)
				}
				time.Sleep(5 * time.Millisecond)
				continue
			}
		}
		rough = append(rough, r.pub.send())
		r.clock.Advance(100 * time.Millisecond)
		time.Sleep(10 * time.Millisecond)
		step++
	}
	conn.rough.Store(false)
	conn.mu.Lock()
	lost := conn.lost
	conn.mu.Unlock()
	arrived := 0
	for _, seq := range rough {
		if r.sub.has(seq) {
			arrived++
		}
	}
	t.Logf("rough: %d datagrams lost, %d of %d packets arrived", lost, arrived, len(rough))
	// Only the loss itself is the rig's check: how many packets NACKs repaired in
	// time depends on the machine's speed.
	if lost == 0 {
		t.Fatal("the link was not rough")
	}

	// The new credentials' checks come first, then the old ones', late.
	checks, answered := conn.checksWith(current), r.eng.lites.answered.Load()
	conntest.Eventually(t, "checks of the last restart's credentials answered", func() bool {
		return conn.checksWith(current) > checks+2 && r.eng.lites.answered.Load() > answered+2
	})
	late := conn.deliverKept(net.UDPAddrFromAddrPort(r.serverAddr()), replaced)
	if late == 0 {
		t.Fatal("no check of the replaced credentials was kept")
	}
	t.Logf("%d checks of the replaced credentials delivered late", late)
	var after []uint16
	for range 20 {
		after = append(after, r.pub.send())
	}
	conntest.Eventually(t, "the media at the subscriber once the link is clean, with no restart more", func() bool {
		for _, seq := range after {
			if !r.sub.has(seq) {
				return false
			}
		}
		return true
	})
	r.eng.lites.mu.RLock()
	agents := len(r.eng.lites.m)
	var known []string
	for _, u := range replaced {
		if r.eng.lites.m[u] != nil {
			known = append(known, u)
		}
	}
	r.eng.lites.mu.RUnlock()
	if agents != 1 || len(known) != 0 {
		t.Errorf("%d agents after two restarts, the replaced credentials %v among them; want the last restart's alone", agents, known)
	}

	// Past the consent time on the engine's clock: after each half second an answer to
	// the server's request has come, and the media still arrive at the end.
	for range int((consent + 5*time.Second) / (500 * time.Millisecond)) {
		proofs := r.eng.lites.proofs.Load()
		r.clock.Advance(500 * time.Millisecond)
		conntest.Eventually(t, "an answer to the server's request", func() bool { return r.eng.lites.proofs.Load() > proofs })
	}
	seq := r.pub.send()
	conntest.Eventually(t, "a packet at the subscriber a consent time later", func() bool { return r.sub.has(seq) })
	if n := conn.answersToKept(); n != 0 {
		t.Errorf("%d of the checks with the replaced credentials answered when they came late", n)
	}
}
