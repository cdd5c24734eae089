package sfu

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// consentSim is a subscriber's browser at one address, its lite agent behind agents
// on a clock the test moves, and the link between them, which loses the datagrams
// lose says (up: from the peer; n counts each direction's datagrams from 1). The
// peer checks every interval, nominating as a browser's consent checks do, and
// answers the server's requests while it answers; the engine's sweep runs every
// consentSweep, as the engine runs it (Engine.sweepConsent).
type consentSim struct {
	t        *testing.T
	agents   *liteAgents
	l        *iceLite
	clock    time.Time
	peer     netip.AddrPort
	lose     func(up bool, n int) bool
	up, down int
	queue    []liteSent // what the server sent, not yet on the link
	silent   bool       // the peer answers nothing
	checks   bool       // the peer checks

	lost       []time.Time // when the consent was lost
	answered   time.Time   // when an answer last reached the server
	requests   []time.Time // when the server sent the peer a request
	sentChecks int
}

const simConsent = 25 * time.Second

// newConsentSim is a peer whose path the server selected over a link that lost
// nothing.
func newConsentSim(t *testing.T) *consentSim {
	s := &consentSim{t: t, clock: time.Unix(1_000_000, 0), peer: netip.MustParseAddrPort("192.0.2.10:50000"),
		lose: func(bool, int) bool { return false }, checks: true}
	s.agents = &liteAgents{send: s.send, now: func() time.Time { return s.clock }, consent: simConsent}
	s.l = newICELite(func(litePath) {})
	s.l.onLost = func() { s.lost = append(s.lost, s.clock) }
	s.agents.add(s.l)
	if _, err := s.l.setRemote("peer", testPeerPwd); err != nil {
		t.Fatal(err)
	}
	s.check()
	if s.l.dst().ap != s.peer || !s.l.nominated() {
		t.Fatal("the peer's path was not selected")
	}
	s.up, s.down, s.requests = 0, 0, nil
	return s
}

func (s *consentSim) send(b []byte, to netip.AddrPort) error {
	s.queue = append(s.queue, liteSent{append([]byte(nil), b...), to})
	return nil
}

// fromPeer puts b on the link to the server, and what it makes the server send on
// the link back.
func (s *consentSim) fromPeer(b []byte) {
	s.up++
	if s.lose(true, s.up) {
		return
	}
	if isSTUN(b) && uint16(b[0])<<8|uint16(b[1]) == stun.BindingSuccess.Value() {
		proofs := s.agents.proofs.Load()
		s.agents.take(b, s.peer)
		if s.agents.proofs.Load() > proofs {
			s.answered = s.clock
		}
	} else {
		s.agents.take(b, s.peer)
	}
	s.deliver()
}

// deliver puts what the server sent on the link to the peer, which answers the
// requests that arrive while it answers.
func (s *consentSim) deliver() {
	for len(s.queue) > 0 {
		d := s.queue[0]
		s.queue = s.queue[1:]
		if d.to != s.peer {
			s.t.Fatalf("the server sent %v, not the peer at %v, a datagram", d.to, s.peer)
		}
		request := isSTUN(d.b) && uint16(d.b[0])<<8|uint16(d.b[1]) == stun.BindingRequest.Value()
		if request {
			s.requests = append(s.requests, s.clock)
		}
		s.down++
		if s.lose(false, s.down) || !request || s.silent {
			continue
		}
		s.fromPeer(peerReply{pwd: testPeerPwd}.to(s.t, d.b))
	}
}

func (s *consentSim) check() {
	s.sentChecks++
	s.fromPeer(check{username: s.l.ufrag + ":peer", pwd: s.l.pwd, nominate: true}.bytes(s.t))
}

// run moves the clock by d in steps of 50 ms: the peer checks every interval (at
// 0.35 s past the start of each), the engine sweeps every consentAskEvery, at its
// multiples (Engine.consentSweep, untilNext).
func (s *consentSim) run(d, interval time.Duration) {
	sweep := consentAskEvery(simConsent)
	step := 50 * time.Millisecond
	for end := s.clock.Add(d); s.clock.Before(end); {
		s.clock = s.clock.Add(step)
		ns := s.clock.UnixNano()
		if s.checks && (ns-int64(350*time.Millisecond))%int64(interval) == 0 {
			s.check()
		}
		if ns%int64(sweep) == 0 {
			s.agents.sweep(ns, simConsent)
			s.deliver()
		}
	}
}

// TestICELiteConsentOnALossyLink: a subscriber whose link loses datagrams keeps the
// server's consent, and so its media, for hours while some of its datagrams get
// through, on deterministic patterns of loss: every second datagram each way, every
// second from the peer, every second to it, two of every four each way. Asked only at
// the peer's checks, a renewal needed the check, the request and the answer, and on
// each pattern one of them was lost every time (every second datagram from the peer:
// the answer, always the one after a check), so the media stopped after the consent
// time; asked on the server's clock too while the answer is overdue (liteconsent.go),
// the path answers. The server sends no more than one request a sweep besides one for
// each check.
func TestICELiteConsentOnALossyLink(t *testing.T) {
	for _, link := range []struct {
		name string
		lose func(up bool, n int) bool
	}{
		{"every second datagram each way", func(_ bool, n int) bool { return n%2 == 0 }},
		{"every second datagram from the peer", func(up bool, n int) bool { return up && n%2 == 0 }},
		{"every second datagram to the peer", func(up bool, n int) bool { return !up && n%2 == 0 }},
		{"two of every four each way", func(_ bool, n int) bool { return n%4 < 2 }},
	} {
		for _, browser := range []struct {
			name     string
			interval time.Duration
		}{{"Chrome", 2500 * time.Millisecond}, {"Firefox", 5 * time.Second}} {
			t.Run(link.name+"/"+browser.name, func(t *testing.T) {
				s := newConsentSim(t)
				s.lose = link.lose
				const hours = 3
				s.run(hours*time.Hour, browser.interval)
				if len(s.lost) != 0 {
					t.Fatalf("the consent was lost %d times in %d hours, first after %v", len(s.lost), hours, s.lost[0].Sub(time.Unix(1_000_000, 0)))
				}
				if to := s.l.dst(); to.ap != s.peer {
					t.Fatalf("the media go to %v, not to the peer at %v", to.ap, s.peer)
				}
				sweeps := int(hours * time.Hour / consentAskEvery(simConsent))
				if len(s.requests) > sweeps+s.sentChecks {
					t.Fatalf("%d requests in %d hours for %d checks, more than one a sweep besides one a check", len(s.requests), hours, s.sentChecks)
				}
			})
		}
	}
}

// TestICELiteConsentLostWhenTheAnswersStop: a peer that stops answering (gone, its
// checks still coming in its name or not) loses the consent once the consent time
// has passed since its last answer, at the sweep after it. Meanwhile the server asks
// it on its own clock, from a fifth of the consent time on, once a sweep but not within
// half a sweep of a check's request, and not at all once the consent is lost.
func TestICELiteConsentLostWhenTheAnswersStop(t *testing.T) {
	for _, checks := range []bool{false, true} {
		name := "silent"
		if checks {
			name = "checks in its name"
		}
		t.Run(name, func(t *testing.T) {
			s := newConsentSim(t)
			last := s.answered
			s.silent, s.checks = true, checks
			s.run(2*simConsent, 2500*time.Millisecond)
			sweep := consentAskEvery(simConsent)
			if len(s.lost) != 1 {
				t.Fatalf("the consent was lost %d times, want once", len(s.lost))
			}
			if after := s.lost[0].Sub(last); after <= simConsent || after > simConsent+sweep {
				t.Fatalf("the consent was lost %v after the last answer, want within a sweep (%v) past %v", after, sweep, simConsent)
			}
			var own []time.Time // the requests the server sent on its clock, at a sweep
			asked := 0          // and all it sent before the consent was lost
			for _, at := range s.requests {
				if at.UnixNano()%int64(sweep) == 0 {
					own = append(own, at)
				}
				if at.Before(s.lost[0]) {
					asked++
				}
			}
			if want := int((simConsent-consentAskAfter(simConsent))/sweep) - 1; asked < want {
				t.Fatalf("the server asked the overdue path %d times before the consent was lost, want one a sweep, %d", asked, want)
			}
			for i, at := range own {
				switch {
				case at.Sub(last) < consentAskAfter(simConsent):
					t.Fatalf("asked %v after the last answer, before it was overdue", at.Sub(last))
				case !at.Before(s.lost[0]):
					t.Fatalf("asked %v after the consent was lost", at.Sub(s.lost[0]))
				case i > 0 && at.Sub(own[i-1]) < sweep:
					t.Fatalf("asked twice within %v", at.Sub(own[i-1]))
				}
			}
			if checks {
				// A sweep sends nothing within half a sweep of a check's request (a
				// check comes 150 ms before every fifth sweep here): one request
				// where a renewal needs one.
				for i, at := range s.requests {
					if i > 0 && at.UnixNano()%int64(sweep) == 0 && at.Sub(s.requests[i-1]) < sweep/2 {
						t.Fatalf("asked at a sweep %v after the request before, a check's", at.Sub(s.requests[i-1]))
					}
				}
				return // a check from the address after the loss proves it afresh, and is asked
			}
			if n := len(s.requests); n != len(own) {
				t.Fatalf("%d requests, %d of them on the server's clock", n, len(own))
			}
		})
	}
}
