package sfu

import (
	"context"
	"fmt"

	"github.com/pion/webrtc/v4"
)

// The participant's subscribe connection: the offers the SFU makes, the client's
// answers, and the tracks it subscribes to.

// NextSubscribeOffer makes the next subscribe offer, or returns nil when none is needed
// now: nothing changed, or an offer is still waiting for its answer (the change then goes
// into the offer after it).
func (p *Participant) NextSubscribeOffer(ctx context.Context) (*Offer, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if p.offerPending || !p.dirty {
		p.mu.Unlock()
		return nil, nil
	}
	p.offerPending = true
	p.dirty = false
	if p.own != nil {
		restart := p.iceRestart
		p.iceRestart = false
		out, err := p.own.offer(restart)
		if err != nil {
			p.offerPending = false
			p.mu.Unlock()
			return nil, fmt.Errorf("sfu: subscribe offer: %w", err)
		}
		p.pendingOffer = out
		p.mu.Unlock()
		return out, nil
	}
	var opts *webrtc.OfferOptions
	if p.iceRestart {
		opts = &webrtc.OfferOptions{ICERestart: true}
		p.iceRestart = false
	}
	offer, err := p.sub.CreateOffer(opts)
	var gathered <-chan struct{}
	if err == nil {
		gathered = webrtc.GatheringCompletePromise(p.sub)
		err = p.sub.SetLocalDescription(offer)
	}
	if err != nil {
		p.offerPending = false
		p.mu.Unlock()
		return nil, fmt.Errorf("sfu: subscribe offer: %w", err)
	}
	p.mu.Unlock()

	select {
	case <-gathered:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := &Offer{SDP: p.sub.LocalDescription().SDP}
	for _, t := range p.sub.GetTransceivers() {
		s := t.Sender()
		if s == nil || t.Mid() == "" {
			continue
		}
		d, ok := s.Track().(*downTrack)
		if !ok {
			continue
		}
		out.Tracks = append(out.Tracks, TrackInfo{
			Mid:           t.Mid(),
			ParticipantID: d.up.owner.id,
			Source:        d.up.source,
			Kind:          d.up.kind.String(),
		})
	}
	p.mu.Lock()
	p.pendingOffer = out
	p.mu.Unlock()
	return out, nil
}

// RestartSubscribeICE makes the next subscribe offer restart ICE (new credentials), for
// a client whose subscribe connection failed while its signaling still works. The offer
// follows through NegotiationNeeded like any other.
func (p *Participant) RestartSubscribeICE() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.iceRestart = true
	p.dirty = true
	pending := p.offerPending
	p.mu.Unlock()
	if !pending {
		p.signal()
	}
}

// AcceptSubscribeAnswer applies the client's answer to the outstanding subscribe offer.
// A rejected answer leaves the offer outstanding (Pion cannot roll a local offer back),
// so the caller offers it again with PendingSubscribeOffer; changes made meanwhile go
// into the offer after it.
func (p *Participant) AcceptSubscribeAnswer(answer string) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if !p.offerPending {
		p.mu.Unlock()
		return ErrNoOfferPending
	}
	p.mu.Unlock()

	if p.own != nil {
		// An answer the connection refuses leaves the offer outstanding, as Pion's does.
		err := p.own.accept(answer)
		p.answerSettled(err == nil)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadSDP, err)
		}
		p.bweNegotiated(answer)
		return nil
	}
	answer = p.room.engine.cands.filterSDP(answer)
	err := p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer})
	p.answerSettled(err == nil || p.sub.SignalingState() == webrtc.SignalingStateStable)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	p.flushCandidates(p.sub, &p.subCandidates)
	p.bweNegotiated(answer)
	return nil
}

// answerSettled ends the outstanding offer when its answer settled it, and asks for
// the next offer if something changed meanwhile.
func (p *Participant) answerSettled(settled bool) {
	p.mu.Lock()
	if settled {
		p.offerPending = false
		p.pendingOffer = nil
	}
	dirty := p.dirty && !p.offerPending
	p.mu.Unlock()
	if dirty {
		p.signal()
	}
}

// PendingSubscribeOffer returns the outstanding subscribe offer, or nil when there is
// none (or it is still being made). The caller sends it again when the client has not
// answered in time or its answer was refused: the same offer, because Pion cannot roll
// it back; once it is answered, whatever changed since follows in the next offer.
func (p *Participant) PendingSubscribeOffer() *Offer {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || !p.offerPending {
		return nil
	}
	return p.pendingOffer
}

// subscribe starts sending up to p.
func (p *Participant) subscribe(up *upTrack) {
	p.mu.Lock()
	// Join and publish both subscribe, each from its own snapshot of the room: someone
	// who joins while a track is published may be subscribed to it by both. A second
	// subscription would take p.downs[up] from the first, which would go on being sent
	// to, beyond the reach of the view and the allocation.
	if _, ok := p.downs[up]; p.closed || ok {
		p.mu.Unlock()
		return
	}
	d := newDownTrack(up, p)
	var err error
	if p.own != nil {
		err = p.own.addTrack(d)
	} else {
		d.sender, err = p.sub.AddTrack(d)
	}
	if err != nil {
		p.mu.Unlock()
		p.room.engine.log.Debug("subscribe failed", "err", err)
		return
	}
	p.downs[up] = d
	p.dirty = true
	pionRTCP := p.pionRTCP
	if pionRTCP {
		p.wg.Add(1)
	}
	p.mu.Unlock()

	if pionRTCP {
		go p.readRTCP(d)
	}
	if !up.addSub(d) {
		p.unsubscribe(up)
		return
	}
	p.signal()
}

// unsubscribe stops sending up to p, and asks for an offer without it, unless the
// room is ending (Room.End): p is closing too, and its page is being told the end.
func (p *Participant) unsubscribe(up *upTrack) {
	p.mu.Lock()
	d := p.downs[up]
	delete(p.downs, up)
	if d == nil || p.closed {
		p.mu.Unlock()
		return
	}
	if p.own != nil {
		p.own.removeTrack(d)
	} else {
		_ = p.sub.RemoveTrack(d.sender)
	}
	renegotiate := !p.room.ending.Load()
	if renegotiate {
		p.dirty = true
	}
	p.mu.Unlock()
	up.removeSub(d)
	if renegotiate {
		p.signal()
	}
}
