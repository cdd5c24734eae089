package sfu

import (
	"errors"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
)

// consentSweep is how often the lite agents' consent is looked at, and their overdue
// selected paths asked (liteconsent.go): twice a second at most.
func (e *Engine) consentSweep() time.Duration {
	return consentAskEvery(e.consentTimeout)
}

// addLite makes l's checks answered by the media socket's reader, and has the consent
// swept while there is an agent to sweep.
func (e *Engine) addLite(l *iceLite) {
	e.lites.add(l)
	e.sweepMu.Lock()
	defer e.sweepMu.Unlock()
	if !e.sweepDone && e.sweepStop == nil {
		e.sweepStop = e.after(untilNext(e.now(), e.consentSweep()), e.sweepConsent)
	}
}

// sweepConsent tells the lite agents whose peers stopped answering, asks those whose
// answer is overdue, and comes again while there are agents: a server with no
// subscribe connection of its own is not woken twice a second for nothing (addLite
// starts the sweep again; it decides under sweepMu, after the agent is added, so the
// sweep that finds none and stops cannot miss it).
func (e *Engine) sweepConsent() {
	e.sweepMu.Lock()
	if e.sweepDone {
		e.sweepMu.Unlock()
		return
	}
	if e.lites.empty() {
		e.sweepStop = nil
		e.sweepMu.Unlock()
		return
	}
	e.sweepStop = e.after(untilNext(e.now(), e.consentSweep()), e.sweepConsent)
	e.sweepMu.Unlock()
	now := e.now()
	e.lites.sweep(now.UnixNano(), e.consentTimeout)
	e.probes.forget(now)
}

// liteCandidates are the server's host candidates for its own subscribe connections:
// what Pion's agents gather on the same settings (the UDP mux's addresses, the
// interface and loopback rules, the public addresses of a 1:1 NAT, the passive
// ICE-TCP port), gathered once, as the agents' shared view of the interfaces is made
// once.
func (e *Engine) liteCandidates() ([]string, error) {
	e.candsOnce.Do(func() { e.liteCands, e.liteCandsErr = e.gatherHostCandidates() })
	return e.liteCands, e.liteCandsErr
}

func (e *Engine) gatherHostCandidates() ([]string, error) {
	g, err := webrtc.NewAPI(webrtc.WithSettingEngine(e.subSettings)).NewICEGatherer(webrtc.ICEGatherOptions{})
	if err != nil {
		return nil, err
	}
	defer func() { _ = g.Close() }()
	done := make(chan struct{})
	g.OnLocalCandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			close(done)
		}
	})
	if err := g.Gather(); err != nil {
		return nil, err
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return nil, errors.New("sfu: gathering the host candidates took too long")
	}
	found, err := g.GetLocalCandidates()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range found {
		switch {
		case c.Typ != webrtc.ICECandidateTypeHost:
		case c.Protocol == webrtc.ICEProtocolUDP:
			out = append(out, fmt.Sprintf("candidate:%s 1 udp %d %s %d typ host", c.Foundation, c.Priority, c.Address, c.Port))
		case c.Protocol == webrtc.ICEProtocolTCP && c.TCPType == "passive":
			out = append(out, fmt.Sprintf("candidate:%s 1 tcp %d %s %d typ host tcptype passive", c.Foundation, c.Priority, c.Address, c.Port))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("sfu: no host candidate")
	}
	return out, nil
}
