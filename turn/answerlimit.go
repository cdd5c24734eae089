package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"conclave/connlimit"
)

// Over UDP a request's source address can be forged, and whatever the server answers
// before it has authenticated the request goes to whoever the source names: a 401 to a
// bare 20-byte Allocate is 72 bytes (ERROR-CODE without a reason phrase, a 24-character
// NONCE and the client's 12-character REALM, clientrealm.go, the attributes RFC 8489,
// section 9.2.4, requires; pion/turn sends no SOFTWARE; the nonce's length is
// pion/turn's own), a STUN Binding answer to a 20-byte request 40. Browsers' first Allocate is 28 bytes (Chromium) or 44 (Firefox),
// so the 401 cannot be made smaller than what it answers. Answered without bound, the
// UDP listener reflected 3.6 times what a forger sent at any victim. answerLimits
// bounds those answers: so many a second to one address (IPv6: one /64) and so many in
// all; the ones beyond are not sent (the request is handled all the same, the answer
// dropped as the network could have dropped it: a real client sends its request again).
// An answer carrying MESSAGE-INTEGRITY went to a client that proved its credentials and
// is never held back. TCP and TLS need no such bound: their handshake proves the
// address.
//
// Nor do the bounds an attacker can spend stand between a relay and its client: when
// pion/turn's nonce (an hour's) has gone stale, the next Refresh, CreatePermission or
// ChannelBind of every relay gets a 438 without MESSAGE-INTEGRITY, and a browser whose
// request goes unanswered through its retransmissions gives the relay up (Chromium
// fails its connections). So a client address and port that holds a relay is answered
// from a bucket of its own, at the rate of one address; an attacker must know that
// address and port to spend it, and reflects at most that rate at a participant. An
// address holding a relay (a browser's other connection, a colleague behind the same
// NAT) is bounded by its own bucket only, not by the one in all: forged sources spread
// over many victims spend that one, and to reach a participant's address beyond it
// they must know it. So is, while a member's credentials are not revoked, the address
// a member's websocket came from (memberJoined, Server.ICEServersFor): the 401s of a
// browser's first relays, which the bound in all would otherwise leave to chance in
// such a flood.
//
// And an address's bound grows with the members there (answersPerMember a second for
// each, up to the bound in all): Chromium, given no STUN server, sends a STUN Binding
// request to the UDP TURN URL every 10 s for each peer connection while the meeting
// lasts (measured: 0.2 a second a participant; Firefox none), from a port that holds
// no relay, so 500 pupils behind one NAT address spent the whole 100 a second with
// their keepalives and a newcomer's 401s went unanswered. A forged source naming such
// an address gets no more than its bound, which only admitted members there raise.

// Defaults of the bounds on unauthenticated answers, a second (and at once). Every
// relay a browser opens costs one 401 (its first Allocate carries no credentials; a
// browser opens two to four over UDP, and sends its request again when it gets no
// answer), so a class of 300 behind one NAT address opening its relays at the same
// moment is answered within 3 s (its bound grown by its 300 members to 400 a second:
// answersPerMember), one joining over a minute at once; 100 answers of 72 bytes are
// 58 kbit/s at a forged victim, 1000 in all 0.58 Mbit/s to the addresses a forger may
// name at will (those with a relay or a member are bounded each on its own, a member's
// at most at the 1000). The bound in all is what holds against forged sources spread
// over many victims.
const (
	DefaultUnauthenticatedAnswersPerAddr = 100
	DefaultUnauthenticatedAnswers        = 1000
)

// answersPerMember is what each member whose websocket came from an address adds to
// its bound a second: five times a Chromium participant's keepalives (0.2 a second),
// so that of 500 behind one address, who send 100 a second, 500 are left for the 401s
// of those joining (two to four each) and the Bindings of their first gathering.
const answersPerMember = 1

// answerLimits is two token buckets on the injected clock: one per address, one in all,
// each holding a second's worth of answers.
type answerLimits struct {
	perAddr, total bucketRate
	// perAddrN and totalN are the same a second: an address's bound grows from
	// perAddrN with its members, up to totalN (memberRate).
	perAddrN, totalN int
	now              func() time.Time

	mu  sync.Mutex
	all bucket
	// byAddr holds the addresses whose bucket is not full; a missing one is full. It
	// grows only by an answer sent, so by at most total a second, and is swept of full
	// buckets once it has doubled since the last sweep (sweepAt).
	byAddr  map[netip.Prefix]bucket
	sweepAt int
	// allocated holds the UDP clients (address and port) that hold a relay, each with
	// a bucket of its own, and allocatedIn counts them by address group: both grow only
	// with relays (credentials needed, at most Config.MaxAllocations).
	allocated   map[netip.AddrPort]allocatedClient
	allocatedIn map[netip.Prefix]int
	// members holds the address group of each member handed credentials, by their
	// username, until they are revoked (memberLeft: the membership ended), and
	// membersIn counts them by group, so that one leaving does not drop another's
	// address: both grow only with welcomes (admitted members) and shrink as members
	// leave (signaling revokes every credential it hands out).
	members   map[string]netip.Prefix
	membersIn map[netip.Prefix]int

	dropped atomic.Uint64
}

// allocatedClient is a UDP client's count of allocations (allocationCreated) and the
// bucket of its own that it has while the count is above zero.
type allocatedClient struct {
	own         bucket
	allocations int
}

// minAnswerSweep is the smallest map of addresses that is swept.
const minAnswerSweep = 1024

// bucketRate is a bucket's size, which it refills in a second: a token every interval.
type bucketRate struct {
	size     time.Duration // a second, a whole number of intervals
	interval time.Duration
}

func perSecond(n int) bucketRate {
	interval := time.Second / time.Duration(n)
	return bucketRate{size: interval * time.Duration(n), interval: interval}
}

// bucket is a token bucket kept as the instant it is full again (the zero time: full
// now); in whole nanoseconds, so that a clock moved by an interval gives exactly a token.
type bucket struct{ full time.Time }

// take takes a token at now if there is one.
func (b *bucket) take(now time.Time, r bucketRate) bool {
	if !b.can(now, r) {
		return false
	}
	if b.full.Before(now) {
		b.full = now
	}
	b.full = b.full.Add(r.interval)
	return true
}

// can reports whether b holds a token at now: what it lacks leaves at least one.
func (b bucket) can(now time.Time, r bucketRate) bool {
	return b.full.Sub(now) <= r.size-r.interval
}

func newAnswerLimits(perAddr, total int, now func() time.Time) *answerLimits {
	return &answerLimits{perAddr: perSecond(perAddr), total: perSecond(total), perAddrN: perAddr, totalN: total, now: now,
		byAddr: map[netip.Prefix]bucket{}, sweepAt: minAnswerSweep,
		allocated: map[netip.AddrPort]allocatedClient{}, allocatedIn: map[netip.Prefix]int{},
		members: map[string]netip.Prefix{}, membersIn: map[netip.Prefix]int{}}
}

// memberRate is the bound of an address with members there: answersPerMember a second
// more for each, up to the bound in all (and never below the bound of one address).
func (l *answerLimits) memberRate(members int) bucketRate {
	if members == 0 {
		return l.perAddr
	}
	n := l.perAddrN + min(members, l.totalN)*answersPerMember
	return perSecond(max(min(n, l.totalN), l.perAddrN))
}

// allow takes a token from to's bucket and the one in all, if both have one; from the
// bucket of to's own only if to holds a relay, and none from the one in all if to's
// address holds one or is a member's. The bucket of a member's address is larger by
// its members (memberRate).
func (l *answerLimits) allow(to net.Addr) bool {
	client, group := udpClientOf(to), connlimit.Group(to)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.allocated[client]; ok && c.allocations > 0 {
		if !c.own.take(now, l.perAddr) {
			l.dropped.Add(1)
			return false
		}
		l.allocated[client] = c
		return true
	}
	// A bucket is kept as the instant it is full again, a second's worth whatever its
	// rate: one whose members come or go keeps what it lacks as a share of a second.
	members := l.membersIn[group]
	rate := l.memberRate(members)
	mine := l.byAddr[group]
	if !mine.can(now, rate) || (l.allocatedIn[group] == 0 && members == 0 && !l.all.take(now, l.total)) {
		l.dropped.Add(1)
		return false
	}
	mine.take(now, rate)
	l.byAddr[group] = mine
	if len(l.byAddr) >= l.sweepAt {
		for g, b := range l.byAddr {
			if !b.full.After(now) {
				delete(l.byAddr, g)
			}
		}
		l.sweepAt = max(2*len(l.byAddr), minAnswerSweep)
	}
	return true
}

// memberJoined has the address group of client, a member just handed the credentials
// of username, bounded by its own bucket only, not by the one in all (the 401s of its
// first relays, which forged sources spread over many victims would otherwise leave to
// chance), and its bucket larger by a member (its keepalives), until memberLeft.
func (l *answerLimits) memberJoined(username string, client netip.Addr) {
	if !client.IsValid() {
		return
	}
	group := connlimit.Group(net.UDPAddrFromAddrPort(netip.AddrPortFrom(client, 0)))
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.members[username]; ok {
		return
	}
	l.members[username] = group
	l.membersIn[group]++
}

// memberLeft ends what memberJoined began for username (revoked: its member is gone);
// the address stays a member's while another member's credentials there are not
// revoked. A username never joined is ignored.
func (l *answerLimits) memberLeft(username string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	group, ok := l.members[username]
	if !ok {
		return
	}
	delete(l.members, username)
	if l.membersIn[group]--; l.membersIn[group] <= 0 {
		delete(l.membersIn, group)
	}
}

// allocationCreated and allocationDeleted follow the relays of the UDP listener's
// clients (pion/turn's events; a client over TCP or TLS has a *net.TCPAddr). They
// count each client's allocations, as streams counts a connection's (streams.go), and
// the client has its bucket while the count is above zero, whatever order the events
// come in: a client whose allocation ends on pion/turn's timer as it allocates again
// on the same address and port may have the old allocation reported deleted after the
// new one is reported created, and the late deletion took the new allocation's own
// bucket, so that in a flood its answers (a stale nonce's 438 among them) fell under
// the bound in all again; and the new one may be reported deleted before it is
// reported created (the old allocation's reader deletes what pion/turn holds at the
// five-tuple), and the creation reported last kept a bucket, and the address out of
// the bound in all, for a client that holds nothing. A count below zero is kept until
// the creation comes (an allocation in pion/turn's table, so within the caps).
func (l *answerLimits) allocationCreated(src net.Addr) {
	l.allocationsChanged(src, 1)
}

func (l *answerLimits) allocationDeleted(src net.Addr) {
	l.allocationsChanged(src, -1)
}

func (l *answerLimits) allocationsChanged(src net.Addr, by int) {
	if _, ok := src.(*net.UDPAddr); !ok {
		return
	}
	client, group := udpClientOf(src), connlimit.Group(src)
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.allocated[client]
	was := c.allocations > 0
	c.allocations += by
	if c.allocations == 0 {
		delete(l.allocated, client)
	} else {
		l.allocated[client] = c
	}
	switch is := c.allocations > 0; {
	case is && !was:
		l.allocatedIn[group]++
	case was && !is:
		if l.allocatedIn[group]--; l.allocatedIn[group] <= 0 {
			delete(l.allocatedIn, group)
		}
	}
}

// udpClientOf is a UDP client's address and port (IPv4 unmapped), the zero AddrPort
// for any other address.
func udpClientOf(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		return unmap(u.AddrPort())
	}
	return netip.AddrPort{}
}

// STUN framing (RFC 8489, sections 5 and 14; stunHeader and stunMagicCookie in
// directwrite.go).
const (
	stunClassResponseBit  = 0x0100 // C1: success and error responses
	attrMessageIntegrity  = 0x0008
	attrMessageIntegrity2 = 0x001C // MESSAGE-INTEGRITY-SHA256
)

// unauthenticatedAnswer reports whether b is a STUN response (success or error)
// without MESSAGE-INTEGRITY: one the server gives whoever a request's source names.
// ChannelData, indications and anything else are not answers.
func unauthenticatedAnswer(b []byte) bool {
	if len(b) < stunHeader || b[0]&0xc0 != 0 || binary.BigEndian.Uint32(b[4:]) != stunMagicCookie {
		return false
	}
	if binary.BigEndian.Uint16(b)&stunClassResponseBit == 0 {
		return false
	}
	end := min(stunHeader+int(binary.BigEndian.Uint16(b[2:])), len(b))
	for off := stunHeader; off+4 <= end; {
		switch binary.BigEndian.Uint16(b[off:]) {
		case attrMessageIntegrity, attrMessageIntegrity2:
			return false
		}
		off += 4 + (int(binary.BigEndian.Uint16(b[off+2:]))+3)&^3
	}
	return true
}

// answerLimitedConn is the UDP listener as pion/turn writes to it: an unauthenticated
// answer beyond the limits is dropped (reported as written, as a datagram the network
// lost would be); one within them names the realm of the client it goes to
// (clientrealm.go).
type answerLimitedConn struct {
	net.PacketConn
	limits *answerLimits
	realms clientRealms
}

func (c answerLimitedConn) WriteTo(b []byte, to net.Addr) (int, error) {
	if !unauthenticatedAnswer(b) {
		return c.PacketConn.WriteTo(b, to)
	}
	if !c.limits.allow(to) {
		return len(b), nil
	}
	if out, ok := withRealm(b, c.realms.of(to)); ok {
		if _, err := c.PacketConn.WriteTo(out, to); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, to)
}
