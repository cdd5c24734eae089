package sfu

import (
	"net/netip"
	"slices"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"

	"conclave/addrgroup"
)

// An ICE-lite agent sends no checks: the peer finds the server's candidates and
// checks them. A peer that cannot pair its own candidates with the server's finds no
// pair at all, though the server could reach it: Firefox pairs none of its interface
// addresses with a loopback candidate of the server's (a server on 127.0.0.1, as in
// the tests), and a peer whose network lets in only what answers its own traffic
// (some firewalls) drops what it did not ask for. Pion's full agent got past both by
// checking the peer's candidates itself, whereupon the peer learns the server's
// address as a peer-reflexive candidate and checks it. So the connection probes, as
// a controlled agent would, each UDP candidate the peer names (in its answer or
// trickled; the candidate filter has passed them, candidates.go) until the peer has
// nominated a pair: a check at once and a few more, further and further apart. After
// the nomination it sends nothing: the peer's consent checks keep the pair. Those are
// addresses anyone may name, someone else's too: one that has not answered gets the
// rounds of one answer for the connection's life, within its destination's budget
// shared by all connections (but for the connection's first probe to that
// destination: probebudget.go); one that answered is the peer's.

// probeDelays are the waits between a connection's rounds of probes; after the last
// round it waits for the peer. The early rounds are close together: a controlling
// agent (Pion's, at least) nominates a pair as soon as a check arrives on one that
// has succeeded, instead of at its next tick (every 200 ms): at a crowd of 50 joining,
// starting at 20 ms instead of 50 took the p95 of the join from 108–131 ms to 89–99.
var probeDelays = [...]time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 160 * time.Millisecond, 320 * time.Millisecond, 640 * time.Millisecond, 1280 * time.Millisecond, 2560 * time.Millisecond}

// maxProbed bounds the candidates a connection probes at once: those its peer named
// with the current credentials first; the ones named before an ICE restart give way
// to those named after it (a laptop moving from Wi-Fi to LTE names new addresses).
const maxProbed = 16

// maxUnansweredProbes bounds the probes a connection sends an address that has not
// answered, for the connection's life: the rounds of one answer. A peer that can be
// reached answers (or nominates) within a round or two; an ICE restart starts the
// rounds again for the addresses that answered, not for the others, which would
// otherwise get nine more at each restart the signaling allows (probebudget.go).
const maxUnansweredProbes = len(probeDelays) + 1

// maxUnansweredPerConn bounds the probes a connection sends addresses that have not
// answered, for its life: the rounds of one answer to maxProbed of them. The
// addresses an ICE restart names anew get their rounds within it, so that naming
// fresh ones at each restart (ten a second) earns nothing more.
const maxUnansweredPerConn = maxProbed * maxUnansweredProbes

// probeTarget is a candidate of the peer's that the connection probes: sent counts
// the probes it got while it had not answered, live is set once it has answered one
// of the server's requests (then it is the peer's, and its probes are not counted);
// gen is the credentials it was named with last (ownSub.liteGen).
type probeTarget struct {
	ap   netip.AddrPort
	sent int
	live bool
	gen  uint64
}

// probePriority is the priority a probe names for the server's peer-reflexive
// candidate (RFC 8445 §5.1.2: type preference 110, local preference 65535, component 1).
const probePriority = 110<<24 | 65535<<8 | 255

// probeCredentials are what a probe needs of the peer: its ufrag and password.
type probeCredentials struct{ ufrag, pwd string }

// newProbe is a binding request from the lite agent l to the peer with creds. It
// carries l's tiebreaker, as l's own requests do (liteproof.go): one agent, one
// tiebreaker for its session (RFC 8445 §7.1.1), though a controlling peer never
// compares it.
func newProbe(l *iceLite, creds probeCredentials) ([]byte, error) {
	m, err := stun.Build(stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(creds.ufrag+":"+l.ufrag),
		ice.PriorityAttr(probePriority),
		ice.AttrControlled(l.tiebreaker),
		stun.NewShortTermIntegrity(creds.pwd),
		stun.Fingerprint)
	if err != nil {
		return nil, err
	}
	return m.Raw, nil
}

// addRemote notes a UDP candidate of the peer's and, when probeNow (a trickled one),
// once an answer is known and while the peer has not nominated a pair, probes it at
// once; later rounds include it. An answer's own candidates wait for its first round
// (startProbing), which carries its credentials: probed at once they got a probe with
// the previous answer's, which the peer refuses, and which counted against them.
// With maxProbed noted, it takes the place of the oldest named only before the last
// ICE restart's offer, if any; one named again keeps what it got.
func (o *ownSub) addRemote(c ice.Candidate, probeNow bool) {
	if c.NetworkType() != ice.NetworkTypeUDP4 && c.NetworkType() != ice.NetworkTypeUDP6 {
		return
	}
	ip, err := netip.ParseAddr(c.Address())
	if err != nil || c.Port() <= 0 || c.Port() > 0xffff {
		return
	}
	ap := netip.AddrPortFrom(ip.Unmap(), uint16(c.Port()))
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	if i := slices.IndexFunc(o.remotes, func(t probeTarget) bool { return t.ap == ap }); i >= 0 {
		o.remotes[i].gen = o.liteGen
		o.mu.Unlock()
		return
	}
	if len(o.remotes) >= maxProbed {
		i := slices.IndexFunc(o.remotes, func(t probeTarget) bool { return t.gen != o.liteGen })
		if i < 0 {
			o.mu.Unlock()
			return
		}
		o.remotes = slices.Delete(o.remotes, i, i+1)
	}
	o.remotes = append(o.remotes, probeTarget{ap: ap, gen: o.liteGen})
	l, creds := o.probeLite, o.creds
	var to []netip.AddrPort
	if probeNow && l != nil && !l.nominated() {
		to = o.probeTargets(l, o.remotes[len(o.remotes)-1:])
	}
	o.mu.Unlock()
	o.sendProbes(l, creds, to)
}

// startProbing begins the rounds of probes for the answer just accepted to the offer
// of l's credentials, creds the peer's.
func (o *ownSub) startProbing(l *iceLite, creds probeCredentials) {
	o.mu.Lock()
	o.probeLite, o.creds, o.probeRound = l, creds, 0
	if o.probeStop != nil {
		o.probeStop()
		o.probeStop = nil
	}
	o.mu.Unlock()
	o.probe()
}

// probe sends a round of probes and schedules the next, until the peer nominates. The
// rounds are the last answer's, with its credentials and its agent's, also while an
// ICE restart's offer awaits its answer (o.lite is the restart's agent then, whose
// ufrag the peer does not know yet).
func (o *ownSub) probe() {
	o.mu.Lock()
	l, creds := o.probeLite, o.creds
	if o.closed || l == nil || l.nominated() || o.probeRound > len(probeDelays) {
		o.probeStop = nil
		o.mu.Unlock()
		return
	}
	if o.probeRound < len(probeDelays) {
		o.probeStop = o.e.after(probeDelays[o.probeRound], o.probe)
	} else {
		o.probeStop = nil // the last round: the peer has to find the server now
	}
	o.probeRound++
	to := o.probeTargets(l, o.remotes)
	o.mu.Unlock()
	o.sendProbes(l, creds, to)
}

// probeTargets are the addresses of ts that may be probed now: those that answered
// l's requests (or an earlier agent's), and those that did not while they have
// probes left (their own and the connection's) and their destination's budget holds
// one, or it is the connection's first probe to that destination (probeBudget.take).
// o.mu is held.
func (o *ownSub) probeTargets(l *iceLite, ts []probeTarget) []netip.AddrPort {
	var to []netip.AddrPort
	now := o.e.now()
	for i := range ts {
		t := &ts[i]
		if !t.live && l.answeredFrom(t.ap) {
			t.live = true
		}
		if !t.live {
			if t.sent >= maxUnansweredProbes || o.unanswered >= maxUnansweredPerConn {
				continue
			}
			dst := addrgroup.Of(t.ap.Addr())
			first := len(o.probedDsts) < maxProbed && !slices.Contains(o.probedDsts, dst)
			if !o.e.probes.take(dst, now, first) {
				continue
			}
			if first {
				o.probedDsts = append(o.probedDsts, dst)
			}
			t.sent++
			o.unanswered++
		}
		to = append(to, t.ap)
	}
	return to
}

func (o *ownSub) sendProbes(l *iceLite, creds probeCredentials, to []netip.AddrPort) {
	for _, ap := range to {
		b, err := newProbe(l, creds)
		if err != nil {
			return
		}
		if o.e.writeTo(b, ap) == nil {
			o.e.probes.sent.Add(1)
		}
	}
}
