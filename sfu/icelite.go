package sfu

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/stun/v4"
)

// iceLite is the ICE of a connection the server runs itself as an ICE-lite agent
// (RFC 8445 §2.5), in the media socket's reader instead of in an agent of Pion's: the
// server has only host candidates (one UDP port, one TCP port), so it never needs to
// check a pair itself. It answers the peer's checks, takes the pair the peer nominates
// (the peer, a full agent, is the controlling one) and keeps the pair while the peer's
// consent checks (RFC 7675) keep coming. Pion's agent sends a check of its own every
// 2 s on every connection, answers the peer's, and keeps a task loop, a checking loop
// and a candidate reader for it; bench/README.md put ICE at 12–16 % of the server's CPU
// at 1 → 200.
//
// Its credentials are fixed: an ICE restart makes a new iceLite. What it learns (the
// selected address, when a check last proved it, which addresses passed a check) is
// guarded by mu, short, never held across I/O.
type iceLite struct {
	ufrag, pwd string
	key        stun.MessageIntegrity // the short-term key: pwd
	// onSelect is told the address the peer nominated whenever it changes, from the
	// socket's reader: it must not block. onDTLS gets the DTLS records that arrive from
	// a proven address, from the reader too. onLost is told when the consent expired
	// (liteAgents.sweep).
	onSelect func(litePath)
	onDTLS   func([]byte)
	onRTCP   func([]byte) // the SRTCP that arrives over ICE-TCP (over UDP the reader's routes serve it)
	onLost   func()

	mu     sync.Mutex
	remote string // the peer's ufrag, from its answer; "" until then (a check may come first)
	// seen is the remote ufrag of the checks answered before the answer came, which
	// the answer's must then match.
	seen      string
	selected  litePath
	confirmed int64 // the clock's UnixNano when a check on selected was last answered
	// proven are the paths that passed a check, newest first: only from these may the
	// connection's other datagrams (DTLS) be read.
	proven [maxProven]litePath
	tcps   []*liteTCP // the ICE-TCP connections checks came over, closed with it
}

// litePath is a way to the peer: an address on the media socket, or an ICE-TCP
// connection (whose remote address ap is then).
type litePath struct {
	ap  netip.AddrPort
	tcp *liteTCP
}

func (p litePath) valid() bool { return p.ap.IsValid() }

// maxProven bounds the addresses an iceLite remembers: a browser checks one pair for
// each of its candidates, a handful.
const maxProven = 8

// ICE credentials (RFC 8445 §5.3): the ufrag at least 24 bits, the password at least
// 128, of ice-chars. Ours carry 96 and 192 bits.
const (
	iceChars    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	iceUfragLen = 16
	icePwdLen   = 32
)

func newICELite(onSelect func(litePath)) *iceLite {
	ufrag, pwd := iceCredential(iceUfragLen), iceCredential(icePwdLen)
	return &iceLite{ufrag: ufrag, pwd: pwd, key: stun.NewShortTermIntegrity(pwd), onSelect: onSelect}
}

// iceCredential is n random ice-chars (64 of them: six bits each, no bias).
func iceCredential(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	for i := range b {
		b[i] = iceChars[b[i]&63]
	}
	return string(b)
}

var errICEUfrag = errors.New("sfu: the answer's ICE ufrag is not the one its checks used")

// setRemote takes the peer's ufrag from its answer. Checks answered before it came
// must have used the same.
func (l *iceLite) setRemote(ufrag string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen != "" && l.seen != ufrag {
		l.selected = litePath{}
		l.proven = [maxProven]litePath{}
		return errICEUfrag
	}
	l.remote = ufrag
	return nil
}

// checked notes a check from ap that passed, with the peer's ufrag, at now; nominated
// when it carried USE-CANDIDATE. It reports false for a ufrag other than the answer's,
// and the address that proving ap made it forget, if any.
func (l *iceLite) checked(ap litePath, remote []byte, nominated bool, now int64) (ok bool, evicted litePath) {
	l.mu.Lock()
	switch {
	case l.remote != "" && l.remote != string(remote):
		l.mu.Unlock()
		return false, evicted
	case l.remote == "" && l.seen == "":
		l.seen = string(remote)
	case l.remote == "" && l.seen != string(remote):
		l.mu.Unlock()
		return false, evicted
	}
	evicted = l.prove(ap)
	changed := nominated && l.selected != ap
	if nominated {
		l.selected = ap
	}
	if l.selected == ap {
		l.confirmed = now
	}
	l.mu.Unlock()
	if changed && l.onSelect != nil {
		l.onSelect(ap)
	}
	return true, evicted
}

// prove puts ap first among the proven addresses and returns the one that fell off
// the end, if any.
func (l *iceLite) prove(ap litePath) (evicted litePath) {
	i := 0
	for i < maxProven-1 && l.proven[i] != ap {
		i++
	}
	if l.proven[i] != ap {
		evicted = l.proven[i]
	}
	copy(l.proven[1:i+1], l.proven[:i])
	l.proven[0] = ap
	return evicted
}

// dst is where the peer is: its nominated address, or before a nomination the last
// address that passed a check (a browser may start DTLS as soon as its check is
// answered); invalid when there is neither.
func (l *iceLite) dst() litePath {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.selected.valid() {
		return l.selected
	}
	return l.proven[0]
}

// nominated reports whether the peer has nominated a path.
func (l *iceLite) nominated() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.selected.valid()
}

// isProven reports whether a check from the UDP address ap passed.
func (l *iceLite) isProven(ap netip.AddrPort) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.proven {
		if p.ap == ap && p.tcp == nil && ap.IsValid() {
			return true
		}
	}
	return false
}

// addTCP remembers a TCP connection a check came over, so that it is closed with l;
// beyond maxProven the oldest is closed now.
func (l *iceLite) addTCP(c *liteTCP) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.tcps {
		if x == c {
			return
		}
	}
	if len(l.tcps) == maxProven {
		l.tcps[0].close()
		l.tcps = l.tcps[1:]
	}
	l.tcps = append(l.tcps, c)
}

// closeTCP closes the TCP connections checks came over.
func (l *iceLite) closeTCP() {
	l.mu.Lock()
	tcps := l.tcps
	l.tcps = nil
	l.mu.Unlock()
	for _, c := range tcps {
		c.close()
	}
}

// consentLost reports, once, that the selected pair has had no check for longer than
// timeout at now (RFC 7675: its consent expired); the pair is forgotten then, and
// the peer must be proven and nominate again (after an ICE restart, in practice).
func (l *iceLite) consentLost(now int64, timeout time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.selected.valid() || now-l.confirmed <= int64(timeout) {
		return false
	}
	l.selected = litePath{}
	l.proven = [maxProven]litePath{}
	return true
}

// liteAgents are the iceLites whose checks the media socket's reader answers, by
// their ufrag, and the addresses their checks proved. A STUN message for a ufrag not
// here, and a DTLS record from an address not here, go to Pion's UDP mux as before.
type liteAgents struct {
	mu     sync.RWMutex
	m      map[string]*iceLite
	byAddr map[netip.AddrPort]*iceLite

	// allow says whether a check's source could be a peer's address
	// (candidateFilter.ipOK); nil allows all.
	allow func(netip.Addr) bool

	// send writes a response to the socket (the batching queue: it does not wait for
	// the system call); now is the engine's clock.
	send func(b []byte, to netip.AddrPort) error
	now  func() time.Time

	msgMu     sync.Mutex // req and resp, should the socket be read by two goroutines
	req, resp stun.Message

	answered, refused atomic.Uint64 // checks answered; checks for one of ours that failed
}

func (a *liteAgents) add(l *iceLite) {
	a.mu.Lock()
	if a.m == nil {
		a.m = make(map[string]*iceLite)
	}
	a.m[l.ufrag] = l
	a.mu.Unlock()
}

// remove forgets l and the addresses it proved, and closes its TCP connections.
func (a *liteAgents) remove(l *iceLite) {
	a.mu.Lock()
	if a.m[l.ufrag] == l {
		delete(a.m, l.ufrag)
	}
	for ap, x := range a.byAddr {
		if x == l {
			delete(a.byAddr, ap)
		}
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

// proved notes that ap belongs to l now (another connection's address before is
// l's now: the newest check wins), and that evicted no longer does.
func (a *liteAgents) proved(l *iceLite, p, evicted litePath) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m[l.ufrag] != l {
		return // removed meanwhile
	}
	if p.tcp != nil {
		return // its connection's reader knows its agent (litetcp.go)
	}
	if a.byAddr == nil {
		a.byAddr = make(map[netip.AddrPort]*iceLite)
	}
	a.byAddr[p.ap] = l
	if evicted.valid() && evicted.tcp == nil && a.byAddr[evicted.ap] == l {
		delete(a.byAddr, evicted.ap)
	}
}

// takeDTLS gives a DTLS record from an address a check proved to its connection, and
// reports whether it did.
func (a *liteAgents) takeDTLS(b []byte, from netip.AddrPort) bool {
	if !dtlsRecord(b) {
		return false
	}
	a.mu.RLock()
	l := a.byAddr[from]
	a.mu.RUnlock()
	if l == nil {
		return false
	}
	if l.onDTLS != nil {
		l.onDTLS(b)
	}
	return true
}

// sweep tells every agent whose consent expired by now (timeout without a check on
// its selected pair) so.
func (a *liteAgents) sweep(now int64, timeout time.Duration) {
	a.mu.RLock()
	var lost []*iceLite
	for _, l := range a.m {
		if l.consentLost(now, timeout) {
			lost = append(lost, l)
		}
	}
	a.mu.RUnlock()
	for _, l := range lost {
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

// take serves b if it is a binding request for one of the agents, and reports whether
// it did. A request for one of ours is answered only when its integrity (our
// password) and fingerprint hold and it comes from a controlling peer; otherwise it
// is dropped unanswered (and counted): an error response would tell a prober which
// ufrags exist.
func (a *liteAgents) take(b []byte, from netip.AddrPort) bool {
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
	ok, evicted := l.checked(from, remote, m.Contains(stun.AttrUseCandidate), a.now().UnixNano())
	if !ok {
		a.refused.Add(1)
		return true, nil, answer
	}
	a.proved(l, from, evicted)
	if err := a.respond(m, l, from.ap); err != nil {
		a.refused.Add(1)
		return true, nil, answer
	}
	if from.tcp != nil {
		return true, l, append(answer, a.resp.Raw...)
	}
	if err := a.send(a.resp.Raw, from.ap); err != nil {
		a.refused.Add(1)
		return true, nil, answer
	}
	a.answered.Add(1)
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
