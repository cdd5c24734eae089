package turn_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"conclave/turn"
)

// bareAllocate is the smallest request the server answers with a 401: an Allocate of
// a STUN header alone, as a forger who names a victim as its source sends it.
func bareAllocate(t *testing.T) []byte {
	t.Helper()
	return stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest)).Raw
}

// ask sends req from c to the server's UDP listener.
func (f *fixture) ask(t *testing.T, c net.PacketConn, req []byte) {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp4", f.serverAddr(t, "turn", "udp"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteTo(req, to); err != nil {
		t.Fatal(err)
	}
}

// answer reads the server's answer to c and decodes it.
func answer(t *testing.T, c net.PacketConn) *stun.Message {
	t.Helper()
	b, _ := readOne(t, c)
	m := &stun.Message{Raw: b}
	if err := m.Decode(); err != nil {
		t.Fatalf("answer %x: %v", b, err)
	}
	return m
}

// want401 reads c's next answer, which must be a 401.
func want401(t *testing.T, c net.PacketConn) *stun.Message {
	t.Helper()
	m := answer(t, c)
	var code stun.ErrorCodeAttribute
	if err := code.GetFrom(m); err != nil || code.Code != stun.CodeUnauthorized {
		t.Fatalf("answer %v (%v), want a 401", m, err)
	}
	return m
}

// TestUnauthenticatedAnswerSize measures what an unauthenticated Allocate over UDP
// gets back: the 401 holds what RFC 8489 (section 9.2.4) asks of it, ERROR-CODE, NONCE
// and REALM, and nothing else (no reason phrase, no SOFTWARE): 72 bytes for the bare 20
// of the request (3.6 times), 2.6 times an Allocate with its REQUESTED-TRANSPORT (the
// realm, the client's own, is 12 characters: clientrealm.go).
func TestUnauthenticatedAnswerSize(t *testing.T) {
	f := newFixture(t, nil)
	c := listenUDP(t, "127.0.0.1:0")
	withTransport := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
		stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}).Raw
	for _, req := range [][]byte{bareAllocate(t), withTransport} {
		f.ask(t, c, req)
		m := want401(t, c)
		t.Logf("a %d-byte Allocate is answered with %d bytes (%.1f times): %v", len(req), len(m.Raw), float64(len(m.Raw))/float64(len(req)), m)
		var types []stun.AttrType
		for _, a := range m.Attributes {
			types = append(types, a.Type)
		}
		if len(types) != 3 || types[0] != stun.AttrErrorCode || types[1] != stun.AttrNonce || types[2] != stun.AttrRealm {
			t.Errorf("attributes %v, want ERROR-CODE, NONCE and REALM only", types)
		}
		if len(m.Raw) > 72 {
			t.Errorf("the 401 is %d bytes, want at most 72", len(m.Raw))
		}
	}
}

// TestUnauthenticatedAnswersAreBoundedPerAddress: an address gets so many unauthenticated
// answers a second (here 3) and no more, whichever port it sends from; the requests
// beyond are not answered, until the clock has given it another. Answers to a client
// that proved its credentials (MESSAGE-INTEGRITY) are never held back, and another
// address is answered.
func TestUnauthenticatedAnswersAreBoundedPerAddress(t *testing.T) {
	f := newFixture(t, nil, func(c *turn.Config) { c.UnauthenticatedAnswersPerAddr = 3 })
	// A client of 127.0.0.1 opens its relay with the first answer (a 401).
	user, pass := f.creds(t)
	relay, err := f.udpClient(t, user, pass).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()

	victim := listenUDP(t, "127.0.0.1:0")
	samePlace := listenUDP(t, "127.0.0.1:0")
	elsewhere := listenUDP(t, "127.0.0.2:0")
	// handled proves that the server has handled what came before (its UDP listener
	// reads in order): elsewhere's request is answered after it.
	handled := func() {
		t.Helper()
		f.ask(t, elsewhere, bareAllocate(t))
		want401(t, elsewhere)
	}
	for range 2 {
		f.ask(t, victim, bareAllocate(t))
		want401(t, victim)
	}
	f.ask(t, victim, bareAllocate(t))
	f.ask(t, samePlace, bareAllocate(t))
	handled()
	if !nothingQueued(t, victim) || !nothingQueued(t, samePlace) {
		t.Fatal("127.0.0.1 got more than 3 unauthenticated answers at once")
	}
	if n := f.srv.UnauthenticatedAnswersDropped(); n != 2 {
		t.Errorf("%d answers dropped, want 2", n)
	}
	// The relay's permission and channel (authenticated requests and answers) work.
	sendToSFU(t, f, relay)

	f.clock.Advance(time.Second / 3)
	f.ask(t, samePlace, bareAllocate(t))
	want401(t, samePlace)
	f.ask(t, victim, bareAllocate(t))
	handled()
	if !nothingQueued(t, victim) {
		t.Fatal("127.0.0.1 got 2 unauthenticated answers in a third of a second")
	}
}

// TestUnauthenticatedAnswersAreBoundedInAll: requests forged from ever new addresses are
// answered so many times a second in all (here 3), each address within its own bound.
func TestUnauthenticatedAnswersAreBoundedInAll(t *testing.T) {
	f := newFixture(t, nil, func(c *turn.Config) { c.UnauthenticatedAnswers = 3 })
	// A client of 127.0.0.1 opens its relay with the first answer (a 401).
	user, pass := f.creds(t)
	relay, err := f.udpClient(t, user, pass).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	var sources []net.PacketConn
	for _, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"} {
		sources = append(sources, listenUDP(t, ip+":0"))
	}
	for _, c := range sources[:2] {
		f.ask(t, c, bareAllocate(t))
		want401(t, c)
	}
	f.ask(t, sources[2], bareAllocate(t))
	// The relay's permission and channel (authenticated, in order after the request
	// before) prove that the server has handled it.
	sendToSFU(t, f, relay)
	if !nothingQueued(t, sources[2]) {
		t.Fatal("a fourth address was answered within the 3 a second in all")
	}
	f.clock.Advance(time.Second / 3)
	f.ask(t, sources[3], bareAllocate(t))
	want401(t, sources[3])
}

// rawRelay opens a relay for c as a browser does (an Allocate, its 401, the Allocate
// with credentials) and returns the request maker of c's relay: method with the
// credentials, nonce and attrs, as in the server's realm.
func (f *fixture) rawRelay(t *testing.T, c net.PacketConn, user, pass string) (realm string, nonce stun.Nonce, request func(stun.Method, stun.Nonce, ...stun.Setter) []byte) {
	t.Helper()
	f.ask(t, c, bareAllocate(t))
	challenge := want401(t, c)
	var r stun.Realm
	if err := nonce.GetFrom(challenge); err != nil {
		t.Fatal(err)
	}
	if err := r.GetFrom(challenge); err != nil {
		t.Fatal(err)
	}
	realm = r.String()
	request = func(method stun.Method, nonce stun.Nonce, attrs ...stun.Setter) []byte {
		setters := append([]stun.Setter{stun.TransactionID, stun.NewType(method, stun.ClassRequest)}, attrs...)
		return stun.MustBuild(append(setters, stun.NewUsername(user), stun.NewRealm(realm), nonce,
			stun.NewLongTermIntegrity(user, realm, pass))...).Raw
	}
	f.ask(t, c, request(stun.MethodAllocate, nonce, stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}))
	if m := answer(t, c); m.Type != stun.NewType(stun.MethodAllocate, stun.ClassSuccessResponse) {
		t.Fatalf("allocate: %v, want a relay", m)
	}
	return realm, nonce, request
}

// TestStaleNonceReachesARelayInAFlood: a client that holds a relay is answered however
// many forged requests spent the bounds, its address's and the one in all. pion/turn's
// nonce goes stale after an hour: the relay's next Refresh gets a 438 (no
// MESSAGE-INTEGRITY: it is checked before the credentials) with a new nonce, and the
// Refresh with that one keeps the relay. A browser that got no 438 through its
// retransmissions would give the relay up.
func TestStaleNonceReachesARelayInAFlood(t *testing.T) {
	f := newFixture(t, nil, func(c *turn.Config) { c.UnauthenticatedAnswersPerAddr, c.UnauthenticatedAnswers = 1, 2 })
	user, pass := f.creds(t)
	// The relay's 401 spent 127.0.0.1's bound, a forger the rest of the one in all.
	c := listenUDP(t, "127.0.0.1:0")
	_, _, request := f.rawRelay(t, c, user, pass)
	forged := []net.PacketConn{listenUDP(t, "127.0.0.2:0"), listenUDP(t, "127.0.0.3:0"), listenUDP(t, "127.0.0.1:0")}
	f.ask(t, forged[0], bareAllocate(t))
	want401(t, forged[0])
	for _, from := range forged {
		f.ask(t, from, bareAllocate(t))
	}

	// A nonce the server did not make now is stale, as pion/turn's own is after an hour.
	f.ask(t, c, request(stun.MethodRefresh, stun.NewNonce("0stale0")))
	m := answer(t, c)
	var code stun.ErrorCodeAttribute
	var fresh stun.Nonce
	if err := code.GetFrom(m); err != nil || code.Code != stun.CodeStaleNonce || fresh.GetFrom(m) != nil {
		t.Fatalf("a Refresh with a stale nonce: %v, want a 438 with a nonce", m)
	}
	f.ask(t, c, request(stun.MethodRefresh, fresh))
	if m := answer(t, c); m.Type != stun.NewType(stun.MethodRefresh, stun.ClassSuccessResponse) {
		t.Fatalf("a Refresh with the new nonce: %v, want the relay refreshed", m)
	}
	// The bounds still hold for everybody else (the Refresh answered proves the
	// requests before it handled).
	for _, from := range forged {
		if !nothingQueued(t, from) {
			t.Fatalf("%v answered beyond the bounds", from.LocalAddr())
		}
	}
}

// TestAddressWithARelayIsAnsweredBeyondTheBoundInAll: an address that holds a relay (a
// browser's other connection opening one, a colleague behind the same NAT) is answered
// within its own bound when forged requests from elsewhere spent the one in all; once
// its relay is gone, it is bounded like any other.
func TestAddressWithARelayIsAnsweredBeyondTheBoundInAll(t *testing.T) {
	f := newFixture(t, nil, func(c *turn.Config) { c.UnauthenticatedAnswers = 2 })
	user, pass := f.creds(t)
	c := listenUDP(t, "127.0.0.1:0")
	_, nonce, request := f.rawRelay(t, c, user, pass)
	forged := []net.PacketConn{listenUDP(t, "127.0.0.2:0"), listenUDP(t, "127.0.0.3:0")}
	f.ask(t, forged[0], bareAllocate(t))
	want401(t, forged[0])
	f.ask(t, forged[1], bareAllocate(t))

	second := listenUDP(t, "127.0.0.1:0")
	f.ask(t, second, bareAllocate(t))
	want401(t, second)
	if !nothingQueued(t, forged[1]) {
		t.Fatal("127.0.0.3 answered beyond the bound in all")
	}

	// The relay ends (a Refresh of lifetime 0): 127.0.0.1 holds none any more.
	f.ask(t, c, request(stun.MethodRefresh, nonce, stun.RawAttribute{Type: stun.AttrLifetime, Value: []byte{0, 0, 0, 0}}))
	if m := answer(t, c); m.Type != stun.NewType(stun.MethodRefresh, stun.ClassSuccessResponse) {
		t.Fatalf("a Refresh of lifetime 0: %v", m)
	}
	if n := f.srv.AllocationCount(); n != 0 {
		t.Fatalf("%d allocations", n)
	}
	third := listenUDP(t, "127.0.0.1:0")
	f.ask(t, third, bareAllocate(t))
	// An answer to c (with credentials, never held back) proves the request handled.
	f.ask(t, c, request(stun.MethodAllocate, nonce, stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}))
	answer(t, c)
	if !nothingQueued(t, third) {
		t.Fatal("127.0.0.1 answered beyond the bound in all after its relay ended")
	}
}

// TestMemberAddressIsAnsweredBeyondTheBoundInAll: the address of a member handed
// credentials (ICEServersFor: signaling gives the address of the member's websocket)
// is answered within its own bound when forged requests from elsewhere spent the one
// in all, so that the 401 of its first relay arrives, and so it is for as long as a
// member there has credentials not revoked, past their time to open a relay (the STUN
// keepalives of its browser go on); once the last member's are revoked (they left;
// another's leaving before does not end it), it is bounded like any other.
func TestMemberAddressIsAnsweredBeyondTheBoundInAll(t *testing.T) {
	f := newFixture(t, nil, func(c *turn.Config) { c.UnauthenticatedAnswers = 2 })
	// A relay of 127.0.0.1 (its 401 the first answer in all) proves, by what it sends
	// the SFU, that the server has handled what came before.
	user, pass := f.creds(t)
	relay, err := f.udpClient(t, user, pass).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	forged := []net.PacketConn{listenUDP(t, "127.0.0.2:0"), listenUDP(t, "127.0.0.3:0")}
	f.ask(t, forged[0], bareAllocate(t))
	want401(t, forged[0])
	f.ask(t, forged[1], bareAllocate(t))

	var members []string
	for range 2 {
		members = append(members, f.srv.ICEServersFor(f.clock.Now(), netip.MustParseAddr("::ffff:127.0.0.5"))[0].Username)
	}
	member, stranger := listenUDP(t, "127.0.0.5:0"), listenUDP(t, "127.0.0.6:0")
	f.ask(t, member, bareAllocate(t))
	f.ask(t, stranger, bareAllocate(t))
	sendToSFU(t, f, relay)
	want401(t, member) // handled, so waiting already if it was sent
	if !nothingQueued(t, forged[1]) || !nothingQueued(t, stranger) {
		t.Fatal("an address without a member answered beyond the bound in all")
	}

	// The credentials (TTL 5 minutes) open no relay any more, but their members are
	// still there: 127.0.0.5 is answered beyond the bound in all, spent again.
	f.clock.Advance(5 * time.Minute)
	for _, c := range forged {
		f.ask(t, c, bareAllocate(t))
		want401(t, c)
	}
	f.ask(t, member, bareAllocate(t))
	sendToSFU(t, f, relay)
	want401(t, member)

	// One member leaves: the other is still there.
	f.srv.Revoke(members[0])
	f.ask(t, member, bareAllocate(t))
	sendToSFU(t, f, relay)
	want401(t, member)

	// The last leaves: 127.0.0.5 is bounded by the one in all again.
	f.srv.Revoke(members[1])
	f.ask(t, member, bareAllocate(t))
	sendToSFU(t, f, relay)
	if !nothingQueued(t, member) {
		t.Fatal("127.0.0.5 answered beyond the bound in all after its last member's credentials were revoked")
	}
}

// TestKeepalivesOfManyMembersLeaveRoomForNewcomers: Chromium sends a STUN Binding
// request to the UDP TURN URL every 10 s for each of a participant's two peer
// connections while the meeting lasts (measured; Firefox sends none), from a port that
// holds no relay. 500 members behind one NAT address send 100 a second, as many as the
// bound of one address: a newcomer's 401s there went unanswered. With answersPerMember
// for each member, the address has 600 a second: the keepalives are answered, so are the
// newcomer's 401s, and requests forged in its name get no more than those 600; when the
// members have left, 100 again.
func TestKeepalivesOfManyMembersLeaveRoomForNewcomers(t *testing.T) {
	f := newFixture(t, nil)
	school := netip.MustParseAddr("127.0.0.5")
	var members []string
	for range 500 {
		members = append(members, f.srv.ICEServersFor(f.clock.Now(), school)[0].Username)
	}
	elsewhere := listenUDP(t, "127.0.0.2:0")
	// handled proves that the server has handled what came before (its UDP listener
	// reads in order): elsewhere's request is answered after it.
	handled := func() {
		t.Helper()
		f.ask(t, elsewhere, bareAllocate(t))
		want401(t, elsewhere)
	}
	queued := func(c net.PacketConn) int {
		n := 0
		for !nothingQueued(t, c) {
			n++
		}
		return n
	}

	// A second of the members' keepalives, each answered.
	keepalive := listenUDP(t, "127.0.0.5:0")
	for i := range 100 {
		f.ask(t, keepalive, stun.MustBuild(stun.TransactionID, stun.BindingRequest).Raw)
		if m := answer(t, keepalive); m.Type != stun.BindingSuccess {
			t.Fatalf("keepalive %d: %v, want a Binding answer", i, m)
		}
	}
	// In the same second a newcomer opens its relays: four 401s.
	newcomer := listenUDP(t, "127.0.0.5:0")
	for range 4 {
		f.ask(t, newcomer, bareAllocate(t))
	}
	handled()
	if n := queued(newcomer); n != 4 {
		t.Fatalf("the newcomer got %d of its 4 401s beside 500 members' keepalives", n)
	}

	// Forged requests naming the school's address get the rest of its 600 and no more
	// (sent fifty at a time, each lot handled before the next, so that the server's
	// socket buffer loses none).
	flood := listenUDP(t, "127.0.0.5:0")
	floodOf := func(n int) {
		t.Helper()
		for sent := 0; sent < n; sent += 50 {
			for range min(50, n-sent) {
				f.ask(t, flood, bareAllocate(t))
			}
			handled()
		}
	}
	floodOf(600)
	if n := f.srv.UnauthenticatedAnswersDropped(); n != 104 {
		t.Fatalf("%d answers dropped of 600 forged in the school's name after 104 answered, want 104", n)
	}

	// The members leave: a second later the address has 100 again.
	for _, m := range members {
		f.srv.Revoke(m)
	}
	f.clock.Advance(time.Second)
	floodOf(101)
	if n := f.srv.UnauthenticatedAnswersDropped(); n != 105 {
		t.Fatalf("%d answers dropped after another 101 forged without members there, want 105", n)
	}
}
