package sfu

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"

	"conclave/internal/conntest"
)

// liteRig is an ICE-lite agent behind a UDP socket on 127.0.0.1, its reader serving
// the socket as the media socket's does, on a clock the test moves.
type liteRig struct {
	conn   *net.UDPConn
	agents *liteAgents
	lite   *iceLite
	clock  atomic.Int64
	picked chan netip.AddrPort
	// others are the datagrams the agents did not take (Pion's, in the server).
	others chan []byte
	// dtls, when set, gets the DTLS records from addresses that passed a check.
	dtls atomic.Pointer[dtlsPeer]
	stop func()
}

func newLiteRig(t *testing.T) *liteRig {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &liteRig{conn: conn, picked: make(chan netip.AddrPort, 16), others: make(chan []byte, 64)}
	r.clock.Store(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC).UnixNano())
	r.agents = &liteAgents{
		send: func(b []byte, to netip.AddrPort) error {
			_, err := conn.WriteToUDPAddrPort(b, to)
			return err
		},
		now: func() time.Time { return time.Unix(0, r.clock.Load()) },
	}
	r.lite = newICELite(func(p litePath) { r.picked <- p.ap })
	r.agents.add(r.lite)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if r.agents.take(buf[:n], from) {
				continue
			}
			if d := r.dtls.Load(); d != nil && dtlsRecord(buf[:n]) && r.lite.isProven(from) {
				d.deliver(buf[:n])
			} else {
				select {
				case r.others <- bytes.Clone(buf[:n]):
				default:
				}
			}
		}
	}()
	var once sync.Once
	r.stop = func() { once.Do(func() { _ = conn.Close(); wg.Wait() }) }
	t.Cleanup(r.stop)
	return r
}

// sendToPeer sends b where the lite agent sees the peer.
func (r *liteRig) sendToPeer(b []byte) error {
	to := r.lite.dst()
	if !to.valid() {
		return errNoPath
	}
	return r.agents.send(b, to.ap)
}

func (r *liteRig) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

func (r *liteRig) advance(d time.Duration) { r.clock.Add(int64(d)) }

// newControllingAgent is a full ICE agent as a browser runs one, on loopback only.
func newControllingAgent(t *testing.T) *ice.Agent {
	t.Helper()
	a, err := ice.NewAgentWithOptions(
		ice.WithNetworkTypes([]ice.NetworkType{ice.NetworkTypeUDP4}),
		ice.WithCandidateTypes([]ice.CandidateType{ice.CandidateTypeHost}),
		ice.WithIncludeLoopback(),
		ice.WithIPFilter(func(ip net.IP) bool { return ip.IsLoopback() }),
		ice.WithMulticastDNSMode(ice.MulticastDNSModeDisabled),
		ice.WithLoggerFactory(newPionLoggerFactory(slog.New(slog.DiscardHandler))),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// TestICELiteAnswersAFullAgent: Pion's own full agent, controlling as a browser is
// against an ICE-lite offer, connects to the lite agent, nominates its pair, and
// datagrams then flow both ways on it; its periodic checks keep the consent fresh,
// and once it is gone the consent expires on the test's clock.
func TestICELiteAnswersAFullAgent(t *testing.T) {
	r := newLiteRig(t)
	a := newControllingAgent(t)
	conn, picked := connectAgent(t, r, a)
	local := conn.LocalAddr().(*net.UDPAddr)
	if picked.Port() != uint16(local.Port) || !picked.Addr().IsLoopback() {
		t.Fatalf("selected %v, the agent is on %v", picked, local)
	}
	if !r.lite.isProven(picked) {
		t.Fatal("the nominated address is not proven")
	}

	// Both ways on the pair: the agent's connection reads what the server's socket
	// sends the selected address, and the server's reader gets what it writes.
	if _, err := r.conn.WriteToUDPAddrPort([]byte("from the server"), picked); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	_ = conn.SetReadDeadline(time.Now().Add(conntest.Wait))
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "from the server" {
		t.Fatalf("agent read %q, %v", buf[:n], err)
	}
	if _, err := conn.Write([]byte("from the peer")); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the peer's datagram", func() bool {
		select {
		case b := <-r.others:
			return string(b) == "from the peer"
		default:
			return false
		}
	})

	// Pion's agent checks its selected pair every 2 s: its answer to the server's
	// request at a check after the clock has moved on renews the consent. Waited for
	// itself, not for the check's answer: the request goes after that, and the agent
	// removed before the answer comes would not take it.
	r.advance(25 * time.Second)
	conntest.Eventually(t, "the answer to a consent check's request", func() bool {
		r.lite.mu.Lock()
		defer r.lite.mu.Unlock()
		return r.lite.confirmed == r.clock.Load()
	})
	if r.lite.consentLost(r.clock.Load(), 30*time.Second) {
		t.Fatal("consent lost while the peer checks")
	}
	_ = a.Close()
	// No check after this one counts: one still on its way could otherwise renew
	// the consent after the clock has moved.
	r.agents.remove(r.lite)
	r.advance(29 * time.Second)
	if r.lite.consentLost(r.clock.Load(), 30*time.Second) {
		t.Fatal("consent lost before its 30 s")
	}
	r.advance(2 * time.Second)
	if !r.lite.consentLost(r.clock.Load(), 30*time.Second) {
		t.Fatal("consent kept 31 s after the last check")
	}
	if r.lite.consentLost(r.clock.Load(), 30*time.Second) || r.lite.isProven(picked) {
		t.Fatal("consent lost twice, or the address still proven")
	}
}

// connectAgent connects the full agent a to the rig's lite agent and returns its
// connection and the address the lite agent selected.
func connectAgent(t *testing.T, r *liteRig, a *ice.Agent) (*ice.Conn, netip.AddrPort) {
	t.Helper()
	ufrag, pwd, err := a.GetLocalUserCredentials()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.lite.setRemote(ufrag, pwd); err != nil {
		t.Fatal(err)
	}
	if err := a.OnCandidate(func(ice.Candidate) {}); err != nil {
		t.Fatal(err)
	}
	if err := a.GatherCandidates(); err != nil {
		t.Fatal(err)
	}
	host, err := ice.NewCandidateHost(&ice.CandidateHostConfig{Network: "udp", Address: "127.0.0.1", Port: r.port(), Component: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.AddRemoteCandidate(host); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	conn, err := a.Dial(ctx, r.lite.ufrag, r.lite.pwd)
	if err != nil {
		t.Fatalf("the full agent did not connect: %v", err)
	}
	var picked netip.AddrPort
	select {
	case picked = <-r.picked:
	case <-ctx.Done():
		t.Fatal("no pair nominated")
	}
	return conn, picked
}

// check describes a binding request as a controlling browser sends one; the zero
// values of its flags make the genuine one.
type check struct {
	username, pwd string
	nominate      bool
	controlled    bool // ICE-CONTROLLED instead of ICE-CONTROLLING
	noPriority    bool
	noFingerprint bool
	response      bool // a success response instead of a request
}

func (c check) bytes(t testing.TB) []byte {
	t.Helper()
	typ := stun.BindingRequest
	if c.response {
		typ = stun.BindingSuccess
	}
	m, err := stun.Build(stun.TransactionID, typ, stun.NewUsername(c.username))
	if err != nil {
		t.Fatal(err)
	}
	if !c.noPriority {
		m.Add(stun.AttrPriority, []byte{0x6e, 0x00, 0x1e, 0xff})
	}
	if c.controlled {
		m.Add(stun.AttrICEControlled, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	} else {
		m.Add(stun.AttrICEControlling, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	}
	if c.nominate {
		m.Add(stun.AttrUseCandidate, nil)
	}
	if c.pwd != "" {
		if err := stun.NewShortTermIntegrity(c.pwd).AddTo(m); err != nil {
			t.Fatal(err)
		}
	}
	if !c.noFingerprint {
		if err := stun.Fingerprint.AddTo(m); err != nil {
			t.Fatal(err)
		}
	}
	return m.Raw
}

// TestICELiteRefusesForgedChecks: a check that lacks what a controlling peer's must
// carry, or is signed with another password, or names another peer than the answer's,
// is dropped without an answer and selects nothing; a message for a ufrag that is
// not ours, or no request, is left to Pion.
func TestICELiteRefusesForgedChecks(t *testing.T) {
	var sent [][]byte
	var picked []netip.AddrPort
	agents := &liteAgents{
		send: func(b []byte, _ netip.AddrPort) error { sent = append(sent, bytes.Clone(b)); return nil },
		now:  time.Now,
	}
	l := newICELite(func(p litePath) { picked = append(picked, p.ap) })
	agents.add(l)
	if _, err := l.setRemote("peer", testPeerPwd); err != nil {
		t.Fatal(err)
	}
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	user := l.ufrag + ":peer"
	for _, c := range []struct {
		name  string
		check check
		taken bool
	}{
		{"another password", check{username: user, pwd: "not-the-password-of-this-agent", nominate: true}, true},
		{"no integrity", check{username: user, nominate: true}, true},
		{"no fingerprint", check{username: user, pwd: l.pwd, nominate: true, noFingerprint: true}, true},
		{"no priority", check{username: user, pwd: l.pwd, nominate: true, noPriority: true}, true},
		{"a controlled peer", check{username: user, pwd: l.pwd, nominate: true, controlled: true}, true},
		{"another peer's ufrag", check{username: l.ufrag + ":other", pwd: l.pwd, nominate: true}, true},
		{"no peer ufrag", check{username: l.ufrag, pwd: l.pwd, nominate: true}, false},
		{"a ufrag not ours", check{username: "someoneelse:peer", pwd: l.pwd, nominate: true}, false},
		{"a response", check{username: user, pwd: l.pwd, response: true}, false},
	} {
		refused := agents.refused.Load()
		if got := agents.take(c.check.bytes(t), from); got != c.taken {
			t.Errorf("%s: taken %v, want %v", c.name, got, c.taken)
		}
		if c.taken && agents.refused.Load() != refused+1 {
			t.Errorf("%s: not counted as refused", c.name)
		}
	}
	for _, b := range [][]byte{nil, {0, 1}, make([]byte, 20), []byte("\x16\xfe\xfd not STUN at all, DTLS")} {
		if agents.take(b, from) {
			t.Errorf("took %q", b)
		}
	}
	if len(sent) != 0 || len(picked) != 0 || l.isProven(from) || agents.answered.Load() != 0 {
		t.Fatalf("answered %d, selected %v, proven %v", len(sent), picked, l.isProven(from))
	}

	// The genuine check is answered, signed with our password, with the address it
	// came from; the address is asked to prove it is the peer's, and selected once it
	// has answered.
	if !agents.take(check{username: user, pwd: l.pwd, nominate: true}.bytes(t), from) {
		t.Fatal("genuine check not taken")
	}
	if len(sent) != 2 || len(picked) != 0 {
		t.Fatalf("sent %d, selected %v before the peer answered", len(sent), picked)
	}
	if !agents.take(peerReply{pwd: testPeerPwd}.to(t, sent[1]), from) || len(picked) != 1 || picked[0] != from {
		t.Fatalf("selected %v", picked)
	}
	var resp stun.Message
	if err := stun.Decode(sent[0], &resp); err != nil {
		t.Fatal(err)
	}
	var mapped stun.XORMappedAddress
	if err := mapped.GetFrom(&resp); err != nil {
		t.Fatal(err)
	}
	if resp.Type != stun.BindingSuccess || mapped.Port != 40000 || !mapped.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("response %v, mapped %v", resp.Type, mapped)
	}
	if err := stun.NewShortTermIntegrity(l.pwd).Check(&resp); err != nil {
		t.Fatalf("response integrity: %v", err)
	}
	if err := stun.Fingerprint.Check(&resp); err != nil {
		t.Fatalf("response fingerprint: %v", err)
	}
}

// TestICELiteChecksBeforeTheAnswer: a peer may check before its answer reaches the
// server; the answer must then name the ufrag those checks used, or what they proved
// is forgotten.
func TestICELiteChecksBeforeTheAnswer(t *testing.T) {
	agents := &liteAgents{send: func([]byte, netip.AddrPort) error { return nil }, now: time.Now}
	var picked []netip.AddrPort
	l := newICELite(func(p litePath) { picked = append(picked, p.ap) })
	agents.add(l)
	a := netip.MustParseAddrPort("127.0.0.1:40001")
	if !agents.take(check{username: l.ufrag + ":early", pwd: l.pwd, nominate: true}.bytes(t), a) || !l.nominated() {
		t.Fatalf("early check: nominated %v", l.nominated())
	}
	// A second peer ufrag before the answer is refused.
	if agents.take(check{username: l.ufrag + ":other", pwd: l.pwd}.bytes(t), netip.MustParseAddrPort("127.0.0.1:40002")); agents.refused.Load() != 1 {
		t.Fatal("a second peer ufrag was answered")
	}
	if _, err := l.setRemote("liar", testPeerPwd); err == nil || l.isProven(a) || l.nominated() {
		t.Fatal("an answer with another ufrag kept what the checks proved")
	}

	l2 := newICELite(nil)
	agents.add(l2)
	if !agents.take(check{username: l2.ufrag + ":early", pwd: l2.pwd}.bytes(t), a) {
		t.Fatal("early check not taken")
	}
	if _, err := l2.setRemote("early", testPeerPwd); err != nil || !l2.isProven(a) {
		t.Fatalf("the answer with the checks' ufrag: %v, proven %v", err, l2.isProven(a))
	}
	agents.remove(l2)
	if agents.take(check{username: l2.ufrag + ":early", pwd: l2.pwd}.bytes(t), a) {
		t.Fatal("a removed agent's check was taken")
	}
}

// TestICELiteRenomination: the peer may nominate another pair later (a network
// change); the latest nomination is the route (each answering the server's requests,
// liteproof.go), and a check or an answer on a pair that is not the selected one does
// not renew the consent.
func TestICELiteRenomination(t *testing.T) {
	var clock atomic.Int64
	sends := &liteSends{}
	agents := &liteAgents{send: sends.send, now: func() time.Time { return time.Unix(0, clock.Load()) }, consent: 30 * time.Second}
	var picked []netip.AddrPort
	l := newICELite(func(p litePath) { picked = append(picked, p.ap) })
	agents.add(l)
	_, _ = l.setRemote("peer", testPeerPwd)
	a, b := netip.MustParseAddrPort("127.0.0.1:40001"), netip.MustParseAddrPort("[::1]:40002")
	// checkAndAnswer has the peer check from from and answer what the server asks.
	checkAndAnswer := func(from netip.AddrPort, nominate bool) {
		t.Helper()
		if !agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd, nominate: nominate}.bytes(t), from) {
			t.Fatal("check not taken")
		}
		for _, req := range sends.requests(from) {
			if !agents.take(peerReply{pwd: testPeerPwd}.to(t, req), from) {
				t.Fatal("answer not taken")
			}
		}
	}
	for _, c := range []struct {
		from     netip.AddrPort
		nominate bool
	}{{a, false}, {a, true}, {a, true}, {b, false}, {b, true}} {
		clock.Add(int64(time.Second))
		checkAndAnswer(c.from, c.nominate)
	}
	if len(picked) != 2 || picked[0] != a || picked[1] != b {
		t.Fatalf("selected %v, want %v then %v", picked, a, b)
	}
	clock.Add(int64(20 * time.Second))
	checkAndAnswer(a, false)
	clock.Add(int64(11 * time.Second))
	if !l.consentLost(clock.Load(), 30*time.Second) {
		t.Fatal("a check on the old pair renewed the selected pair's consent")
	}
}

// FuzzICELiteTake: whatever arrives, take does not fail, and it answers only a
// request signed with the agent's password.
func FuzzICELiteTake(f *testing.F) {
	const pwd = "a-password-of-22-chars!"
	l := &iceLite{ufrag: "ufrag", pwd: pwd}
	f.Add(check{username: "ufrag:peer", pwd: l.pwd, nominate: true}.bytes(f))
	f.Add(check{username: "ufrag:peer", pwd: "another-password-entirely"}.bytes(f))
	f.Add(check{username: "ufrag:peer", pwd: l.pwd, noFingerprint: true}.bytes(f))
	f.Add(check{username: "ufrag", pwd: l.pwd, controlled: true}.bytes(f))
	f.Add([]byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Fuzz(func(t *testing.T, b []byte) {
		answered := false
		agents := &liteAgents{send: func([]byte, netip.AddrPort) error { answered = true; return nil }, now: time.Now}
		lite := &iceLite{ufrag: "ufrag", pwd: pwd, key: stun.NewShortTermIntegrity(pwd)}
		agents.add(lite)
		in := bytes.Clone(b)
		agents.take(b, netip.MustParseAddrPort("127.0.0.1:40000"))
		if answered {
			var m stun.Message
			if err := stun.Decode(in, &m); err != nil || lite.key.Check(&m) != nil {
				t.Fatalf("answered a request not signed with the password: %v", err)
			}
		}
	})
}
