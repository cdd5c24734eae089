package e2ee

import "errors"

// The server's part of end-to-end encryption is small on purpose: it relays key messages
// between admitted members as opaque strings it cannot read, bounded in size and rate,
// and never logs them.

// MaxEnvelope is the largest key message the server relays, in bytes.
const MaxEnvelope = 8 << 10

// MaxBatchShare is how many bytes of key messages a batch (one change's keys for many
// members, signaling's e2ee_batch) may carry per envelope: a batch of n envelopes carries
// at most BatchData(n) bytes of data in all. A key message is about 110 bytes today; 512
// leaves room for a later format that adds a field or two, and keeps a batch for a
// hundred members near 50 KiB of data.
const MaxBatchShare = 512

// BatchData is the most data a batch of n envelopes may carry: MaxBatchShare per
// envelope, and never less than one full envelope.
func BatchData(n int) int {
	return max(MaxEnvelope, n*MaxBatchShare)
}

// The relay's budget grows with the meeting, because what one member must send does:
//
//   - its own join: its identity to everyone, then its key to each member it verified
//     (about N messages at once, one per member);
//   - someone else's join: its identity and its key to the newcomer (2);
//   - someone's leave: one batch with the rotated key for everyone (1);
//   - a request for a key it sent before, or for its identity (2 per asking member:
//     its identity, and its key to a member it verified).
//
// So burst = 20 + 4·N covers a member joining a meeting of N (N messages) and still
// answering every member once more (a request's two messages or a newcomer's identity
// each) with room to spare, and 20 is the floor that keeps a small meeting's reloads and quick changes
// inside the budget. rate = 10 + 2·N a second sustains two messages for every member's
// change each second, far beyond how fast a real roster changes, and every member's
// request answered each second (at most one answer per requester a second). A flood is still
// bounded: a batch or a message to everyone reaches each member once, so no member ever
// receives more from one sender than this budget. N counts the members present
// (reconnecting ones included), never less than 2.
const (
	relayBurstBase = 20
	relayBurstPer  = 4
	relayRateBase  = 10
	relayRatePer   = 2
)

// RelayLimits returns one member's key-message budget in a meeting of members members:
// the sustained rate per second and the burst. A batch counts as one message.
func RelayLimits(members int) (rate, burst float64) {
	members = max(members, 2)
	return float64(relayRateBase + relayRatePer*members), float64(relayBurstBase + relayBurstPer*members)
}

// Errors of CheckEnvelope.
var (
	ErrEnvelopeEmpty    = errors.New("e2ee: empty key message")
	ErrEnvelopeTooLarge = errors.New("e2ee: key message larger than 8 KiB")
	ErrEnvelopeChars    = errors.New("e2ee: key message with characters outside printable ASCII")
)

// CheckEnvelope checks a key message's size and characters; its content is none of the
// server's business. Key messages are JSON of base64 (FORMAT.md, "Key messages"):
// printable ASCII, which the server's JSON writes as it is (a quote or a backslash as
// two bytes), where a control character took six (\u0001) on its way to every member.
func CheckEnvelope(data string) error {
	switch {
	case data == "":
		return ErrEnvelopeEmpty
	case len(data) > MaxEnvelope:
		return ErrEnvelopeTooLarge
	}
	for i := 0; i < len(data); i++ {
		if c := data[i]; c < 0x20 || c > 0x7e {
			return ErrEnvelopeChars
		}
	}
	return nil
}
