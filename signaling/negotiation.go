package signaling

import (
	"context"
	"errors"
	"strings"
	"time"

	"conclave/lobby"
	"conclave/sfu"
)

// Media negotiation limits (PROTOCOL.md, "Publishing" and "Subscribing"). Each offer
// makes the server parse SDP and run ICE, each candidate makes it send to an address,
// so both are rate limited per session on the server's clock.
const (
	publishOfferRate  = 1  // publish_offer messages per second, sustained
	publishOfferBurst = 10 // and in a burst
	iceRate           = 10 // ice messages per second, sustained
	iceBurst          = 50 // and in a burst
	// subscribeOfferTimeout is how long a subscribe offer waits for its answer before the
	// server sends it again, so that a client that lost one offer still receives later
	// tracks (they follow in the offer after the answer).
	subscribeOfferTimeout = 10 * time.Second
)

// evOfferTimeout is the event of a subscribe offer that went unanswered; numbered apart
// from session.go's kinds.
const evOfferTimeout eventKind = 100

// negotiation is the session's media negotiation bookkeeping, owned by run.
type negotiation struct {
	offers    tokenBucket // publish_offer
	ice       tokenBucket // ice
	offerGen  uint64      // counts subscribe offers; a timer names the one it is for
	stopTimer func() bool // the outstanding subscribe offer's timer, or nil
}

func newNegotiation() negotiation {
	return negotiation{
		offers: newTokenBucket(publishOfferRate, publishOfferBurst),
		ice:    newTokenBucket(iceRate, iceBurst),
	}
}

// sendSubscribeOffer sends a subscribe offer and starts its answer deadline.
func (s *Session) sendSubscribeOffer(offer *sfu.Offer) {
	tracks := make([]TrackInfo, 0, len(offer.Tracks))
	for _, t := range offer.Tracks {
		tracks = append(tracks, TrackInfo{Mid: t.Mid, ParticipantID: t.ParticipantID, Source: string(t.Source), Kind: t.Kind})
	}
	s.send(encode(TypeSubscribeOffer, "", SubscribeOfferPayload{SDP: offer.SDP, Tracks: tracks}))
	s.armOfferTimer()
}

// resendSubscribeOffer sends the outstanding subscribe offer again: its answer was
// refused, or did not come in time. Once it is answered, the tracks that changed
// meanwhile follow in the next offer.
func (s *Session) resendSubscribeOffer() {
	if s.peer == nil {
		return
	}
	if offer := s.peer.PendingSubscribeOffer(); offer != nil {
		s.sendSubscribeOffer(offer)
	}
}

// armOfferTimer starts the answer deadline of the subscribe offer just sent.
func (s *Session) armOfferTimer() {
	s.disarmOfferTimer()
	s.neg.offerGen++
	gen := s.neg.offerGen
	s.neg.stopTimer = s.srv.clock.AfterFunc(subscribeOfferTimeout, func() {
		select {
		case <-s.closing:
		default:
			s.deliver(event{kind: evOfferTimeout, gen: gen})
		}
	})
}

// disarmOfferTimer: the outstanding offer was answered (or is gone).
func (s *Session) disarmOfferTimer() {
	if s.neg.stopTimer != nil {
		s.neg.stopTimer()
		s.neg.stopTimer = nil
	}
	s.neg.offerGen++ // a timer that already fired names an older offer
}

// offerTimedOut sends the subscribe offer gen again if it is still unanswered.
func (s *Session) offerTimedOut(gen uint64) {
	if gen != s.neg.offerGen {
		return
	}
	s.neg.stopTimer = nil
	s.log.Debug("session: subscribe offer unanswered; sending it again")
	s.resendSubscribeOffer()
}

// ICERestartPayload asks for an ICE restart of a connection the server offers.
type ICERestartPayload struct {
	PC string `json:"pc"`
}

// iceRestart answers a client whose subscribe connection failed while the websocket
// still works: the next subscribe offer restarts ICE. The publish connection needs no
// help (its client is the offerer and restarts ICE in a new publish_offer).
func (s *Session) iceRestart(env Envelope) *Error {
	p, err := decodePayload[ICERestartPayload](env)
	if err != nil {
		return err
	}
	if p.PC != "subscribe" {
		return errorf(CodeInvalidField, `pc must be "subscribe"`)
	}
	if !s.neg.ice.allow(s.srv.now()) {
		return errorf(CodeRateLimited, "too many ICE requests; slow down")
	}
	s.peer.RestartSubscribeICE()
	return nil
}

func (s *Session) publishOffer(env Envelope) *Error {
	p, err := decodePayload[PublishOfferPayload](env)
	if err != nil {
		return err
	}
	if p.SDP == "" {
		return errorf(CodeInvalidField, "sdp is required")
	}
	if !s.neg.offers.allow(s.srv.now()) {
		return errorf(CodeRateLimited, "too many publish offers; slow down")
	}
	srcs, err := checkTracks(p.Tracks)
	if err != nil {
		return err
	}
	sources := make(map[string]sfu.Source, len(srcs))
	for mid, src := range srcs {
		if src == "screen" && !s.meeting.can(s.id, lobby.PermShareScreen) {
			return errorf(CodeNotAllowed, "you may not share your screen in this meeting")
		}
		sources[mid] = sfu.Source(src)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sdpTimeout)
	defer cancel()
	answer, perr := s.peer.Publish(ctx, p.SDP, sources)
	if perr != nil {
		return sdpError(perr)
	}
	s.send(encode(TypePublishAnswer, env.ID, SDPPayload{SDP: answer}))
	return nil
}

func (s *Session) subscribeAnswer(env Envelope) *Error {
	p, err := decodePayload[SDPPayload](env)
	if err != nil {
		return err
	}
	if p.SDP == "" {
		return errorf(CodeInvalidField, "sdp is required")
	}
	aerr := s.peer.AcceptSubscribeAnswer(p.SDP)
	if errors.Is(aerr, sfu.ErrNoOfferPending) {
		return errorf(CodeNoOfferPending, "no subscribe offer is outstanding")
	}
	s.disarmOfferTimer()
	if aerr != nil {
		// The offer is still outstanding: send it again, after the refusal.
		s.deliver(event{kind: evOfferTimeout, gen: s.neg.offerGen})
		return sdpError(aerr)
	}
	return nil
}

func (s *Session) ice(env Envelope) *Error {
	p, err := decodePayload[ICEPayload](env)
	if err != nil {
		return err
	}
	if p.PC != "publish" && p.PC != "subscribe" {
		return errorf(CodeInvalidField, `pc must be "publish" or "subscribe"`)
	}
	if !s.neg.ice.allow(s.srv.now()) {
		return errorf(CodeRateLimited, "too many candidates; slow down")
	}
	if p.Candidate == nil {
		return errorf(CodeInvalidField, "candidate is required")
	}
	if len(p.Candidate.Candidate) > maxCandidate {
		return errorf(CodeInvalidField, "candidate is too long")
	}
	if p.Candidate.Candidate == "" {
		return nil // end of candidates: nothing to do with a full-ICE server
	}
	c := sfu.Candidate{
		Candidate:        p.Candidate.Candidate,
		SDPMid:           p.Candidate.SDPMid,
		SDPMLineIndex:    p.Candidate.SDPMLineIndex,
		UsernameFragment: p.Candidate.UsernameFragment,
	}
	if cerr := s.peer.AddCandidate(p.PC == "publish", c); cerr != nil {
		switch {
		case errors.Is(cerr, sfu.ErrTooManyCandidates):
			return errorf(CodeInvalidField, "at most %d candidates per connection", sfu.MaxTrickledCandidates)
		case errors.Is(cerr, sfu.ErrClosed):
			// The member's media has ended: its meeting is ending, and the bye follows
			// (the room's media may close before the session has handled its ejection
			// and sent its bye). The candidate is not wrong, and there is nothing to use
			// it for: a page that trickled one in that moment was told "bad_sdp" just
			// before "ended".
			return nil
		}
		return errorf(CodeBadSDP, "candidate rejected")
	}
	return nil
}

func sdpError(err error) *Error {
	switch {
	case errors.Is(err, sfu.ErrTracks):
		return errorf(CodeInvalidField, "%s", strings.TrimPrefix(err.Error(), "sfu: "))
	case errors.Is(err, sfu.ErrBadSDP):
		return errorf(CodeBadSDP, "the SDP was rejected")
	case errors.Is(err, sfu.ErrClosed):
		return errorf(CodeInternal, "the media session has ended")
	}
	return errorf(CodeInternal, "media negotiation failed")
}
