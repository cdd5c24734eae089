package turn_test

import (
	"net"
	"testing"

	"github.com/pion/stun/v4"

	"conclave/turn"
)

// TestForeignRealmIsRefused: an Allocate with the right credentials, whose REALM and key
// (MD5 of username:realm:password, RFC 8489 section 9.2.2) name a realm other than the
// server's, is refused with a 401; the same request in the server's realm opens a
// relay.
func TestForeignRealmIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	user, pass := f.creds(t)
	c := listenUDP(t, "127.0.0.1:0")
	f.ask(t, c, bareAllocate(t))
	challenge := want401(t, c)
	var nonce stun.Nonce
	var realm stun.Realm
	if err := nonce.GetFrom(challenge); err != nil {
		t.Fatal(err)
	}
	if err := realm.GetFrom(challenge); err != nil {
		t.Fatal(err)
	}
	allocate := func(realm string) *stun.Message {
		t.Helper()
		f.ask(t, c, stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
			stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}},
			stun.NewUsername(user), stun.NewRealm(realm), nonce,
			stun.NewLongTermIntegrity(user, realm, pass)).Raw)
		return answer(t, c)
	}
	for _, foreign := range []string{"elsewhere", realm.String() + "x", ""} {
		m := allocate(foreign)
		var code stun.ErrorCodeAttribute
		if err := code.GetFrom(m); err != nil || code.Code != stun.CodeUnauthorized {
			t.Fatalf("realm %q: %v, want a 401", foreign, m)
		}
	}
	if n := f.srv.AllocationCount(); n != 0 {
		t.Fatalf("%d allocations in foreign realms", n)
	}
	if m := allocate(realm.String()); m.Type != stun.NewType(stun.MethodAllocate, stun.ClassSuccessResponse) {
		t.Fatalf("realm %q: %v, want a relay", realm, m)
	}
}

// TestRealmIsBoundToTheSource: over UDP the realm of the 401 is made for the address
// and port it goes to, and a request is taken only in its source's realm. A member
// (credentials, a 401 of their own) who sends authenticated requests naming someone
// else as their source (here sent from the victim's socket, which is what a forged
// source amounts to) gets a 401 there, without MESSAGE-INTEGRITY and so bounded like
// any unauthenticated answer, and no relay; in their own realm, and the victim in
// theirs, the same requests open relays.
func TestRealmIsBoundToTheSource(t *testing.T) {
	f := newFixture(t, nil, func(c *turn.Config) { c.UnauthenticatedAnswersPerAddr = 3 })
	user, pass := f.creds(t)
	member := listenUDP(t, "127.0.0.1:0")
	f.ask(t, member, bareAllocate(t))
	challenge := want401(t, member)
	var nonce stun.Nonce
	var realm stun.Realm
	if err := nonce.GetFrom(challenge); err != nil {
		t.Fatal(err)
	}
	if err := realm.GetFrom(challenge); err != nil {
		t.Fatal(err)
	}
	allocate := func(from net.PacketConn, realm string) *stun.Message {
		t.Helper()
		f.ask(t, from, stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
			stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}},
			stun.NewUsername(user), stun.NewRealm(realm), nonce,
			stun.NewLongTermIntegrity(user, realm, pass)).Raw)
		return answer(t, from)
	}
	victims := []net.PacketConn{listenUDP(t, "127.0.0.2:0"), listenUDP(t, "127.0.0.1:0")} // another address, another port
	for _, victim := range victims {
		m := allocate(victim, realm.String())
		var code stun.ErrorCodeAttribute
		var theirs stun.Realm
		if err := code.GetFrom(m); err != nil || code.Code != stun.CodeUnauthorized || m.Contains(stun.AttrMessageIntegrity) {
			t.Fatalf("the member's realm from %v: %v, want a 401 without MESSAGE-INTEGRITY", victim.LocalAddr(), m)
		}
		if err := theirs.GetFrom(m); err != nil || theirs.String() == realm.String() {
			t.Fatalf("the 401 to %v names realm %q, the member's is %q", victim.LocalAddr(), theirs, realm)
		}
	}
	if n := f.srv.AllocationCount(); n != 0 {
		t.Fatalf("%d relays opened from sources the realm was not made for", n)
	}
	// 127.0.0.2's bound (3 a second) is spent by the 401 above and two more; the next
	// forged request gets no answer (the member's relay below proves it handled).
	victim := victims[0]
	for range 2 {
		f.ask(t, victim, bareAllocate(t))
		want401(t, victim)
	}
	f.ask(t, victim, stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
		stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}},
		stun.NewUsername(user), realm, nonce, stun.NewLongTermIntegrity(user, realm.String(), pass)).Raw)

	if m := allocate(member, realm.String()); m.Type != stun.NewType(stun.MethodAllocate, stun.ClassSuccessResponse) {
		t.Fatalf("the member in their own realm: %v, want a relay", m)
	}
	if !nothingQueued(t, victim) {
		t.Fatal("a request in another's realm answered beyond the victim's bound")
	}
	// The victim, a client of its own, opens a relay in its own realm.
	other := victims[1]
	f.ask(t, other, bareAllocate(t))
	var own stun.Realm
	if err := own.GetFrom(want401(t, other)); err != nil {
		t.Fatal(err)
	}
	if m := allocate(other, own.String()); m.Type != stun.NewType(stun.MethodAllocate, stun.ClassSuccessResponse) {
		t.Fatalf("%v in its own realm: %v, want a relay", other.LocalAddr(), m)
	}
}
