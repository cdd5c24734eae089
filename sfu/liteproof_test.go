package sfu

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
)

// peerReply describes a peer's answer to a request of the server's; the zero values
// of its flags make the genuine one.
type peerReply struct {
	pwd           string // "" for none: no MESSAGE-INTEGRITY
	otherID       bool   // another transaction id than the request's
	noFingerprint bool
	request       bool // a request instead of a success response
}

// to builds the reply to the request req.
func (p peerReply) to(t testing.TB, req []byte) []byte {
	t.Helper()
	var m stun.Message
	if err := stun.Decode(req, &m); err != nil || m.Type != stun.BindingRequest {
		t.Fatalf("not a binding request (%v): %v", m.Type, err)
	}
	tid := m.TransactionID
	if p.otherID {
		tid[0] ^= 1
	}
	typ := stun.BindingSuccess
	if p.request {
		typ = stun.BindingRequest
	}
	setters := []stun.Setter{stun.NewTransactionIDSetter(tid), typ, &stun.XORMappedAddress{IP: net.IPv4(127, 0, 0, 1), Port: 3478}}
	if p.pwd != "" {
		setters = append(setters, stun.NewShortTermIntegrity(p.pwd))
	}
	if !p.noFingerprint {
		setters = append(setters, stun.Fingerprint)
	}
	r, err := stun.Build(setters...)
	if err != nil {
		t.Fatal(err)
	}
	return r.Raw
}

// liteSends is what a liteAgents sends, by address.
type liteSends struct {
	mu   sync.Mutex
	sent []liteSent
}

type liteSent struct {
	b  []byte
	to netip.AddrPort
}

func (s *liteSends) send(b []byte, to netip.AddrPort) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, liteSent{bytes.Clone(b), to})
	return nil
}

// requests returns the binding requests sent to to since the last call, and forgets
// everything sent.
func (s *liteSends) requests(to netip.AddrPort) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, d := range s.sent {
		if d.to == to && isSTUN(d.b) && uint16(d.b[0])<<8|uint16(d.b[1]) == stun.BindingRequest.Value() {
			out = append(out, d.b)
		}
	}
	s.sent = nil
	return out
}

// lastRequest is the one request sent to to since the last call; the test fails
// when there is none or more.
func (s *liteSends) lastRequest(t testing.TB, to netip.AddrPort) []byte {
	t.Helper()
	reqs := s.requests(to)
	if len(reqs) != 1 {
		t.Fatalf("%d requests sent to %v, want 1", len(reqs), to)
	}
	return reqs[0]
}

// newProofAgents is a lite agent whose peer (ufrag "peer", password peerPwd) is known,
// behind agents that log what they send, on a clock the test moves.
func newProofAgents(t *testing.T) (*liteAgents, *iceLite, *liteSends, *[]netip.AddrPort, *time.Time) {
	t.Helper()
	log := &liteSends{}
	clock := time.Unix(1_000_000, 0)
	agents := &liteAgents{send: log.send, now: func() time.Time { return clock }, consent: 25 * time.Second}
	var picked []netip.AddrPort
	l := newICELite(func(p litePath) { picked = append(picked, p.ap) })
	agents.add(l)
	if _, err := l.setRemote("peer", testPeerPwd); err != nil {
		t.Fatal(err)
	}
	return agents, l, log, &picked, &clock
}

const testPeerPwd = "the-peers-own-password-0123"

// nominate has agents take a nominating check for l from from.
func nominate(t *testing.T, agents *liteAgents, l *iceLite, from netip.AddrPort) {
	t.Helper()
	if !agents.take(check{username: l.ufrag + ":peer", pwd: l.pwd, nominate: true}.bytes(t), from) {
		t.Fatalf("the check from %v was not taken", from)
	}
}

// TestICELiteAnswersProveNothingButTheirOwn: a nominated address is selected only
// when it answers the server's request from that address, with its transaction id,
// signed with the peer's password and fingerprinted. The request carries what a
// controlled agent's check must (USERNAME peer:ours, PRIORITY, ICE-CONTROLLED,
// MESSAGE-INTEGRITY with the peer's password, FINGERPRINT). An answer with another
// id, from another address (proven or not), without integrity or with another
// password, without fingerprint, or a request in its place, selects nothing.
func TestICELiteAnswersProveNothingButTheirOwn(t *testing.T) {
	agents, l, log, picked, _ := newProofAgents(t)
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	other := netip.MustParseAddrPort("127.0.0.1:40001")
	nominate(t, agents, l, other) // another proven address of the peer's
	otherReq := log.lastRequest(t, other)
	nominate(t, agents, l, from)
	req := log.lastRequest(t, from)
	if len(*picked) != 0 {
		t.Fatalf("selected %v before any answer", *picked)
	}

	var m stun.Message
	if err := stun.Decode(req, &m); err != nil {
		t.Fatal(err)
	}
	var user stun.Username
	var controlled ice.AttrControlled
	var prio ice.PriorityAttr
	if err := user.GetFrom(&m); err != nil || string(user) != "peer:"+l.ufrag {
		t.Fatalf("username %q, %v", user, err)
	}
	if controlled.GetFrom(&m) != nil || prio.GetFrom(&m) != nil || m.Contains(stun.AttrICEControlling) || m.Contains(stun.AttrUseCandidate) {
		t.Fatalf("request %v", &m)
	}
	if stun.NewShortTermIntegrity(testPeerPwd).Check(&m) != nil || stun.Fingerprint.Check(&m) != nil {
		t.Fatal("the request is not signed with the peer's password, or has no fingerprint")
	}
	if bytes.Equal(otherReq[8:20], req[8:20]) {
		t.Fatal("two requests with one transaction id")
	}

	for _, c := range []struct {
		name  string
		reply []byte
		from  netip.AddrPort
		taken bool
	}{
		{"another transaction id", peerReply{pwd: testPeerPwd, otherID: true}.to(t, req), from, false},
		{"another address's id", peerReply{pwd: testPeerPwd}.to(t, otherReq), from, false},
		{"from another proven address", peerReply{pwd: testPeerPwd}.to(t, req), other, false},
		{"from an address no check proved", peerReply{pwd: testPeerPwd}.to(t, req), netip.MustParseAddrPort("127.0.0.1:40002"), false},
		{"no integrity", peerReply{}.to(t, req), from, true},
		{"our own password", peerReply{pwd: l.pwd}.to(t, req), from, true},
		{"no fingerprint", peerReply{pwd: testPeerPwd, noFingerprint: true}.to(t, req), from, true},
		{"a request", peerReply{pwd: testPeerPwd, request: true}.to(t, req), from, false},
	} {
		refused := agents.answersRefused.Load()
		if got := agents.take(c.reply, c.from); got != c.taken {
			t.Errorf("%s: taken %v, want %v", c.name, got, c.taken)
		}
		if c.taken && agents.answersRefused.Load() != refused+1 {
			t.Errorf("%s: not counted as refused", c.name)
		}
		if len(*picked) != 0 || agents.proofs.Load() != 0 {
			t.Fatalf("%s: selected %v", c.name, *picked)
		}
	}
	if got := log.requests(from); len(got) != 0 {
		t.Fatalf("%d requests sent for the answers, want none", len(got))
	}

	genuine := peerReply{pwd: testPeerPwd}.to(t, req)
	if !agents.take(genuine, from) || len(*picked) != 1 || (*picked)[0] != from || l.dst().ap != from {
		t.Fatalf("the genuine answer: selected %v", *picked)
	}
	// Once: the same answer again proves nothing more.
	if agents.take(genuine, from) || agents.proofs.Load() != 1 {
		t.Fatalf("an answer taken twice: %d proofs", agents.proofs.Load())
	}
}

// TestICELiteForgedNominationGetsNoMedia: a nominated address that never answers (a
// check from a forged source, a victim's address) is never selected, however many
// checks name it; the selected path keeps the media, and the server sends the
// forged source no more requests than it got checks.
func TestICELiteForgedNominationGetsNoMedia(t *testing.T) {
	agents, l, log, picked, clock := newProofAgents(t)
	peer := netip.MustParseAddrPort("127.0.0.1:40000")
	victim := netip.MustParseAddrPort("192.0.2.7:5004")
	nominate(t, agents, l, peer)
	agents.take(peerReply{pwd: testPeerPwd}.to(t, log.lastRequest(t, peer)), peer)
	if len(*picked) != 1 || (*picked)[0] != peer {
		t.Fatalf("selected %v, want the peer", *picked)
	}
	for range 10 {
		*clock = clock.Add(20 * time.Second)
		nominate(t, agents, l, victim)
		if n := len(log.requests(victim)); n > 1 {
			t.Fatalf("%d requests for one check", n)
		}
		nominate(t, agents, l, peer) // the peer's consent checks, answered
		if req := log.requests(peer); len(req) == 1 {
			agents.take(peerReply{pwd: testPeerPwd}.to(t, req[0]), peer)
		}
	}
	if len(*picked) != 1 || l.dst().ap != peer {
		t.Fatalf("selected %v; sends to %v", *picked, l.dst().ap)
	}
	if l.consentLost(clock.UnixNano(), 25*time.Second) {
		t.Fatal("the peer lost its consent")
	}
}

// TestICELiteNominationBeforeTheAnswer: checks that come before the answer (whose
// password the server needs to ask) are asked once it comes, one request for each
// address they proved; the nominated one is selected at its answer.
func TestICELiteNominationBeforeTheAnswer(t *testing.T) {
	log := &liteSends{}
	agents := &liteAgents{send: log.send, now: time.Now}
	var picked []netip.AddrPort
	l := newICELite(func(p litePath) { picked = append(picked, p.ap) })
	agents.add(l)
	a, b := netip.MustParseAddrPort("127.0.0.1:40001"), netip.MustParseAddrPort("127.0.0.1:40002")
	agents.take(check{username: l.ufrag + ":early", pwd: l.pwd}.bytes(t), b)
	agents.take(check{username: l.ufrag + ":early", pwd: l.pwd, nominate: true}.bytes(t), a)
	if len(log.requests(a)) != 0 || len(picked) != 0 || !l.nominated() {
		t.Fatalf("before the answer: selected %v, nominated %v", picked, l.nominated())
	}
	newPwd, err := l.setRemote("early", testPeerPwd)
	if err != nil || !newPwd {
		t.Fatalf("setRemote: %v, %v", newPwd, err)
	}
	agents.askProven(l)
	log.mu.Lock()
	sent := append([]liteSent(nil), log.sent...)
	log.mu.Unlock()
	reqA := log.lastRequest(t, a)
	if len(sent) != 2 {
		t.Fatalf("%d requests at the answer, want one for each of 2 addresses", len(sent))
	}
	agents.take(peerReply{pwd: testPeerPwd}.to(t, reqA), a)
	if len(picked) != 1 || picked[0] != a {
		t.Fatalf("selected %v, want %v", picked, a)
	}
	// The same answer again asks nothing more.
	if again, _ := l.setRemote("early", testPeerPwd); again {
		t.Fatal("the same password is new again")
	}
}

// FuzzICELiteAnswer: whatever arrives from an address the server asked, take does not
// fail, and the address is selected only by a success response with the request's
// transaction id, signed with the peer's password and fingerprinted.
func FuzzICELiteAnswer(f *testing.F) {
	tid := [stun.TransactionIDSize]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	req, err := stun.Build(stun.NewTransactionIDSetter(tid), stun.BindingRequest, stun.NewUsername("peer:ufrag"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(peerReply{pwd: testPeerPwd}.to(f, req.Raw))
	f.Add(peerReply{pwd: testPeerPwd, otherID: true}.to(f, req.Raw))
	f.Add(peerReply{pwd: testPeerPwd, noFingerprint: true}.to(f, req.Raw))
	f.Add(peerReply{}.to(f, req.Raw))
	f.Add(peerReply{pwd: "not-the-peers-password-at-all"}.to(f, req.Raw))
	f.Add([]byte{1, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	f.Fuzz(func(t *testing.T, b []byte) {
		selected := false
		agents := &liteAgents{send: func([]byte, netip.AddrPort) error { return nil }, now: time.Now}
		l := &iceLite{ufrag: "ufrag", pwd: "a-password-of-22-chars!", onSelect: func(litePath) { selected = true }}
		l.key = stun.NewShortTermIntegrity(l.pwd)
		agents.add(l)
		if _, err := l.setRemote("peer", testPeerPwd); err != nil {
			t.Fatal(err)
		}
		// As a nominating check from from would have left it, with the request's id
		// fixed.
		l.prove(litePath{ap: from})
		l.nominee = litePath{ap: from}
		l.asks[0] = liteAsk{ap: from, tid: tid, remote: "peer", key: l.peerKey}
		in := bytes.Clone(b)
		agents.take(b, from)
		if selected {
			var m stun.Message
			if err := stun.Decode(in, &m); err != nil || m.Type != stun.BindingSuccess || m.TransactionID != tid ||
				stun.NewShortTermIntegrity(testPeerPwd).Check(&m) != nil || stun.Fingerprint.Check(&m) != nil {
				t.Fatalf("selected by %x (%v)", in, err)
			}
		}
	})
}

// TestICELiteAnswerReachesItsAgent: the answer to an agent's request is its own
// whichever agent's check last came from that address. Another participant who knows
// (or guesses) a subscriber's address and sends checks of its own connection in that
// address's name, between the subscriber's check and its answer, must not take the
// answer: with it the subscriber's consent would lapse and its media stop.
func TestICELiteAnswerReachesItsAgent(t *testing.T) {
	agents, l, log, picked, _ := newProofAgents(t)
	other := newICELite(func(litePath) {})
	agents.add(other)
	if _, err := other.setRemote("other", "the-others-own-password-456"); err != nil {
		t.Fatal(err)
	}
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	nominate(t, agents, l, from)
	req := log.lastRequest(t, from)
	// The other participant's check, in the name of the subscriber's address.
	if !agents.take(check{username: other.ufrag + ":other", pwd: other.pwd, nominate: true}.bytes(t), from) {
		t.Fatal("the other's check was not taken")
	}
	if !agents.take(peerReply{pwd: testPeerPwd}.to(t, req), from) {
		t.Fatal("the subscriber's answer was not taken")
	}
	if len(*picked) != 1 || (*picked)[0] != from {
		t.Fatalf("selected %v, want %v", *picked, from)
	}
	if n := agents.proofs.Load(); n != 1 {
		t.Fatalf("%d proofs, want 1", n)
	}
}
