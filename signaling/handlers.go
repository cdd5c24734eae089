package signaling

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
	if env.Type == TypePing {
		// Taken in every state a connection can be in (heartbeat.go). An answered ping
		// neither ends a run of refused messages (pings would let a waiting client be
		// refused for ever) nor shows that a resumed page got its welcome (a client may
		// ping without having read anything): it changes nothing.
		if err := s.answerPing(env); err != nil {
			s.refuse(env.ID, err)
		}
		return
	}
	var err *Error
	switch s.state {
	case stateConnected:
		err = s.handleConnected(env)
	case stateLobby:
		err = s.handleLobby(env)
	case stateJoined:
		if s.unconfirmed && env.Type != TypeKnockProof {
			// The page speaks on its welcomed connection: it got the welcome. Not by a
			// knock proof: the waiting page sends that, and an admission may cross it
			// ("Admit anyway" while the link is being checked), the welcome not read.
			s.unconfirmed = false
			s.meeting.confirmWelcome(s)
		}
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
	s.send(encode(TypeError, ref, err.payload()))
	if err.Close != 0 {
		s.finish("", nil, err.Close, string(err.Code))
		return
	}
	if s.errorsInRow >= maxErrorsInRow {
		e := errorf(CodeTooManyErrors, "%d refused messages in a row", maxErrorsInRow)
		s.send(encode(TypeError, "", e.payload()))
		s.finish("", nil, e.Close, string(e.Code))
	}
}

// knownType reports whether typ is a client message of this protocol.
func knownType(typ string) bool {
	switch typ {
	case TypeJoin, TypeResume, TypeICERestart, TypePublishOffer, TypeSubscribeAnswer, TypeICE, TypeMediaState, TypeChat, TypeLeave, TypeE2EE, TypeE2EEBatch, TypeKnockProof, TypeLobbyKey,
		TypeAdmit, TypeDeny, TypeAdmitAll, TypeDenyAll, TypeSendToLobby, TypeRemove, TypeSetRole, TypeUpdateSettings,
		TypeMute, TypeAskUnmute, TypeStopScreenShare, TypeEndMeeting,
		TypeRaiseHand, TypeReaction, TypeLowerHand, TypeLowerAllHands, TypeMuteAll, TypeView, TypePing:
		return true
	}
	return false
}

func (s *Session) handleConnected(env Envelope) *Error {
	switch env.Type {
	case TypeJoin:
		return s.join(env)
	case TypeResume:
		return s.resume(env)
	case TypeLeave:
		s.finish(TypeBye, ByePayload{Reason: "left"}, CloseNormal, "left")
		return nil
	}
	if knownType(env.Type) {
		return errorf(CodeNotAllowedInState, "%q is not allowed before join", env.Type)
	}
	return errorf(CodeUnknownType, "unknown message type")
}

// handleLobby: a waiting person may only leave, and prove its link (knock.go).
func (s *Session) handleLobby(env Envelope) *Error {
	switch env.Type {
	case TypeLeave:
		s.finish(TypeBye, ByePayload{Reason: "left"}, CloseNormal, "left")
		return nil
	case TypeJoin:
		return errorf(CodeAlreadyJoined, "this connection is already waiting")
	case TypeKnockProof:
		return s.knockProof(env)
	}
	if knownType(env.Type) {
		return errorf(CodeNotAllowedInState, "%q is not allowed while waiting in the lobby", env.Type)
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
	case TypeICERestart:
		return s.iceRestart(env)
	case TypeMediaState:
		return s.mediaState(env)
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
		return s.meeting.chat(s.id, env.ID, p.Text, s.srv.now())
	case TypeLeave:
		s.finish(TypeBye, ByePayload{Reason: "left"}, CloseNormal, "left")
		return nil
	case TypeE2EE:
		return s.relayKey(env)
	case TypeE2EEBatch:
		return s.relayBatch(env)
	case TypeRaiseHand:
		return s.raiseHand(env)
	case TypeReaction:
		return s.react(env)
	case TypeKnockProof:
		return errorf(CodeNotAllowedInState, "a knock proof is for the waiting room")
	case TypeLobbyKey:
		return s.lobbyKey(env)
	case TypeView:
		return s.view(env)
	}
	if knownType(env.Type) {
		return s.moderate(env)
	}
	return errorf(CodeUnknownType, "unknown message type")
}
