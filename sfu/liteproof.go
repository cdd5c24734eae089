package sfu

import (
	"crypto/rand"
	"net/netip"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
)

// A check with the connection's password proves that its sender knows the password,
// not that it is at the address it came from: the password is the peer's own (the
// page has it in its offer), and a source address can be forged on many networks. Had
// the nomination of any address whose check held been the media's route, a peer could
// have had a meeting's video sent, megabits a second, to an address of its choice
// (someone else's) and kept it going with one forged check every 20 s: an attack
// reflected and amplified ten to a hundred thousand times. So the server asks first,
// as RFC 7675's consent does: it sends the address a Binding request of its own
// (USERNAME peer:ours, PRIORITY, ICE-CONTROLLED, MESSAGE-INTEGRITY with the peer's
// password, FINGERPRINT) with a fresh random 96-bit transaction id, and the address is
// routable only once a success response with that id comes back from it, signed with
// the peer's password. The id is what a forger lacks: it knows the password, but not
// what the server sent someone else. A request goes only for a check received (or,
// once the answer names the password, for each address proven before it), so the
// server never sends more requests than the peer sends checks: no amplification. A
// lost request is sent again at the peer's next check. The selected path keeps the
// server's consent only by such answers: a forged check from it (once its peer has
// gone, say) is answered by nobody, and the consent expires.

// maxAsks bounds the requests an agent awaits answers to: enough for the few addresses
// a browser checks, and for a path whose round trip is longer than the time between
// its checks.
const maxAsks = 4

// defaultConsent is the consent time when the agents are given none: RFC 7675's 30 s.
const defaultConsent = 30 * time.Second

// liteAsk is one of the server's requests awaiting its answer: where it went, its
// transaction id, and what it carries of the peer's (its ufrag and password's key).
type liteAsk struct {
	ap     netip.AddrPort
	tid    [stun.TransactionIDSize]byte
	remote string
	key    stun.MessageIntegrity
}

func (k liteAsk) valid() bool { return k.ap.IsValid() }

// askIDSize is how many bytes of a request's transaction id name its agent (l.id);
// the other 64 bits are random, which is what a forger would have to guess.
const askIDSize = 4

// newAsk makes a request to ap and keeps it among those awaiting answers (the oldest
// is forgotten). l.mu is held.
func (l *iceLite) newAsk(ap netip.AddrPort) liteAsk {
	k := liteAsk{ap: ap, remote: l.remote, key: l.peerKey}
	copy(k.tid[:], l.id[:])
	_, _ = rand.Read(k.tid[askIDSize:]) // crypto/rand.Read never fails (Go 1.24)
	l.asks[l.nextAsk] = k
	l.nextAsk = (l.nextAsk + 1) % maxAsks
	return k
}

// asked returns the request to ap with transaction id tid that awaits its answer.
func (l *iceLite) asked(ap netip.AddrPort, tid [stun.TransactionIDSize]byte) (liteAsk, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range l.asks {
		if k.valid() && k.ap == ap && k.tid == tid {
			return k, true
		}
	}
	return liteAsk{}, false
}

// answeredBy notes that the peer answered the request k at now (once: a second answer
// to it proves nothing more): its path is routable, it consents to the selected one,
// and the nominee takes over. It reports whether k still awaited its answer.
func (l *iceLite) answeredBy(k liteAsk, now int64) bool {
	l.mu.Lock()
	found := false
	for i := range l.asks {
		if l.asks[i].valid() && l.asks[i].ap == k.ap && l.asks[i].tid == k.tid {
			l.asks[i], found = liteAsk{}, true
		}
	}
	if !found {
		l.mu.Unlock()
		return false
	}
	path := litePath{ap: k.ap}
	for i := range l.proven {
		if l.proven[i].litePath == path {
			l.proven[i].answered = now
		}
	}
	if l.selected == path {
		l.confirmed = now
	}
	changed := l.nominee == path
	if changed {
		l.selected, l.nominee, l.confirmed, l.carried = path, litePath{}, now, false
	}
	l.mu.Unlock()
	if changed && l.onSelect != nil {
		l.onSelect(path)
	}
	return true
}

// askProven makes a request to each UDP address proven before the peer's password was
// known (checks may come before the answer), one for each, and returns them.
func (l *iceLite) askProven() []liteAsk {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.peerKey == nil {
		return nil
	}
	var asks []liteAsk
	for _, p := range l.proven {
		if p.valid() && p.tcp == nil && p.answered == 0 && len(asks) < maxAsks {
			asks = append(asks, l.newAsk(p.ap))
		}
	}
	return asks
}

// askProven sends l's requests to the addresses proven before its peer's password
// came (setRemote reported it new).
func (a *liteAgents) askProven(l *iceLite) {
	var m stun.Message
	for _, k := range l.askProven() {
		if _, err := proofRequest(&m, nil, l, k); err == nil && a.send(m.Raw, k.ap) == nil {
			a.asked.Add(1)
		}
	}
}

// proofRequest builds in m the Binding request k of l's, its USERNAME in user's array,
// which it returns grown. It names the priority a probe does (liteprobe.go).
func proofRequest(m *stun.Message, user []byte, l *iceLite, k liteAsk) ([]byte, error) {
	m.Reset()
	m.TransactionID = k.tid
	m.Type = stun.BindingRequest
	m.WriteHeader()
	user = append(append(append(user[:0], k.remote...), ':'), l.ufrag...)
	m.Add(stun.AttrUsername, user)
	for _, s := range []stun.Setter{ice.PriorityAttr(probePriority), ice.AttrControlled(l.tiebreaker), k.key, stun.Fingerprint} {
		if err := s.AddTo(m); err != nil {
			return user, err
		}
	}
	return user, nil
}

// takeAnswer serves b, a Binding success response from from, if it answers one of the
// server's requests: the agent is the one its transaction id names (not the one whose
// check last came from from: another participant's checks forged in from's name
// would have taken the answers, and with them the consent, of the peer there), the id
// one the agent sent to from and awaits, and the integrity the peer's password's, the
// fingerprint right. It reports whether it took b: one that answers none of the
// server's requests is left to Pion's mux (its agents' answers), one with the id but
// without the integrity or fingerprint is dropped and counted.
func (a *liteAgents) takeAnswer(b []byte, from netip.AddrPort) bool {
	var id [askIDSize]byte
	copy(id[:], b[8:]) // the transaction id (isSTUN: 20 bytes at least)
	a.mu.RLock()
	l := a.byID[id]
	a.mu.RUnlock()
	if l == nil {
		return false
	}
	a.msgMu.Lock()
	defer a.msgMu.Unlock()
	m := &a.req
	if _, err := m.Write(b); err != nil || m.Type != stun.BindingSuccess {
		return false
	}
	k, ok := l.asked(from, m.TransactionID)
	if !ok {
		return false
	}
	if stun.Fingerprint.Check(m) != nil || k.key.Check(m) != nil {
		a.refused.Add(1)
		return true
	}
	if l.answeredBy(k, a.now().UnixNano()) {
		a.proofs.Add(1)
	}
	return true
}

// consentTime is how long an answer keeps a path routable.
func (a *liteAgents) consentTime() time.Duration {
	if a.consent > 0 {
		return a.consent
	}
	return defaultConsent
}
