package e2ee

import "errors"

// The server's part of end-to-end encryption is small on purpose: it relays key messages
// between admitted members as opaque strings it cannot read, bounded in size and rate,
// and never logs them.

// MaxEnvelope is the largest key message the server relays, in bytes.
const MaxEnvelope = 8 << 10

// RelayRate and RelayBurst bound how many key messages one member may send: enough for
// every member to answer a newcomer in a large meeting, not enough to flood it.
const (
	RelayRate  = 50  // per second, sustained
	RelayBurst = 200 // at once
)

// Errors of CheckEnvelope.
var (
	ErrEnvelopeEmpty    = errors.New("e2ee: empty key message")
	ErrEnvelopeTooLarge = errors.New("e2ee: key message larger than 8 KiB")
)

// CheckEnvelope checks a key message's size; its content is none of the server's business.
func CheckEnvelope(data string) error {
	switch {
	case data == "":
		return ErrEnvelopeEmpty
	case len(data) > MaxEnvelope:
		return ErrEnvelopeTooLarge
	}
	return nil
}
