package sfu

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/stun/v4"
)

// iceLite is the ICE of a connection the server runs itself as an ICE-lite agent
// (RFC 8445 §2.5), in the media socket's reader instead of in an agent of Pion's: the
// server has only host candidates (one UDP port, one TCP port), so it never needs to
// check a pair itself. It answers the peer's checks and takes the pair the peer
// nominates (the peer, a full agent, is the controlling one). Pion's agent sends a
// check of its own every 2 s on every connection, answers the peer's, and keeps a task
// loop, a checking loop and a candidate reader for it; bench/README.md put ICE at
// 12–16 % of the server's CPU at 1 → 200.
//
// A check proves only that its sender knows the password, which is the peer's own (it
// is in the offer the page got): its source address can be forged. So before media go
// to a UDP address, the address must answer a request of the server's own with a
// random transaction id, which a forger does not see (liteproof.go): a nominated path
// is selected (onSelect, the media's route) once it is routable, and keeps the
// server's consent (RFC 7675) while such answers keep coming. Over ICE-TCP the
// handshake proved the address.
//
// Its credentials are fixed: an ICE restart makes a new iceLite. What it learns (the
// selected address, when the peer last consented to it, which addresses passed a check
// and when each last answered) is guarded by mu, short, never held across I/O.
type iceLite struct {
	ufrag, pwd string
	key        stun.MessageIntegrity // the short-term key: pwd
	tiebreaker uint64                // ICE-CONTROLLED's, in the server's requests
	// id begins the transaction id of each of its requests, so that an answer finds
	// its agent whichever agent's check last came from the address (liteAgents.add
	// makes it unique before l is shared).
	id [askIDSize]byte
	// onSelect is told the path media go to whenever it changes (one the peer
	// nominated, once it is routable), from the socket's reader: it must not block.
	// onDTLS gets the DTLS records that arrive from an address its peer answered
	// from (liteAgents.routeDTLS), from the reader too. onLost is told when the
	// consent expired (liteAgents.sweep).
	onSelect func(litePath)
	onDTLS   func([]byte)
	onRTCP   func([]byte) // the SRTCP that arrives over ICE-TCP (over UDP the reader's routes serve it)
	onLost   func()

	mu     sync.Mutex
	remote string // the peer's ufrag, from its answer; "" until then (a check may come first)
	// peerKey is the short-term key of the peer's password, from its answer: the
	// server's requests carry it; nil until then.
	peerKey stun.MessageIntegrity
	// seen is the remote ufrag of the checks answered before the answer came, which
	// the answer's must then match.
	seen     string
	selected litePath // where media go: nominated and routable
	// nominee is the path nominated last that was not routable then: it becomes the
	// selected one when its proof comes (liteproof.go).
	nominee   litePath
	confirmed int64 // the clock's UnixNano when the peer last consented to selected
	lastAsked int64 // when selected was last sent a request (liteconsent.go)
	// carried: selected is the path the credentials before an ICE restart selected
	// (takeOver), not one the peer nominated with these.
	carried bool
	// proven are the paths that passed a check, newest first: only these are asked
	// for the proof that routes media and DTLS to them (liteproof.go).
	proven  [maxProven]provenPath
	asks    [maxAsks]liteAsk // the server's requests not yet answered, a ring
	nextAsk int
	// inFlight are the requests to addresses that never answered that count against
	// the budget (askUnanswered): kept apart from asks, whose ring every request
	// joins, so that no other request can push one out of the count.
	inFlight [maxUnansweredAsks]flightAsk
	tcps     []*liteTCP // the ICE-TCP connections checks came over, closed with it
}

// provenPath is a path that passed a check and, for a UDP one, when the peer last
// answered the server's request on it (0: not yet), and whether a check from it that
// never answered awaits the request the budget held back (liteproof.go).
type provenPath struct {
	litePath
	answered int64
	wants    bool
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
	var tb [8]byte
	_, _ = rand.Read(tb[:])
	l := &iceLite{ufrag: ufrag, pwd: pwd, key: stun.NewShortTermIntegrity(pwd), onSelect: onSelect,
		tiebreaker: binary.BigEndian.Uint64(tb[:])}
	_, _ = rand.Read(l.id[:])
	return l
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

// setRemote takes the peer's ufrag and password from its answer. Checks answered
// before it came must have used the same ufrag. It reports whether the password is
// new: the addresses proven before can be asked for their proof then (askProven).
//
// When the first answer names another ufrag than such checks, what they proved is
// forgotten: they were not its peer's (no request has gone yet, so no address is the
// agent's for its records). A later answer that does is refused and changes nothing,
// as a refused answer must (ownSub.accept): what l knows was proven with the first
// answer's ufrag, and forgetting it would have left the writer's route without the
// selected path whose consent the sweep looks at (the media went on for good to an
// address that stopped answering), and the addresses whose DTLS records are l's
// without the proven paths whose eviction takes them out (liteAgents.evicted).
func (l *iceLite) setRemote(ufrag, pwd string) (newPwd bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen != "" && l.seen != ufrag {
		if l.remote != "" {
			return false, errICEUfrag
		}
		l.selected, l.nominee, l.carried = litePath{}, litePath{}, false
		l.proven = [maxProven]provenPath{}
		return false, errICEUfrag
	}
	l.remote = ufrag
	key := stun.NewShortTermIntegrity(pwd)
	if bytes.Equal(key, l.peerKey) {
		return false, nil
	}
	l.peerKey, l.asks = key, [maxAsks]liteAsk{} // asked with the old password: no longer
	return true, nil
}

// checked notes a check from ap that passed, with the peer's ufrag, at now; nominated
// when it carried USE-CANDIDATE. It reports false for a ufrag other than the answer's,
// the address that proving ap made it forget, if any, the request to send ap, if any
// (ask.valid()), and whether the budget held back the request the check earned. A
// nominated path is selected at once if it is routable: a TCP one, or a UDP one whose
// peer answered the server within the consent time; otherwise it waits for its proof.
// The selected UDP path is asked at each check (its consent; and on the server's
// clock while its answer is overdue: liteconsent.go), any other UDP path when it has
// not answered within a fifth of the consent time: at most one request for each
// check, never more than the peer sends, and for a path that never answered only
// within the budget of such requests in flight (askUnanswered).
func (l *iceLite) checked(ap litePath, remote []byte, nominated bool, now int64, consent time.Duration) (ok bool, evicted litePath, ask liteAsk, held bool) {
	l.mu.Lock()
	switch {
	case l.remote != "" && l.remote != string(remote):
		l.mu.Unlock()
		return false, evicted, ask, false
	case l.remote == "" && l.seen == "":
		l.seen = string(remote)
	case l.remote == "" && l.seen != string(remote):
		l.mu.Unlock()
		return false, evicted, ask, false
	}
	evicted = l.prove(ap)
	p := &l.proven[0]
	udp := ap.tcp == nil
	routable := !udp || (p.answered != 0 && now-p.answered <= int64(consent))
	changed := nominated && routable && l.selected != ap
	waits := nominated && !routable && l.selected != ap && l.nominee != ap
	switch {
	case changed:
		l.selected, l.nominee = ap, litePath{}
		l.confirmed = p.answered
	case waits:
		l.nominee = ap
	}
	if nominated && l.selected == ap {
		l.carried = false
	}
	if !udp && l.selected == ap {
		l.confirmed = now // the TCP connection is the peer's: its checks are its consent
	}
	if udp && l.peerKey != nil {
		switch {
		case l.selected == ap:
			ask, l.lastAsked = l.newAsk(ap.ap), now
		case p.answered == 0:
			ask = l.askUnanswered(p, now)
			held = !ask.valid()
		case now-p.answered > int64(consent/5):
			ask = l.newAsk(ap.ap)
		}
	}
	l.mu.Unlock()
	if changed && l.onSelect != nil {
		l.onSelect(ap)
	}
	return true, evicted, ask, held
}

// prove puts ap first among the proven addresses and returns the one that fell off
// the end, if any.
func (l *iceLite) prove(ap litePath) (evicted litePath) {
	i := 0
	for i < maxProven-1 && l.proven[i].litePath != ap {
		i++
	}
	p := l.proven[i]
	if p.litePath != ap {
		evicted, p = p.litePath, provenPath{litePath: ap}
	}
	copy(l.proven[1:i+1], l.proven[:i])
	l.proven[0] = p
	return evicted
}

// dst is where the peer is, for DTLS: the selected path, or else the newest proven
// path that is routable as the media's are (a TCP one, or a UDP one that answered one
// of the server's requests); invalid when there is none, and the handshake's flight
// is dropped as a network would drop it (it goes again). A nominee that has not
// answered gets none: a server's flight with its certificate is about a kilobyte, sent
// up to five times in the handshake's time, and a nomination forged from a victim's
// address would have had them sent there. The peer's own answer comes within a few
// milliseconds of its first DTLS record (a browser starts DTLS once its checks
// succeed, and the server's request went just after the answer to its first check),
// now and then just after it: the record is held until the answer comes
// (litehold.go), and the reply to it goes where the answer came from.
func (l *iceLite) dst() litePath {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.selected.valid() {
		return l.selected
	}
	for _, p := range l.proven {
		if p.valid() && (p.tcp != nil || p.answered != 0) {
			return p.litePath
		}
	}
	return litePath{}
}

// nominated reports whether the peer has nominated a path with l's credentials.
func (l *iceLite) nominated() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return (l.selected.valid() && !l.carried) || l.nominee.valid()
}

// takeOver makes the path old selected l's (an ICE restart: old's credentials are
// forgotten now), with the time its consent was last renewed, until the peer
// nominates one with l's. The media stay where they were meanwhile, as long as the
// consent lasts: it is renewed only by answers from that path to the requests l sends
// at the peer's checks with the new credentials, and it expires (sweep) as it would
// have with old's. Without it the route outlived old, whose consent nobody looked at
// any more.
func (l *iceLite) takeOver(old *iceLite) {
	old.mu.Lock()
	sel, confirmed := old.selected, old.confirmed
	old.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !sel.valid() || l.selected.valid() {
		return
	}
	l.selected, l.confirmed, l.carried = sel, confirmed, true
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

// answeredFrom reports whether the peer answered one of l's requests from the UDP
// address ap: a proven path that answered, or the selected one (which answered, with
// l's credentials or, carried over an ICE restart, with those before).
func (l *iceLite) answeredFrom(ap netip.AddrPort) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.selected.ap == ap && l.selected.tcp == nil && ap.IsValid() {
		return true
	}
	for _, p := range l.proven {
		if p.ap == ap && p.tcp == nil && p.answered != 0 && ap.IsValid() {
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

// consentLost reports, once, that the selected pair has had no answer for longer than
// timeout at now (RFC 7675: its consent expired); the pair is forgotten then, and
// the peer must be proven and nominate again (after an ICE restart, in practice).
func (l *iceLite) consentLost(now int64, timeout time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.selected.valid() || now-l.confirmed <= int64(timeout) {
		return false
	}
	l.selected, l.nominee, l.carried = litePath{}, litePath{}, false
	l.proven = [maxProven]provenPath{}
	l.asks = [maxAsks]liteAsk{}
	return true
}
