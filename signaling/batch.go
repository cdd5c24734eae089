package signaling

import (
	"errors"
	"fmt"

	"conclave/e2ee"
	"conclave/lobby"
)

// Key distribution as one message per change (e2ee/FORMAT.md, "Key messages"): when a
// member's media key changes it sends one e2ee_batch that carries an envelope for each
// recipient, and the server hands each recipient its own envelope as the ordinary e2ee
// message. A batch costs its sender one message of its relay budget, however many
// members it reaches, so a large meeting's rotations stay inside the budget.

// TypeE2EEBatch is a client's batch of key messages, one per recipient.
const TypeE2EEBatch = "e2ee_batch"

// E2EEBatchPayload is a batch of key messages: one envelope per recipient.
type E2EEBatchPayload struct {
	Envelopes []BatchEnvelope `json:"envelopes"`
}

// BatchEnvelope is one recipient's key message in a batch.
type BatchEnvelope struct {
	To   string `json:"to"`
	Data string `json:"data"`
}

// Errors of ParseBatch; each names what is wrong with the batch, which changes nothing.
var (
	ErrBatchEmpty       = errors.New("e2ee_batch: no envelopes")
	ErrBatchTooMany     = errors.New("e2ee_batch: more envelopes than the meeting has other members")
	ErrBatchNoRecipient = errors.New("e2ee_batch: an envelope without a valid to")
	ErrBatchDuplicate   = errors.New("e2ee_batch: two envelopes for the same recipient")
	ErrBatchData        = errors.New("e2ee_batch: an envelope's data is empty or too large")
	ErrBatchTooLarge    = errors.New("e2ee_batch: more data than a batch may carry")
)

// ParseBatch decodes an e2ee_batch payload and checks what can be checked without the
// meeting: 1 to maxEnvelopes envelopes (a meeting's other members at most), each with a
// to of 1–64 bytes, no recipient twice, each data as e2ee.CheckEnvelope wants it,
// and at most e2ee.BatchData(n) bytes of data in all. It never panics; every refusal
// wraps one of the ErrBatch errors.
func ParseBatch(payload []byte, maxEnvelopes int) ([]BatchEnvelope, error) {
	p, perr := decodePayload[E2EEBatchPayload](Envelope{Type: TypeE2EEBatch, Payload: payload})
	if perr != nil {
		return nil, perr
	}
	n := len(p.Envelopes)
	switch {
	case n == 0:
		return nil, ErrBatchEmpty
	case n > maxEnvelopes:
		return nil, fmt.Errorf("%w (%d, at most %d)", ErrBatchTooMany, n, maxEnvelopes)
	}
	seen := make(map[string]struct{}, n)
	total := 0
	for _, e := range p.Envelopes {
		if e.To == "" || len(e.To) > maxIDBytes {
			return nil, ErrBatchNoRecipient
		}
		if _, dup := seen[e.To]; dup {
			return nil, ErrBatchDuplicate
		}
		seen[e.To] = struct{}{}
		if err := e2ee.CheckEnvelope(e.Data); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBatchData, err)
		}
		total += len(e.Data)
	}
	if total > e2ee.BatchData(n) {
		return nil, fmt.Errorf("%w (%d bytes for %d envelopes, at most %d)", ErrBatchTooLarge, total, n, e2ee.BatchData(n))
	}
	return p.Envelopes, nil
}

// batchError turns a ParseBatch error into the protocol's.
func batchError(err error) *Error {
	var perr *Error
	if errors.As(err, &perr) {
		return perr
	}
	return errorf(CodeInvalidField, "%s", err.Error())
}

// batchWireBytes is the largest e2ee_batch message a member of a meeting of
// maxParticipants sends, as the websocket read limit must allow it: maxParticipants-1
// envelopes, each at most 64 bytes of to, MaxBatchShare bytes of data that JSON
// escaping at most doubles (a browser's key messages are JSON without control
// characters: only quotes and backslashes grow), and 32 bytes of framing; 1 KiB for the
// envelope around them. Never below MaxMessageBytes. For the default 100 members it is
// 1024 + 99 × (64 + 32 + 1024) = 111,904 bytes.
func batchWireBytes(maxParticipants int) int {
	perEnvelope := maxIDBytes + 32 + 2*e2ee.MaxBatchShare
	return max(MaxMessageBytes, 1<<10+max(maxParticipants-1, 0)*perEnvelope)
}

// relayBatch checks a batch and hands each envelope to its recipient.
func (s *Session) relayBatch(env Envelope) *Error {
	if !s.meeting.e2ee {
		return errorf(CodeNotAllowed, "this meeting is not end-to-end encrypted")
	}
	envs, err := ParseBatch(env.Payload, s.srv.maxParticipants-1)
	if err != nil {
		return batchError(err)
	}
	return s.meeting.relayBatch(s.id, envs, s.allowKeyMessage)
}

// allowKeyMessage takes one message from the session's relay budget, sized for a meeting
// of members members (e2ee.RelayLimits). Called by the meeting under its lock, from the
// session's own goroutine, once the message has been found valid.
func (s *Session) allowKeyMessage(members int) bool {
	now := s.srv.now()
	rate, burst := e2ee.RelayLimits(members)
	s.keys.resize(now, rate, burst)
	return s.keys.allow(now)
}

// relayBatch delivers a member's batch: to each present member its envelope as an e2ee
// message from the sender; an envelope for a member that left a moment ago is dropped (the
// sender had not yet heard of the leave: nothing is wrong with its batch). Anything else
// refuses the whole batch before anything is delivered: a sender that is not a member, a
// recipient that is the sender or was never a member here, an exhausted budget.
func (m *Meeting) relayBatch(from string, envs []BatchEnvelope, allow func(members int) bool) *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.members[lobby.ID(from)]; !ok {
		return errorf(CodeNotAllowedInState, "not a member")
	}
	for _, e := range envs {
		if e.To == from {
			return errorf(CodeInvalidField, "a batch cannot address its sender")
		}
		if _, ok := m.members[lobby.ID(e.To)]; !ok && !m.departed.has(e.To) {
			return errorf(CodeUnknownParticipant, "no member with that id")
		}
	}
	if !allow(len(m.members)) {
		return errorf(CodeRateLimited, "too many key messages; slow down")
	}
	for _, e := range envs {
		if _, ok := m.members[lobby.ID(e.To)]; ok {
			// A parked member (nil session) gets nothing: it starts over when it is back.
			m.hearsLocked(lobby.ID(e.To)).sendSpare(encode(TypeE2EE, "", E2EEOutPayload{From: from, Data: e.Data}))
		}
	}
	return nil
}

// departedMemory is how many of a meeting's most recent departures it remembers, so that
// key messages racing with leaves are dropped rather than refused. Members send a
// rotation within moments of hearing of a leave; several hundred departures cover many
// simultaneous leaves in the largest meeting.
const departedMemory = 512

// departures remembers the ids of the members that left most recently, in a ring.
type departures struct {
	ring []string // made at the first departure
	next int
	set  map[string]struct{}
}

func (d *departures) add(id string) {
	if d.ring == nil {
		d.ring = make([]string, departedMemory)
		d.set = make(map[string]struct{})
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.set, old)
	}
	d.ring[d.next] = id
	d.set[id] = struct{}{}
	d.next = (d.next + 1) % departedMemory
}

func (d *departures) has(id string) bool {
	_, ok := d.set[id]
	return ok
}
