package signaling

import (
	"context"
	"errors"

	"conclave/sfu"
)

// handle decodes one inbound message and dispatches it by session state. Every refusal
// is an error message; only the errors marked fatal end the session.
func (s *Session) handle(msg inbound) {
	if msg.binary {
		s.refuse("", errorf(CodeBadMessage, "binary messages are not part of the protocol"))
		return
	}
	env, perr := DecodeEnvelope(msg.data)
	if perr != nil {
		s.refuse(env.ID, perr)
		return
	}
	var err *Error
	switch s.state {
	case stateConnected:
		err = s.handleConnected(env)
	case stateJoined:
		err = s.handleJoined(env)
	}
	if err != nil {
		s.refuse(env.ID, err)
		return
	}
	s.errorsInRow = 0
}

// refuse reports err to the client and closes the session when err is fatal or the
// client keeps sending bad messages.
func (s *Session) refuse(ref string, err *Error) {
	s.errorsInRow++
	s.send(encode(TypeError, ref, ErrorPayload{Code: string(err.Code), Message: err.Message}))
	if err.Close != 0 {
		s.finish("", nil, err.Close, string(err.Code))
		return
	}
	if s.errorsInRow >= maxErrorsInRow {
		e := errorf(CodeTooManyErrors, "%d refused messages in a row", maxErrorsInRow)
		s.send(encode(TypeError, "", ErrorPayload{Code: string(e.Code), Message: e.Message}))
		s.finish("", nil, e.Close, string(e.Code))
	}
}

// knownType reports whether typ is a client message of this protocol.
func knownType(typ string) bool {
	switch typ {
	case TypeJoin, TypePublishOffer, TypeSubscribeAnswer, TypeICE, TypeMediaState, TypeChat, TypeLeave:
		return true
	}
	return false
}

func (s *Session) handleConnected(env Envelope) *Error {
	switch env.Type {
	case TypeJoin:
		return s.join(env)
	case TypeLeave:
		s.finish(TypeBye, ByePayload{Reason: "left"}, CloseNormal, "left")
		return nil
	}
	if knownType(env.Type) {
		return errorf(CodeNotAllowedInState, "%q is not allowed before join", env.Type)
	}
	return errorf(CodeUnknownType, "unknown message type")
}

func (s *Session) handleJoined(env Envelope) *Error {
	switch env.Type {
	case TypeJoin:
		return errorf(CodeAlreadyJoined, "this connection has already joined")
	case TypePublishOffer:
		return s.publishOffer(env)
	case TypeSubscribeAnswer:
		return s.subscribeAnswer(env)
	case TypeICE:
		return s.ice(env)
	case TypeMediaState:
		p, err := decodePayload[MediaState](env)
		if err != nil {
			return err
		}
		if !s.fanout.allow(s.srv.now()) {
			return errorf(CodeRateLimited, "too many messages; slow down")
		}
		s.media = p
		s.meeting.setMedia(s.id, p)
		return nil
	case TypeChat:
		p, err := decodePayload[ChatPayload](env)
		if err != nil {
			return err
		}
		if err := checkChat(p.Text); err != nil {
			return err
		}
		if !s.fanout.allow(s.srv.now()) {
			return errorf(CodeRateLimited, "too many messages; slow down")
		}
		s.meeting.chat(s.id, env.ID, p.Text, s.srv.now())
		return nil
	case TypeLeave:
		s.finish(TypeBye, ByePayload{Reason: "left"}, CloseNormal, "left")
		return nil
	}
	return errorf(CodeUnknownType, "unknown message type")
}

func (s *Session) join(env Envelope) *Error {
	p, err := decodePayload[JoinPayload](env)
	if err != nil {
		return err
	}
	if p.Version != ProtocolVersion {
		return errorf(CodeUnsupportedVersion, "this server speaks protocol version %d", ProtocolVersion)
	}
	name, err := cleanName(p.Name)
	if err != nil {
		return err
	}
	m := s.srv.registry.Get(p.MeetingID)
	if m == nil {
		return errorf(CodeUnknownMeeting, "no such meeting")
	}
	var media MediaState
	if p.Media != nil {
		media = *p.Media
	}
	id, err := m.join(s, env.ID, name, media)
	if err != nil {
		return err
	}
	peer, jerr := m.room.Join(id)
	if jerr != nil {
		m.leave(id)
		s.srv.registry.endIfEmpty(m)
		if errors.Is(jerr, sfu.ErrClosed) {
			return errorf(CodeUnknownMeeting, "no such meeting")
		}
		s.log.Warn("session: media join failed", "err", jerr)
		return errorf(CodeInternal, "could not set up media")
	}
	s.meeting, s.id, s.name, s.media, s.peer = m, id, name, media, peer
	s.state = stateJoined
	s.log.Debug("session: joined", "participant", id)
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
	srcs, err := checkTracks(p.Tracks)
	if err != nil {
		return err
	}
	sources := make(map[string]sfu.Source, len(srcs))
	for mid, src := range srcs {
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
	if aerr := s.peer.AcceptSubscribeAnswer(p.SDP); aerr != nil {
		if errors.Is(aerr, sfu.ErrNoOfferPending) {
			return errorf(CodeNoOfferPending, "no subscribe offer is outstanding")
		}
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
		return errorf(CodeBadSDP, "candidate rejected")
	}
	return nil
}

func sdpError(err error) *Error {
	switch {
	case errors.Is(err, sfu.ErrBadSDP):
		return errorf(CodeBadSDP, "the SDP was rejected")
	case errors.Is(err, sfu.ErrClosed):
		return errorf(CodeInternal, "the media session has ended")
	}
	return errorf(CodeInternal, "media negotiation failed")
}
