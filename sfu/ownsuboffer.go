package sfu

import (
	"errors"
	"maps"
	"strconv"

	"github.com/pion/ice/v4"
)

// addTrack gives d a section: a free one of its kind, or a new one, with an SSRC
// never drawn on the connection before (errSSRCsSpent once none is left).
func (o *ownSub) addTrack(d *downTrack) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	ssrc, err := o.retired.draw()
	if err != nil {
		return err
	}
	var s *subSection
	for _, x := range o.sections {
		if x.d == nil && x.bound == nil && x.kind == d.up.kind {
			s = x
			break
		}
	}
	if s == nil {
		s = &subSection{mid: strconv.Itoa(len(o.sections)), kind: d.up.kind}
		o.sections = append(o.sections, s)
	}
	s.d, s.ssrc = d, ssrc
	if o.sectionOf == nil {
		o.sectionOf = map[*downTrack]*subSection{}
	}
	o.sectionOf[d] = s
	return nil
}

// removeTrack frees d's section; d stops being sent at once, and the section's SSRC
// is retired: the next track of the section gets another.
func (o *ownSub) removeTrack(d *downTrack) {
	o.mu.Lock()
	if s := o.sectionOf[d]; s != nil {
		delete(o.sectionOf, d)
		s.d = nil
		o.retired.retire(s.ssrc)
		if g, ok := o.srtcp.(*srtcpGCM); ok {
			g.forgetRetired(s.ssrc) // under mu, as writeRTCP seals
		}
		if s.bound == d {
			s.bound = nil
			d.unbind() // under mu, as accept binds: s.bound is what is bound
		}
	}
	o.mu.Unlock()
}

// offer makes the next offer, with new ICE credentials when restart.
func (o *ownSub) offer(restart bool) (*Offer, error) {
	cert, fp, err := o.e.certs.dtls()
	if err != nil {
		return nil, err
	}
	cands, err := o.e.liteCandidates()
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, ErrClosed
	}
	// The connection keeps the certificate of its first offer for good, as a
	// PeerConnection does: every offer names it, and the handshake proves it, even
	// when the engine has made the next day's meanwhile.
	if o.fingerprint == "" {
		o.cert, o.fingerprint = cert, fp
	}
	fp = o.fingerprint
	if o.lite == nil || restart {
		if o.oldLite != nil && o.oldLite != o.lite {
			o.retire(o.oldLite, o.lite) // a restart before the last one's answer
		}
		o.oldLite = o.lite
		o.lite = o.newLite()
		o.liteGen++
	}
	o.version++
	params := offerParams{sessionID: o.sessionID, version: o.version, ufrag: o.lite.ufrag, pwd: o.lite.pwd,
		fingerprint: fp, candidates: cands, twcc: o.p.bw.est != nil}
	out := &Offer{}
	o.offeredD = o.offeredD[:0]
	for _, s := range o.sections {
		sec := offerSection{mid: s.mid, kind: s.kind}
		if s.d != nil {
			sec.ssrc, sec.streamID, sec.trackID = s.ssrc, s.d.up.owner.id, s.d.up.id
			out.Tracks = append(out.Tracks, TrackInfo{Mid: s.mid, ParticipantID: s.d.up.owner.id, Source: s.d.up.source, Kind: s.kind.String()})
		}
		params.sections = append(params.sections, sec)
		o.offeredD = append(o.offeredD, s.d)
	}
	o.offered, o.offeredLite = params.sections, o.lite
	out.SDP = writeOffer(params)
	return out, nil
}

// retire forgets the credentials old, which next replaces (an ICE restart): next
// keeps the path old selected, and its consent, until the peer nominates one of its
// own (iceLite.takeOver), and the DTLS records held for old's answers wait for next's
// (liteAgents.replace).
func (o *ownSub) retire(old, next *iceLite) {
	next.takeOver(old)
	o.e.lites.replace(old, next)
}

var errDTLSChanged = errors.New("sfu: a subscribe answer changed its DTLS fingerprint or role")

// accept applies the answer to the outstanding offer: binds the tracks it accepted,
// and with the first answer starts the DTLS handshake. An answer it refuses changes
// nothing.
func (o *ownSub) accept(text string) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrClosed
	}
	a, err := parseAnswer(text, o.offered)
	if err == nil && o.remote != nil && (o.remote.dtlsClient != a.dtlsClient || !maps.Equal(o.remote.fingerprints, a.fingerprints)) {
		err = errDTLSChanged
	}
	var askProven bool
	if err == nil {
		askProven, err = o.offeredLite.setRemote(a.ufrag, a.pwd)
	}
	if err != nil {
		o.mu.Unlock()
		return err
	}
	if o.oldLite != nil && o.oldLite != o.offeredLite {
		o.retire(o.oldLite, o.offeredLite)
		o.oldLite = nil
	}
	binds := o.bindAnswered(a)
	lite := o.offeredLite
	start := !o.started
	if start {
		o.started = true
		// Only the DTLS side is kept (later answers must keep it), not the sections
		// and candidates, which the connection holds elsewhere.
		o.remote = &answer{fingerprints: a.fingerprints, dtlsClient: a.dtlsClient}
	}
	o.mu.Unlock()

	for _, c := range a.candidates {
		if cand, err := ice.UnmarshalCandidate(c); err == nil && o.e.cands.ok(cand) {
			o.addRemote(cand, false)
		}
	}
	if askProven {
		o.e.lites.askProven(lite)
	}
	o.startProbing(lite, probeCredentials{ufrag: a.ufrag, pwd: a.pwd})
	if o.acceptedHook != nil {
		o.acceptedHook()
	}
	for _, x := range binds {
		x.d.started(x.b)
	}
	if start {
		ctx, cancel := o.e.dtlsHandshakeContext()
		o.mu.Lock()
		o.cancel = cancel
		closed := o.closed
		o.mu.Unlock()
		if closed {
			cancel()
			return nil
		}
		go o.handshake(ctx, cancel, a)
	}
	return nil
}

// answerBind is a track an answer bound, and its binding: accept sets going what the
// bind calls for once mu is let go (downTrack.started).
type answerBind struct {
	d *downTrack
	b *binding
}

// bindAnswered binds the tracks of the sections a accepted and unbinds those it
// refused. Under mu.
//
// A section's binding changes with s.bound, under mu, as removeTrack's unbind does:
// bound between the two (the lock let go), a track removed meanwhile was bound again
// under its retired SSRC, and one an answer after this one unbound was bound with no
// section saying so, for good. attach and unbound neither block nor send; what a bind
// sets going does, after mu (started). The subscriber's RTCP index takes the answer's
// changes in one copy (indexSSRCs), not one copy a track.
func (o *ownSub) bindAnswered(a *answer) []answerBind {
	binds := make([]answerBind, 0, len(a.sections))
	index := make([]ssrcIndexed, 0, len(a.sections))
	rtcpOut := o.p.writeSubscribeRTCP // one method value for all the bindings
	for i, as := range a.sections {
		d := o.offeredD[i]
		s := o.sections[i]
		switch {
		case d == nil || s.d != d:
			// Free when offered, or its track changed since: the next offer says.
		case as.accepted && s.bound != d:
			s.bound = d
			binds = append(binds, answerBind{d, d.attach(s.ssrc, as.pt, as.twcc, nil, rtcpOut)})
			index = append(index, ssrcIndexed{ssrc: s.ssrc, d: d, bound: true})
		case !as.accepted && s.bound == d:
			s.bound = nil
			if b := d.unbound(); b != nil {
				index = append(index, ssrcIndexed{ssrc: b.ssrc, d: d})
			}
		}
	}
	if len(index) > 0 {
		o.p.indexSSRCs(index)
	}
	return binds
}
