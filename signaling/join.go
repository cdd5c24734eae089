package signaling

import (
	"context"
	"errors"

	"conclave/lobby"
	"conclave/secret"
)

// A connection's join: the join message checked, the meeting opened, the moderator
// secret, or the lock and the password, checked, then the knock (attach.go) or the
// takeover of the membership this page's earlier knock was let in to (takeover.go).

func (s *Session) join(env Envelope) *Error {
	s.joining.Store(true)
	defer s.joining.Store(false)
	p, err := decodePayload[JoinPayload](env)
	if err != nil {
		return err
	}
	if p.Version != ProtocolVersion {
		return errorf(CodeUnsupportedVersion, "this server speaks protocol version %d", ProtocolVersion)
	}
	// An end-to-end encrypted meeting's join carries no name (its members send theirs
	// inside their key envelopes, e2ee/FORMAT.md "Names"); whether the meeting is one is
	// known only once it is open, so a missing name is judged there.
	var name string
	if p.Name != "" {
		n, err := cleanName(p.Name)
		if err != nil {
			return err
		}
		name = n
	}
	if passwordTooLong(p.Password) || len(p.ModeratorSecret) > maxSecretChars {
		return errorf(CodeInvalidField, "password or secret too long")
	}
	if p.ReplaceKnock != "" && !validKnockSecret(p.ReplaceKnock) {
		return errorf(CodeInvalidField, "replaceKnock must be a knockSecret: 32 bytes as unpadded base64url (43 characters)")
	}
	// knocked: the join has taken its knock from its address's budget (knockOnce).
	var knocked bool
	for {
		// A meeting nobody was in, dropped because its host changed the room while
		// this join was on its way to it (Registry.roomChanged), is no refusal: the
		// join starts over and is judged by the room as it is now. Each round needs
		// another change of the room by its host within this join's few steps.
		if err := s.enter(env, p, name, &knocked); err != errRoomChanged {
			return err
		}
	}
}

// enter opens the meeting of a checked join, checks its credentials and knocks;
// errRoomChanged when the meeting it opened was dropped for a change of its room.
func (s *Session) enter(env Envelope, p JoinPayload, name string, knocked *bool) *Error {
	var err *Error
	octx, cancel := s.liveContext()
	m, oerr := s.srv.registry.open(octx, p.MeetingID)
	cancel()
	switch {
	case errors.Is(oerr, ErrTooManyMeetings):
		return errorf(CodeMeetingFull, "this server holds as many meetings as it can; try again later")
	case oerr != nil:
		s.log.Warn("session: cannot read the room store", "err", oerr)
		return errorf(CodeInternal, "cannot open the meeting")
	case m == nil:
		return errorf(CodeUnknownMeeting, "no such meeting")
	}
	var cred lobby.Credentials
	if p.ModeratorSecret != "" {
		// A moderator secret comes first: moderators enter even a locked meeting.
		if (m.modMade || derivedShape(p.ModeratorSecret)) && rightRandomSecret(s.srv.hasher, p.ModeratorSecret, m.modHash) {
			// One the server made, or a room's derived one (256 bits: derivedShape), is
			// let through at once however its address stands, as host keys and
			// resumption secrets are: a neighbour's wrong guesses cannot keep the
			// moderator out.
			s.srv.attempts.Forgive(s.addr, scopeModerator(m.id))
		} else {
			// Any other waits its turn like a password: a shorter one a host chose only
			// its length says is random, and a right answer out of turn would let an
			// address throttled elsewhere guess at it.
			err := s.checkSecret(scopeModerator(m.id), CodeWrongModSecret, func(ctx context.Context) (bool, error) {
				return s.srv.hasher.Verify(ctx, p.ModeratorSecret, m.modHash)
			})
			if err != nil {
				return goneIsNil(err)
			}
		}
		cred.Moderator = true
	}
	if p.ReplaceKnock != "" && !cred.Moderator {
		// This page's knock whose connection dropped, if it still waits: the new one
		// continues it and comes past what it came past (reknock.go).
		cred.Replaces = m.standingKnock(p.ReplaceKnock)
		if cred.Replaces == "" && (!m.e2ee || p.E2EE == E2EEVersion) && s.takeOver(m, p, env.ID) {
			// A moderator let that knock in before this join came, and no page has
			// used the membership: this one takes it over (takeover.go).
			return nil
		}
	}
	var pwHash string
	if cred.Replaces == "" {
		var ok bool
		if pwHash, ok, err = s.lockAndPassword(m, p.Password, cred.Moderator); !ok {
			return err
		}
	}
	cred.PasswordOK = true
	if m.e2ee && p.E2EE != E2EEVersion {
		// After the credentials, so only someone who may enter learns that the meeting
		// is encrypted; before the knock, so no moderator is asked about a page that
		// could not take part.
		return errorf(CodeE2EEVersion, "this meeting is end-to-end encrypted with format version %d; reload the page", E2EEVersion)
	}
	switch {
	case m.e2ee:
		// The browsers of an encrypted meeting send no name: they give it only inside
		// their key envelopes and sealed knocks (e2ee/FORMAT.md, "Names"). One sent anyway
		// (a test client, a tool) is dropped unread: never kept, relayed or logged.
		name = ""
	case name == "" && p.E2EE != 0:
		// A page that speaks E2EE sends no name only when its link holds a key: it takes
		// the meeting for an encrypted one. It must not join a meeting without encryption
		// (a server could otherwise downgrade it and learn its name), so it is told at once
		// rather than left waiting for a welcome.
		return errorf(CodeNotEncrypted, "this meeting is not end-to-end encrypted, but the link holds a key")
	case name == "":
		return errorf(CodeInvalidField, "name must be 1 to %d characters", MaxNameChars)
	}
	if p.Media != nil {
		s.media = *p.Media
	}
	if cred.Replaces == "" {
		if err := s.knockOnce(cred.Moderator, knocked); err != nil {
			return err
		}
	}
	s.meeting, s.id, s.name, s.joinRef = m, newParticipantID(), name, env.ID
	if m.e2ee {
		s.knock.nonce = newKnockNonce() // before the knock: read under the meeting's lock from then on
	}
	if !cred.Moderator {
		s.knockSecret = newKnockSecret() // likewise (a knock that replaces one keeps that one's)
		s.reknocks = newTokenBucket(reknockRate, reknockBurst)
	}
	for {
		err := m.knock(s, s.id, name, cred, pwHash, p.ReplaceKnock, s.srv.now())
		if err == errKnockGone {
			// The knock it was to replace went meanwhile (admitted, refused, its time up),
			// or has been replaced too often too fast: this one takes over the membership
			// it was let in to, if it may (takeover.go), or is a new knock, judged as one.
			if s.takeOver(m, p, env.ID) {
				return nil
			}
			cred.Replaces = ""
			var ok bool
			if pwHash, ok, err = s.lockAndPassword(m, p.Password, false); ok {
				err = s.knockOnce(false, knocked)
			}
			if err != nil || !ok {
				s.meeting = nil
				return goneIsNil(err)
			}
			continue
		}
		if err == errPasswordChanged {
			// A moderator changed the password while this one was checked: it is judged
			// again, against the password in force now.
			if pwHash, err = s.checkPassword(m, p.Password, cred.Moderator); err == nil {
				continue
			}
		}
		if err != nil {
			// Not attached: a connection that went while its password was checked
			// again is not waiting anywhere (errGone, nobody to tell).
			s.meeting = nil
			return goneIsNil(err)
		}
		break
	}
	s.state = stateLobby
	s.knocked.Store(true)
	return nil
}

// lockAndPassword are a new knock's checks before the policy: a locked meeting refuses
// it (the session is finished; ok false, no error), then its password is checked
// (checkPassword). ok is false when the join goes no further.
func (s *Session) lockAndPassword(m *Meeting, password string, moderator bool) (pwHash string, ok bool, err *Error) {
	if !moderator && m.settings().Locked {
		// Refused before any password is looked at, so a locked meeting answers every
		// guess alike and tells nothing about the password.
		s.finish(TypeBye, ByePayload{Reason: string(lobby.ReasonLocked)}, CloseRefused, string(lobby.ReasonLocked))
		return "", false, nil
	}
	pwHash, err = s.checkPassword(m, password, moderator)
	if err != nil {
		return "", false, goneIsNil(err)
	}
	return pwHash, true, nil
}

// knockAllowed holds back a new knock from an address that knocks too often. A
// moderator (its secret checked, and throttled as a guess) is not held back by
// whoever else knocks from its address: a loop there would lock the host out.
func (s *Session) knockAllowed(moderator bool) *Error {
	site, _ := secret.SiteOf(s.addr)
	if ok, retry := s.srv.knocks.allow(s.group, site, s.srv.clock.Now()); !ok && !moderator {
		s.srv.stats.knocksLimited.Add(1)
		e := errorf(CodeTooManyAttempts, "too many knocks from this network; try again later")
		e.RetryAfter = retry
		return e
	}
	return nil
}

// knockOnce is knockAllowed once for each join message: a join that starts over
// because its host's change dropped the meeting it was on its way to (errRoomChanged)
// knocked at nobody, and taking its address's budget again refused an honest person
// whose address had one knock left.
func (s *Session) knockOnce(moderator bool, knocked *bool) *Error {
	if *knocked {
		return nil
	}
	if err := s.knockAllowed(moderator); err != nil {
		return err
	}
	*knocked = true
	return nil
}

// checkPassword checks a join's password against meeting m's, unless the join gave the
// moderator secret or the meeting has none; it returns the hash it checked against ("":
// none), which the knock must still find in force (errPasswordChanged). A wrong password
// is counted for the moderators.
func (s *Session) checkPassword(m *Meeting, password string, moderator bool) (string, *Error) {
	hash := m.passwordHash()
	if hash == "" || moderator {
		return hash, nil
	}
	if password == "" {
		return "", errorf(CodePasswordRequired, "this meeting needs a password")
	}
	err := s.checkSecret(scopePassword(m.id), CodeWrongPassword, func(ctx context.Context) (bool, error) {
		for {
			ok, err := s.srv.hasher.Verify(ctx, password, hash)
			if err != nil || ok {
				return ok, err
			}
			// Wrong against the hash read before the check waited its turn in the
			// hashing line; a moderator may have changed the password meanwhile, to
			// the one given here. It is judged by the password in force (and counted
			// only when wrong against that one), as the knock judges a right one.
			cur := m.passwordHash()
			switch {
			case cur == hash:
				return false, nil
			case cur == "":
				hash = ""
				return false, errNoLongerGuessed // cleared: nothing to guess at any more
			}
			hash = cur
		}
	})
	if err != nil && err.Code == CodeWrongPassword {
		m.countWrongPassword()
	}
	return hash, err
}
