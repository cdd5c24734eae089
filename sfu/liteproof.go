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
// what the server sent someone else. To an address that never answered, a request
// goes only for a check received from it (or, once the answer names the password, for
// each address proven before it), and only while fewer than maxUnansweredAsks such
// requests of the agent's are in flight: a forged source gets no more requests than
// checks were sent in its name, and however many those are, a few a second at most;
// what it gets back (the check's answer, 64 bytes, and now and then a request) is less
// than what was sent in its name, no reflection that pays. A request held back goes
// when one in flight is answered, or at the address's next check; a lost one at the
// next check. The selected path keeps the server's consent only by such answers: a
// forged check from it (once its peer has gone, say) is answered by nobody, and the
// consent expires. The selected path, which did answer, is also asked on the server's
// own clock while its answer is overdue (liteconsent.go), so that a lossy link keeps it.

// maxAsks bounds the requests an agent awaits answers to: enough for the few addresses
// a browser checks, and for a path whose round trip is longer than the time between
// its checks. The oldest is forgotten first, whoever's it was; only the peer's own
// checks (which need its password), its answers (a request held back goes at one:
// askWanting), its SDP answer (askProven) and the server's sweep (consentAsk) add to
// the ring, so a peer whose checks earn more than maxAsks requests between one of
// them and its answer makes the server forget its own request, and costs at most
// itself a renewal of its consent, or before its first answer a DTLS retransmission
// (the next check or sweep asks again; it has some forty tries in the consent time).
// A third party adds nothing to it, and the budget of requests to addresses that
// never answered is kept apart (inFlight), so that what is forgotten here is still
// counted there.
const maxAsks = 4

// maxUnansweredAsks bounds an agent's requests in flight (sent within askFlight, not
// answered) to addresses that never answered one: a browser checks a few pairs at
// once as it starts, from two or three addresses as the server sees them, each
// answered within a round trip; a participant forging checks in a victim's name gets
// the victim at most maxUnansweredAsks requests an askFlight (six a second, about 600
// bytes), however many checks it sends.
const maxUnansweredAsks = 3

// askFlight is how long a request to an address that never answered counts as in
// flight: STUN's first retransmission timeout (RFC 5389 §7.2.1), longer than a round
// trip on any network a meeting runs on.
const askFlight = 500 * time.Millisecond

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

// flightAsk is a request to an address that never answered, counted against the
// budget from when it went (at, the clock's UnixNano; 0: a free place) until
// askFlight later or its answer (tid).
type flightAsk struct {
	tid [stun.TransactionIDSize]byte
	at  int64
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

// askUnanswered makes a request to p, a path that never answered, if the budget of
// such requests in flight allows at now; otherwise p wants one, which goes when a
// request in flight is answered (answeredBy) or at p's next check. l.mu is held.
// Its place in the budget (inFlight) is its own until askFlight has passed or its
// answer came, whatever other requests go meanwhile.
func (l *iceLite) askUnanswered(p *provenPath, now int64) liteAsk {
	for i := range l.inFlight {
		f := &l.inFlight[i]
		if f.at == 0 || now-f.at >= int64(askFlight) {
			p.wants = false
			k := l.newAsk(p.ap)
			*f = flightAsk{tid: k.tid, at: now}
			return k
		}
	}
	p.wants = true
	return liteAsk{}
}

// askWanting makes the requests that paths which never answered want, newest first,
// as far as the budget allows at now. l.mu is held.
func (l *iceLite) askWanting(now int64) []liteAsk {
	var asks []liteAsk
	for i := range l.proven {
		p := &l.proven[i]
		if p.wants && p.valid() && p.tcp == nil && p.answered == 0 {
			if k := l.askUnanswered(p, now); k.valid() {
				asks = append(asks, k)
			}
		}
	}
	return asks
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
// and the nominee takes over. It reports whether k still awaited its answer, and the
// requests held back that may go now (askWanting).
func (l *iceLite) answeredBy(k liteAsk, now int64) (bool, []liteAsk) {
	l.mu.Lock()
	found := false
	for i := range l.asks {
		if l.asks[i].valid() && l.asks[i].ap == k.ap && l.asks[i].tid == k.tid {
			l.asks[i], found = liteAsk{}, true
		}
	}
	if !found {
		l.mu.Unlock()
		return false, nil
	}
	for i := range l.inFlight {
		if l.inFlight[i].at != 0 && l.inFlight[i].tid == k.tid {
			l.inFlight[i] = flightAsk{} // answered: no longer in flight
		}
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
	wanted := l.askWanting(now)
	l.mu.Unlock()
	if changed && l.onSelect != nil {
		l.onSelect(path)
	}
	return true, wanted
}

// askProven makes a request to each UDP address proven before the peer's password was
// known at now (checks may come before the answer), one for each as far as the budget
// of requests to addresses that never answered allows (the others want one), and
// returns them and how many the budget held back.
func (l *iceLite) askProven(now int64) (asks []liteAsk, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.peerKey == nil {
		return nil, 0
	}
	wanting := 0
	for i := range l.proven {
		p := &l.proven[i]
		p.wants = p.valid() && p.tcp == nil && p.answered == 0
		if p.wants {
			wanting++
		}
	}
	asks = l.askWanting(now)
	return asks, wanting - len(asks)
}

// askProven sends l's requests to the addresses proven before its peer's password
// came (setRemote reported it new), and counts those the budget held back.
func (a *liteAgents) askProven(l *iceLite) {
	asks, held := l.askProven(a.now().UnixNano())
	a.asksHeld.Add(uint64(held))
	a.sendAsks(l, asks, nil)
}

// sendAsks sends l's requests asks, built in m (a message of its own when nil).
func (a *liteAgents) sendAsks(l *iceLite, asks []liteAsk, m *stun.Message) {
	if m == nil {
		m = new(stun.Message)
	}
	now := a.now().UnixNano()
	for _, k := range asks {
		a.expectAnswer(l, k.ap, now)
		if _, err := proofRequest(m, nil, l, k); err == nil && a.send(m.Raw, k.ap) == nil {
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
// without the integrity or fingerprint is dropped and counted. One that holds makes
// from's DTLS records the agent's (routeDTLS), those held until it first.
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
		a.answersRefused.Add(1)
		return true
	}
	now := a.now().UnixNano()
	ok, wanted := l.answeredBy(k, now)
	if ok {
		a.proofs.Add(1)
		// The records from from that came before this answer (litehold.go), given
		// before any that comes after it, in the order they came.
		held := a.routeDTLS(l, from, now)
		a.dtlsGiven.Add(uint64(len(held)))
		for _, r := range held {
			if l.onDTLS != nil {
				l.onDTLS(r)
			}
		}
	}
	a.sendAsks(l, wanted, &a.out) // a.out is msgMu's, held
	return true
}

// consentTime is how long an answer keeps a path routable.
func (a *liteAgents) consentTime() time.Duration {
	if a.consent > 0 {
		return a.consent
	}
	return defaultConsent
}
