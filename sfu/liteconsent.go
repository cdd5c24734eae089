package sfu

import (
	"time"

	"github.com/pion/stun/v4"
)

// The selected UDP path keeps the server's consent (RFC 7675) only by answers to the
// server's own requests (liteproof.go), and a request went only at a check of the
// peer's: a renewal needed the check, the request and the answer to arrive, three
// datagrams where before one did, at a browser's pace (Chrome checks every 2.5 s,
// Firefox every 5 s). With independent losses of 10 % a Firefox subscriber lost its
// media within an hour with a probability of about one half, at 20 % almost surely;
// and a link that loses every second datagram lost every answer, each the datagram
// after a check. So once the selected path's last answer is consentAskAfter old, the
// server asks it on its own clock too, at the engine's sweep (every consentAskEvery)
// unless a check's request has just gone: a renewal then needs two datagrams, and gets
// about forty tries in the consent time where it had five to ten (at 20 % the hour's
// loss falls to about 10^-16, at 30 % to 10^-9). Only the selected path is asked so,
// which answered the server (a forged check earns no one such requests), and only
// until its consent expires; what renews the consent is still only an answer.

// consentAskAfter is how old the selected path's last answer is when the server
// starts asking it on its own: a fifth of the consent time (5 s of 25), so that a
// browser's checks, answered, keep it without any request more.
func consentAskAfter(consent time.Duration) time.Duration { return consent / 5 }

// consentAskEvery is how often the engine sweeps the agents' consent, and so how often
// at most an overdue path is asked on the server's clock: a fiftieth of the consent
// time, within 100 and 500 ms (two requests of about 100 bytes a second). Twice a
// second, not once: between two of Chrome's checks (2.5 s) at least four requests go,
// so that on a link that loses every second datagram each way two of them arrive and
// the second answer does; at one a second a request got through between two checks
// and its answer, always the datagram after a check, was lost every time.
func consentAskEvery(consent time.Duration) time.Duration {
	return min(500*time.Millisecond, max(100*time.Millisecond, consent/50))
}

// consentAsk makes the request the selected path is sent on the server's clock at
// now, if its answer is overdue and no request went to it within half a sweep (a
// check's); invalid when none is due. Over ICE-TCP the checks are the consent.
func (l *iceLite) consentAsk(now int64, consent time.Duration) liteAsk {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.selected.valid() || l.selected.tcp != nil || l.peerKey == nil ||
		now-l.confirmed < int64(consentAskAfter(consent)) || now-l.lastAsked < int64(consentAskEvery(consent)/2) {
		return liteAsk{}
	}
	l.lastAsked = now
	return l.newAsk(l.selected.ap)
}

// askConsent sends the requests due on the server's clock at now, one for each agent
// whose selected path's answer is overdue.
func (a *liteAgents) askConsent(now int64, consent time.Duration) {
	type due struct {
		l *iceLite
		k liteAsk
	}
	var asks []due
	a.mu.RLock()
	for _, l := range a.m {
		if k := l.consentAsk(now, consent); k.valid() {
			asks = append(asks, due{l, k})
		}
	}
	a.mu.RUnlock()
	var m stun.Message
	for _, d := range asks {
		a.sendAsks(d.l, []liteAsk{d.k}, &m)
	}
}
