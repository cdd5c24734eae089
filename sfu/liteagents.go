package sfu

import (
	"bytes"
	"crypto/rand"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/stun/v4"
)

// liteAgents are the iceLites whose checks the media socket's reader answers, by
// their ufrag, and the addresses their peers answered the server's requests from. A
// STUN message for a ufrag not here, and a DTLS record from an address not here, go
// to Pion's UDP mux as before.
type liteAgents struct {
	mu sync.RWMutex
	m  map[string]*iceLite
	// byAddr is the agent whose peer last answered one of the server's requests from
	// each address (takeAnswer): its DTLS records are that agent's (takeDTLS).
	byAddr map[netip.AddrPort]*iceLite
	byID   map[[askIDSize]byte]*iceLite // by the first bytes of their requests' ids
	// hold keeps the DTLS records from addresses not in byAddr that were sent a
	// request awaiting its answer, for the agent whose answer from there comes
	// (litehold.go).
	hold dtlsHold

	// allow says whether a check's source could be a peer's address
	// (candidateFilter.ipOK); nil allows all.
	allow func(netip.Addr) bool

	// send writes a response to the socket (the batching queue: it does not wait for
	// the system call); now is the engine's clock.
	send func(b []byte, to netip.AddrPort) error
	now  func() time.Time
	// consent is how long a UDP path stays routable after the peer last answered
	// the server's request on it (RFC 7675's consent); defaultConsent when 0.
	consent time.Duration

	msgMu          sync.Mutex // req, resp and out, should the socket be read by two goroutines
	req, resp, out stun.Message
	user           []byte // out's USERNAME

	answered, refused atomic.Uint64 // checks answered; checks for one of ours that failed
	// asked are the server's own requests sent, proofs the answers to them that held,
	// answersRefused those with a request's id whose integrity or fingerprint failed,
	// asksHeld the requests that checks (or the peer's password, askProven) earned
	// for addresses that never answered and the budget held back (askUnanswered).
	asked, proofs, answersRefused, asksHeld atomic.Uint64
	lost                                    atomic.Uint64 // selected paths whose consent expired (sweep)
	// dtlsHeld are the DTLS records held for an answer, dtlsGiven those of them given
	// at their answer, dtlsRefused those from an address awaiting its answer that the
	// hold's bounds of records and bytes kept out, dtlsNoRoom the requests whose
	// address the hold's bounds of addresses kept out (litehold.go).
	dtlsHeld, dtlsGiven, dtlsRefused, dtlsNoRoom atomic.Uint64
}

func (a *liteAgents) add(l *iceLite) {
	a.mu.Lock()
	if a.m == nil {
		a.m = make(map[string]*iceLite)
	}
	a.m[l.ufrag] = l
	if a.byID == nil {
		a.byID = make(map[[askIDSize]byte]*iceLite)
	}
	for a.byID[l.id] != nil && a.byID[l.id] != l {
		_, _ = rand.Read(l.id[:]) // l is not shared yet (its ufrag is in m only now)
	}
	a.byID[l.id] = l
	a.mu.Unlock()
}

// remove forgets l, the addresses it proved and the DTLS records held for its
// answers alone (all of them with the last agent: no answer can take any then), and
// closes its TCP connections.
func (a *liteAgents) remove(l *iceLite) { a.replace(l, nil) }

// replace is remove for l whose credentials next replaces on the same connection (an
// ICE restart; nil: none): the DTLS records held for l's requests are that
// connection's handshake's, and wait for next's answer instead (dtlsHold.handOver).
func (a *liteAgents) replace(l, next *iceLite) {
	a.mu.Lock()
	if next != nil && a.m[next.ufrag] == next {
		a.hold.handOver(l, next)
	}
	if a.m[l.ufrag] == l {
		delete(a.m, l.ufrag)
	}
	if a.byID[l.id] == l {
		delete(a.byID, l.id)
	}
	for ap, x := range a.byAddr {
		if x == l {
			delete(a.byAddr, ap)
		}
	}
	if len(a.m) == 0 {
		a.hold = dtlsHold{}
	} else {
		a.hold.forget(l)
	}
	a.mu.Unlock()
	l.closeTCP()
}

// closeAll closes every agent's TCP connections (the engine closes).
func (a *liteAgents) closeAll() {
	a.mu.RLock()
	all := make([]*iceLite, 0, len(a.m))
	for _, l := range a.m {
		all = append(all, l)
	}
	a.mu.RUnlock()
	for _, l := range all {
		l.closeTCP()
	}
}

// routeDTLS makes the DTLS records from the UDP address ap l's, l's peer having
// answered one of the server's requests from there (takeAnswer). Only an answer decides, never a check: a
// check proves that its sender knows the password, which is its own connection's,
// not that it is at the address it came from. Had the newest check from an address
// taken its records, as it did, a participant who sent a valid check of its own
// connection in the name of another's address while that one's handshake ran
// (another subscriber's, or a publisher's on Pion's mux) would have had its records,
// and the join would have failed; an answer needs the request's random transaction
// id, which only who receives at ap sees (liteproof.go). Of two agents whose peers
// answered from one address the newer answer wins: both received at ap, and the
// older one's peer is no longer there (a NAT gave its port to another, or it
// restarted ICE with new credentials).
//
// ap must still be one of l's proven paths: an answer may come after its address fell
// off them (maxProven checks from other addresses came first), and the eviction that
// takes an address's records from l (evicted) has then passed already. Kept, such an
// entry would stay until l is removed, and a peer that checks from fresh addresses and
// answers late would have grown the table by one for each, without bound. Asked under
// a.mu, so that a consent lost (sweep: proven emptied under a.mu's read lock, then
// the addresses dropped) cannot fall between the question and the entry; evictions
// are the checks', which msgMu keeps from every answer.
//
// It returns the records from ap held for an answer (litehold.go), in the order they
// came, for the caller to give l outside a.mu; the entry and their taking are one
// step under a.mu, so that no record from ap can be held after it.
func (a *liteAgents) routeDTLS(l *iceLite, ap netip.AddrPort, now int64) (held [][]byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m[l.ufrag] != l {
		return nil // removed meanwhile
	}
	if !l.isProven(ap) {
		return nil // forgotten before its answer came: its records are nobody's
	}
	if a.byAddr == nil {
		a.byAddr = make(map[netip.AddrPort]*iceLite)
	}
	a.byAddr[ap] = l
	return a.hold.take(ap, now)
}

// evicted notes that l forgot the path p (it fell off l's proven paths): p's DTLS
// records are no longer l's.
func (a *liteAgents) evicted(l *iceLite, p litePath) {
	if !p.valid() || p.tcp != nil {
		return // over TCP its connection's reader knows its agent (litetcp.go)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byAddr[p.ap] == l {
		delete(a.byAddr, p.ap)
	}
}

// takeDTLS gives a DTLS record from an address whose peer answered one of the
// server's requests to that agent's connection, and reports whether it did. A record
// from an address none answered is left to Pion's mux, as any other address's, which
// drops it as a network would: DTLS sends it again. A peer's first record does not
// always come after its answer, though: as the DTLS client (the server takes the
// server's role on these connections) it sends its ClientHello once the response to
// its own check makes the pair usable, and its answer to the request sent at that
// check may follow (measured in browsers, 4 connections of 21, 0–6 ms before the
// answer). Such a record, from an address that was sent a request awaiting its
// answer, is also kept for the agent whose answer comes (litehold.go), instead of
// waiting for the peer's retransmission (50 ms for a browser, a second for Pion).
// When the checks outrun the page's SDP answer, which carries the password the
// requests need, no request has gone, and a record before it still waits for its
// retransmission. A peer whose answers are all lost gets no handshake, as it gets no
// media. The server as the DTLS client starts only at the selection of an answered
// path.
func (a *liteAgents) takeDTLS(b []byte, from netip.AddrPort) bool {
	if !dtlsRecord(b) {
		return false
	}
	a.mu.RLock()
	l := a.byAddr[from]
	armed := l == nil && a.hold.armed(from)
	a.mu.RUnlock()
	if armed {
		l = a.holdDTLS(b, from)
	}
	if l == nil {
		return false
	}
	if l.onDTLS != nil {
		l.onDTLS(b)
	}
	return true
}

// sweep tells every agent whose consent expired by now (timeout without an answer
// from its selected path) so, asks the selected paths whose answer is overdue
// (liteconsent.go), and lets go of the DTLS records held for answers that did not
// come in time (litehold.go).
func (a *liteAgents) sweep(now int64, timeout time.Duration) {
	a.mu.RLock()
	var lost []*iceLite
	for _, l := range a.m {
		if l.consentLost(now, timeout) {
			lost = append(lost, l)
		}
	}
	a.mu.RUnlock()
	a.mu.Lock()
	a.hold.sweep(now)
	a.mu.Unlock()
	for _, l := range lost {
		a.lost.Add(1)
		a.mu.Lock()
		for ap, x := range a.byAddr {
			if x == l {
				delete(a.byAddr, ap)
			}
		}
		a.mu.Unlock()
		if l.onLost != nil {
			l.onLost()
		}
	}
	a.askConsent(now, timeout)
}

// empty reports whether there is no agent.
func (a *liteAgents) empty() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.m) == 0
}

func (a *liteAgents) lookup(ufrag []byte) *iceLite {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.m[string(ufrag)]
}

// isSTUN tells STUN from RTP, RTCP and DTLS on one socket (RFC 7983: a first byte of
// 0–3) and from anything else by its magic cookie (RFC 5389 §6).
func isSTUN(b []byte) bool {
	return len(b) >= 20 && b[0] < 4 && b[4] == 0x21 && b[5] == 0x12 && b[6] == 0xA4 && b[7] == 0x42
}

// take serves b if it is a binding request for one of the agents, or a peer's answer
// to one of the server's requests (takeAnswer), and reports whether it did. A request
// for one of ours is answered only when its integrity (our password) and fingerprint
// hold and it comes from a controlling peer; otherwise it is dropped unanswered (and
// counted): an error response would tell a prober which ufrags exist.
func (a *liteAgents) take(b []byte, from netip.AddrPort) bool {
	if isSTUN(b) && stun.BindingSuccess.Value() == uint16(b[0])<<8|uint16(b[1]) {
		return a.takeAnswer(b, from)
	}
	taken, _, _ := a.takeOn(b, litePath{ap: from}, nil)
	return taken
}

// takeOn is take for a check that came over from; passed is the agent whose check
// passed and was answered (nil for one dropped). A check that came over TCP is not
// answered here: its answer is appended to answer and returned, for the caller to
// write once the lock on the agents' messages is released. That lock is the media
// socket's reader's too, and a write to a peer that does not read (or whose
// subscriber's writer holds the connection) waits up to tcpWriteWait: held across
// it, one such peer would stop the reading of every publisher's media.
func (a *liteAgents) takeOn(b []byte, from litePath, answer []byte) (taken bool, passed *iceLite, reply []byte) {
	if !isSTUN(b) || stun.BindingRequest.Value() != uint16(b[0])<<8|uint16(b[1]) {
		return false, nil, answer
	}
	a.msgMu.Lock()
	defer a.msgMu.Unlock()
	m := &a.req
	if _, err := m.Write(b); err != nil {
		return false, nil, answer
	}
	user, err := m.Get(stun.AttrUsername)
	if err != nil {
		return false, nil, answer
	}
	local, remote, ok := bytes.Cut(user, []byte{':'})
	if !ok {
		return false, nil, answer
	}
	l := a.lookup(local)
	if l == nil {
		return false, nil, answer
	}
	if !a.valid(m, l) || (a.allow != nil && !a.allow(from.ap.Addr())) {
		a.refused.Add(1)
		return true, nil, answer
	}
	now := a.now().UnixNano()
	ok, evicted, ask, held := l.checked(from, remote, m.Contains(stun.AttrUseCandidate), now, a.consentTime())
	if !ok {
		a.refused.Add(1)
		return true, nil, answer
	}
	a.evicted(l, evicted)
	if err := a.respond(m, l, from.ap); err != nil {
		a.refused.Add(1)
		return true, nil, answer
	}
	if from.tcp != nil {
		return true, l, append(answer, a.resp.Raw...)
	}
	if ask.valid() {
		// Before the response: once it has it, the peer may send its ClientHello
		// before it answers the request, and the record waits for that answer then
		// (litehold.go).
		a.expectAnswer(l, ask.ap, now)
	}
	if err := a.send(a.resp.Raw, from.ap); err != nil {
		a.refused.Add(1)
		return true, nil, answer
	}
	a.answered.Add(1)
	if held {
		a.asksHeld.Add(1)
	}
	if ask.valid() {
		var err error
		if a.user, err = proofRequest(&a.out, a.user, l, ask); err == nil && a.send(a.out.Raw, from.ap) == nil {
			a.asked.Add(1)
		}
	}
	return true, l, answer
}

// valid checks what a binding request to l must carry: FINGERPRINT, MESSAGE-INTEGRITY
// with l's password, PRIORITY, and ICE-CONTROLLING (an ICE-lite agent is always the
// controlled one; RFC 8445 §6.1.1).
func (a *liteAgents) valid(m *stun.Message, l *iceLite) bool {
	if !m.Contains(stun.AttrPriority) || !m.Contains(stun.AttrICEControlling) || m.Contains(stun.AttrICEControlled) {
		return false
	}
	return stun.Fingerprint.Check(m) == nil && l.key.Check(m) == nil
}

// respond builds in a.resp the success response to the request m that came from ap,
// signed with l's password.
func (a *liteAgents) respond(m *stun.Message, l *iceLite, ap netip.AddrPort) error {
	r := &a.resp
	r.Reset()
	r.TransactionID = m.TransactionID
	r.Type = stun.BindingSuccess
	r.WriteHeader()
	addr := stun.XORMappedAddress{IP: net.IP(ap.Addr().Unmap().AsSlice()), Port: int(ap.Port())}
	if err := addr.AddTo(r); err != nil {
		return err
	}
	if err := l.key.AddTo(r); err != nil {
		return err
	}
	return stun.Fingerprint.AddTo(r)
}
