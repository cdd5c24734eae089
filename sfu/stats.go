package sfu

import "sync/atomic"

// Stats is a snapshot of the engine's media counters, for monitoring. Counters only
// rise from the engine's start; TracksPublished is the number published right now. None
// of it says who: no participant, room or address is counted separately.
type Stats struct {
	TracksPublished int64
	// PacketsForwarded and BytesForwarded (RTP payload bytes) count what was written to
	// subscribers, retransmissions included.
	PacketsForwarded uint64
	BytesForwarded   uint64
	// PacketsDropped counts packets a subscriber did not get because its queue was full:
	// the packet that found it full and, for video, the rest of that frame.
	PacketsDropped uint64
	// NACKsReceived counts NACK messages from subscribers; NACKsAnswered those of them
	// for which at least one asked-for packet was still cached and queued again;
	// Retransmissions the packets queued again (they count as forwarded when written).
	NACKsReceived   uint64
	NACKsAnswered   uint64
	Retransmissions uint64
	// KeyframeRequestsReceived counts PLI and FIR from subscribers (and new
	// subscriptions, which ask by themselves); KeyframeRequestsSent the PLIs sent to
	// publishers after coalescing.
	KeyframeRequestsReceived uint64
	KeyframeRequestsSent     uint64
}

// counters are the engine's live counters. Each is one atomic add where it happens; the
// packet path pays two (packets and bytes) per forwarded packet.
type counters struct {
	tracks          atomic.Int64
	forwarded       atomic.Uint64
	bytes           atomic.Uint64
	dropped         atomic.Uint64
	nacks           atomic.Uint64
	nacksAnswered   atomic.Uint64
	retransmissions atomic.Uint64
	keyframesIn     atomic.Uint64
	keyframesOut    atomic.Uint64
}

// Stats reads the counters. Each value is read atomically; the set is not one instant.
func (e *Engine) Stats() Stats {
	c := &e.stats
	return Stats{
		TracksPublished:          c.tracks.Load(),
		PacketsForwarded:         c.forwarded.Load(),
		BytesForwarded:           c.bytes.Load(),
		PacketsDropped:           c.dropped.Load(),
		NACKsReceived:            c.nacks.Load(),
		NACKsAnswered:            c.nacksAnswered.Load(),
		Retransmissions:          c.retransmissions.Load(),
		KeyframeRequestsReceived: c.keyframesIn.Load(),
		KeyframeRequestsSent:     c.keyframesOut.Load(),
	}
}
