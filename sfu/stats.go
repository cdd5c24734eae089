package sfu

import (
	"sync"
	"sync/atomic"
)

// Stats is a snapshot of the engine's media counters, for monitoring. Counters only
// rise from the engine's start; TracksPublished and PublishConnections are what is open
// right now. None of it says who: no participant, room or address is counted separately.
type Stats struct {
	TracksPublished int64
	// PublishConnections is the number of publish connections open now: members who
	// never sent anything have none (the web client opens one with its first track).
	PublishConnections int64
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
	// RetransmissionsDropped counts asked-for packets that were cached but not sent
	// again: the subscriber's retransmission budget or queue was full, or the packet
	// could not go byte for byte as it went (sentlog.go: older than the log of its
	// transport-wide numbers, or on Pion's path, which numbers every packet anew).
	RetransmissionsDropped uint64
	// PacketsIndexRefused counts packets (not retransmissions) not sent because their
	// sequence number went with another packet already, or is too far behind what was
	// sent to tell: sent, two packets would have shared an SRTP nonce (sentlog.go,
	// rocState.next). Numbers that came round after half the sequence space went
	// unsent (a source blocked while its publisher kept sending) are refused until
	// they pass what was sent.
	PacketsIndexRefused uint64
	// PacketsBeyondTrackIDs counts packets a track received after its 2^32 ids were
	// spent (layerreceive.go; weeks of one screen share's packets): neither cached nor
	// forwarded, the publisher's feedback kept. A source started again is a new track.
	PacketsBeyondTrackIDs uint64
	// PacketsOverAudioRate counts packets of audio streams beyond what Opus can be
	// (audiocap.go: 640 kbit/s, 250 packets a second), neither cached nor forwarded:
	// a publisher's client that sends more than any browser would.
	PacketsOverAudioRate uint64
	// PacketsUnnegotiatedType counts publishers' packets under a payload type their
	// stream did not negotiate (payloadtype.go), neither cached nor forwarded: a
	// modified client's, on either path (the socket reader's, Pion's).
	PacketsUnnegotiatedType uint64
	// PaddingUnforwarded counts video padding packets whose numbers no subscription
	// was told of (paddingrun.go): runs of padding that padding of another number
	// ended, beyond what a browser's lost or reordered packets make.
	PaddingUnforwarded uint64
	// NACKsSent counts NACKs sent to publishers for packets lost on the way to the
	// server, NACKedPackets the packets they named (each is asked for at most
	// maxNackTries times), NACKsGivenUp the packets that never came.
	NACKsSent     uint64
	NACKedPackets uint64
	NACKsGivenUp  uint64
	// KeyframeRequestsReceived counts PLI and FIR from subscribers (and new
	// subscriptions, which ask by themselves); KeyframeRequestsSent the PLIs sent to
	// publishers. The ones received but not sent are counted by why:
	// KeyframeRequestsRepaired were absorbed because retransmissions repair the loss,
	// KeyframeRequestsLimited came from a subscriber that had asked too recently,
	// KeyframeRequestsCoalesced were merged into a request already on its way.
	KeyframeRequestsReceived  uint64
	KeyframeRequestsSent      uint64
	KeyframeRequestsRepaired  uint64
	KeyframeRequestsLimited   uint64
	KeyframeRequestsCoalesced uint64
	// KeyframesReplayed counts new subscriptions sent a recent keyframe and what
	// followed it from the cache (replay.go) while the one they asked for was coming.
	KeyframesReplayed uint64
	// SenderReports counts publisher sender reports forwarded to subscribers;
	// SenderReportsLimited those kept but not forwarded, since one of the stream's was
	// forwarded less than 50 ms before (senderreport.go: a modified client's flood).
	SenderReports        uint64
	SenderReportsLimited uint64
	// LayerSwitches counts the times a subscription of a simulcast track changed the
	// layer it is sent (at a keyframe of the new one); SendingLayer is the number of
	// subscriptions sending each layer (q, h, f) now.
	LayerSwitches uint64
	SendingLayer  [maxLayers]int64
	// LayersLost counts the times a subscription was given another layer to send
	// because the one it wanted stopped arriving (live.go); LayersBack the times it was
	// given a better one again because that came back (and kept arriving for the
	// probation). Changes of the view are not among them.
	LayersLost uint64
	LayersBack uint64
	// LayersUndecodable counts the times a simulcast layer that went on arriving was
	// judged undecodable, no keyframe of it arriving whole (decodable.go);
	// LayersDecodable the times such a judgement ended: a keyframe of the layer came
	// whole again, or the layer stopped arriving (then liveness judges it).
	LayersUndecodable uint64
	LayersDecodable   uint64
	// SubscribersLimited is the number of subscribers whose estimated bandwidth does not
	// cover the video they show now (alloc.go).
	SubscribersLimited int64
	// DatagramsSegmented counts media datagrams sent as segments of a larger message
	// (UDP segmentation, mmsg_linux.go); SegmentationRefused the batches the kernel
	// would not segment, sent again one datagram a message (after EIO, a device that
	// cannot segment, each writer stops trying: the count stops at one per writer).
	DatagramsSegmented, SegmentationRefused uint64
	// PacketsWithoutRoute counts RTP packets for a subscriber whose candidate pair the
	// server did not know yet (srtpout.go): not sent; NACKs and keyframes recover them.
	PacketsWithoutRoute uint64
	// DatagramsToRelays counts media datagrams for TURN-relayed subscribers handed to
	// the embedded TURN server's relays in memory instead of sent to them over loopback
	// (localrelay.go); 0 without TURN.
	DatagramsToRelays uint64
	// DatagramsFromRelays counts the media datagrams those relays handed to the SFU in
	// memory (RelayUplink): relayed publishers' SRTP and relayed subscribers' SRTCP.
	DatagramsFromRelays uint64
	// ICETCPRefused counts ICE-TCP connections closed as soon as they were accepted,
	// because the server's or their address's bound was reached (tcplimit.go).
	ICETCPRefused uint64
	// ICETCPStrangers counts ICE-TCP connections closed after their first frame, which
	// was no check for any of the server's connections (litetcp.go, pubufrags.go).
	ICETCPStrangers uint64
	// ICETCPAcceptFailed counts accepts on the ICE-TCP port that failed for want of
	// descriptors or memory and were tried again after a wait (connlimit).
	ICETCPAcceptFailed uint64
	// SubscriberRTCPRead counts subscribers' SRTCP packets the server read in the
	// media socket's reader (rtcpin.go); SubscriberRTCPRefused those from a
	// subscriber's address that failed to decrypt or parse (forged, replayed, broken),
	// or asked for more work than the connection's budget (feedbackBudget), dropped.
	SubscriberRTCPRead, SubscriberRTCPRefused uint64
	// PublisherRTPRead counts publishers' SRTP packets the server read in the media
	// socket's reader or an ICE-TCP connection's (rtpin.go, pubtcp.go);
	// PublisherRTPRefused those of a stream read there that failed to decrypt
	// (forged, replayed, broken), dropped.
	PublisherRTPRead, PublisherRTPRefused uint64
	// PublisherRTPStrangers counts publishers' packets dropped because their SSRC was
	// one more than a publish connection may show Pion without a layer reading it
	// (rtpin.go, maxStrangerSSRCs), or because it moved a layer read under another SSRC
	// to a new one (rebindsLayer): a publisher that makes up SSRCs.
	PublisherRTPStrangers uint64
	// ICEChecksAnswered counts connectivity checks answered by the server's own
	// ICE-lite agents (the subscribe connections it runs itself; icelite.go), over UDP
	// and ICE-TCP; ICEChecksRefused the checks for one of them dropped unanswered: a
	// wrong password or fingerprint, not what a controlling peer's check carries,
	// another peer's ufrag, a source no peer could have (candidateFilter), or an answer
	// that could not be written.
	ICEChecksAnswered, ICEChecksRefused uint64
	// ICERequestsSent counts the agents' own Binding requests, which prove an address
	// before media go there and renew the selected path's consent (liteproof.go,
	// liteconsent.go); ICERequestsAnswered the answers that held (each proves its
	// address once), ICEAnswersRefused those with a request's transaction id whose
	// integrity or fingerprint failed. Requests sent and never answered are what a
	// forged source's checks earn (a few a second at most), and a lossy link's.
	// ICERequestsHeld counts the requests that checks from addresses that never
	// answered earned and the budget of such requests in flight held back (three a
	// connection; liteproof.go): the rest of a flood of checks forged in someone
	// else's name. One held back may go later, when a place frees, and is counted
	// sent then too.
	ICERequestsSent, ICERequestsAnswered, ICEAnswersRefused, ICERequestsHeld uint64
	// ICEConsentLost counts the agents' selected paths whose consent expired (RFC
	// 7675: no answer for the consent time), after which nothing is sent to them.
	ICEConsentLost uint64
	// ICEProbesSent counts the probes of the candidates peers named (liteprobe.go),
	// ICEProbesHeld those not sent because the budget of probes to the destination,
	// an address that never answered, was spent (probebudget.go): a rising count is
	// participants naming someone else's address, many of them or again and again.
	ICEProbesSent, ICEProbesHeld uint64
	// DTLSEarlyHeld counts the DTLS records that came from an address before the
	// answer to the server's request sent there, held for the connection whose answer
	// from there comes (litehold.go); DTLSEarlyGiven those given at their answer (the
	// rest waited longer than half a second, or were a publisher's, or a forger's);
	// DTLSEarlyRefused those from such an address that the hold's bounds of records
	// and bytes kept out, whose peers then waited for their retransmission. DTLSHoldFull
	// counts the requests awaiting an answer whose address the hold had no room for
	// (maxHeldAddrs in all, maxHeldAddrsPerSource for one source): a record from there
	// before the answer is not held, nor counted above, and waits for its
	// retransmission. Either rising is someone keeping the hold full, or a crowd of
	// joins behind one address.
	DTLSEarlyHeld, DTLSEarlyGiven, DTLSEarlyRefused, DTLSHoldFull uint64
	// ForwardDelay is how long the server held the packets it forwarded: from their
	// layer taking them to the system call that sent each copy (forwarddelay.go).
	ForwardDelay DelayHistogram
}

// counters are the engine's live counters, each one atomic add where it happens. What is
// forwarded is not among them: each subscriber's writer counts its own (sendQueue), so the
// packet path never contends on a shared counter; see queueStats.
type counters struct {
	tracks          atomic.Int64
	publishConns    atomic.Int64
	tcpStrangers    atomic.Uint64
	dropped         atomic.Uint64
	nacks           atomic.Uint64
	nacksAnswered   atomic.Uint64
	retransmissions atomic.Uint64
	keyframesIn     atomic.Uint64
	keyframesOut    atomic.Uint64

	retransmissionsDropped atomic.Uint64
	packetsIndexRefused    atomic.Uint64
	packetsBeyondIDs       atomic.Uint64
	overAudioRate          atomic.Uint64
	unnegotiatedType       atomic.Uint64
	paddingUnforwarded     atomic.Uint64
	nacksSent              atomic.Uint64
	nackedPackets          atomic.Uint64
	nackGaveUp             atomic.Uint64
	keyframesRepaired      atomic.Uint64
	keyframesLimited       atomic.Uint64
	keyframesCoalesced     atomic.Uint64
	keyframesReplayed      atomic.Uint64
	senderReports          atomic.Uint64
	senderReportsLimited   atomic.Uint64
	layerSwitches          atomic.Uint64
	sendingLayer           [maxLayers]atomic.Int64 // subscriptions sending each simulcast layer
	layersLost             atomic.Uint64
	layersBack             atomic.Uint64
	layersUndecodable      atomic.Uint64
	layersDecodable        atomic.Uint64
	bandwidthLimited       atomic.Int64  // subscribers told their bandwidth limits video
	noRoute                atomic.Uint64 // RTP packets of subscribers without a route (srtpOut)
}

// queueStats sums what the subscribers' writers wrote: the live ones, and the totals of
// those that have gone.
type queueStats struct {
	mu        sync.Mutex
	live      map[*sendQueue]struct{}
	forwarded uint64 // of queues closed
	bytes     uint64
}

// add counts q from now on.
func (s *queueStats) add(q *sendQueue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil {
		s.live = make(map[*sendQueue]struct{})
	}
	s.live[q] = struct{}{}
}

// remove keeps q's totals; call it once q's writer has stopped.
func (s *queueStats) remove(q *sendQueue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, q)
	s.forwarded += q.forwarded.Load()
	s.bytes += q.bytes.Load()
}

func (s *queueStats) sum() (forwarded, bytes uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	forwarded, bytes = s.forwarded, s.bytes
	for q := range s.live {
		forwarded += q.forwarded.Load()
		bytes += q.bytes.Load()
	}
	return forwarded, bytes
}

// Stats reads the counters. Each value is read atomically; the set is not one instant.
func (e *Engine) Stats() Stats {
	c := &e.stats
	forwarded, bytes := e.queues.sum()
	segmented, refused := e.segmentation()
	return Stats{
		TracksPublished:           c.tracks.Load(),
		PublishConnections:        c.publishConns.Load(),
		PacketsForwarded:          forwarded,
		BytesForwarded:            bytes,
		PacketsDropped:            c.dropped.Load(),
		NACKsReceived:             c.nacks.Load(),
		NACKsAnswered:             c.nacksAnswered.Load(),
		Retransmissions:           c.retransmissions.Load(),
		KeyframeRequestsReceived:  c.keyframesIn.Load(),
		KeyframeRequestsSent:      c.keyframesOut.Load(),
		RetransmissionsDropped:    c.retransmissionsDropped.Load(),
		PacketsIndexRefused:       c.packetsIndexRefused.Load(),
		PacketsBeyondTrackIDs:     c.packetsBeyondIDs.Load(),
		PacketsOverAudioRate:      c.overAudioRate.Load(),
		PacketsUnnegotiatedType:   c.unnegotiatedType.Load(),
		PaddingUnforwarded:        c.paddingUnforwarded.Load(),
		NACKsSent:                 c.nacksSent.Load(),
		NACKedPackets:             c.nackedPackets.Load(),
		NACKsGivenUp:              c.nackGaveUp.Load(),
		KeyframeRequestsRepaired:  c.keyframesRepaired.Load(),
		KeyframeRequestsLimited:   c.keyframesLimited.Load(),
		KeyframeRequestsCoalesced: c.keyframesCoalesced.Load(),
		KeyframesReplayed:         c.keyframesReplayed.Load(),
		SenderReports:             c.senderReports.Load(),
		SenderReportsLimited:      c.senderReportsLimited.Load(),
		LayerSwitches:             c.layerSwitches.Load(),
		SendingLayer:              [maxLayers]int64{c.sendingLayer[0].Load(), c.sendingLayer[1].Load(), c.sendingLayer[2].Load()},
		LayersLost:                c.layersLost.Load(),
		LayersBack:                c.layersBack.Load(),
		LayersUndecodable:         c.layersUndecodable.Load(),
		LayersDecodable:           c.layersDecodable.Load(),
		SubscribersLimited:        c.bandwidthLimited.Load(),
		DatagramsSegmented:        segmented,
		SegmentationRefused:       refused,
		PacketsWithoutRoute:       c.noRoute.Load(),
		DatagramsToRelays:         e.relays.diverted.Load(),
		DatagramsFromRelays:       e.relays.taken.Load(),
		ICETCPRefused:             e.tcpRefused(),
		ICETCPAcceptFailed:        e.tcpAcceptFailed(),
		ICETCPStrangers:           c.tcpStrangers.Load(),
		SubscriberRTCPRead:        e.subRTCP.read.Load(),
		SubscriberRTCPRefused:     e.subRTCP.refused.Load(),
		PublisherRTPRead:          e.pubRTP.read.Load() + e.pubTCP.read.Load(),
		PublisherRTPRefused:       e.pubRTP.refused.Load() + e.pubTCP.refused.Load(),
		PublisherRTPStrangers:     e.pubRTP.strangers.Load() + e.pubTCP.strangers.Load(),
		ICEChecksAnswered:         e.lites.answered.Load(),
		ICEChecksRefused:          e.lites.refused.Load(),
		ICERequestsSent:           e.lites.asked.Load(),
		ICERequestsAnswered:       e.lites.proofs.Load(),
		ICEAnswersRefused:         e.lites.answersRefused.Load(),
		ICERequestsHeld:           e.lites.asksHeld.Load(),
		ICEConsentLost:            e.lites.lost.Load(),
		ICEProbesSent:             e.probes.sent.Load(),
		ICEProbesHeld:             e.probes.held.Load(),
		DTLSEarlyHeld:             e.lites.dtlsHeld.Load(),
		DTLSEarlyGiven:            e.lites.dtlsGiven.Load(),
		DTLSEarlyRefused:          e.lites.dtlsRefused.Load(),
		DTLSHoldFull:              e.lites.dtlsNoRoom.Load(),
		ForwardDelay:              e.forwardDelay(),
	}
}

// forwardDelay sums the writers' forwarding delay histograms. A queue's writer of its
// own (ICE-TCP) writes outside a batch and measures nothing.
func (e *Engine) forwardDelay() DelayHistogram {
	h := DelayHistogram{Bounds: forwardDelayBounds()}
	if e.writers != nil {
		for _, s := range e.writers.shards {
			if s.batch != nil {
				s.batch.delay.addTo(&h)
			}
		}
	}
	return h
}

// segmentCounter is a batch writer that counts its UDP segmentation (mmsgWriter).
type segmentCounter interface {
	segmentation() (segmented, refused uint64)
}

// segmentation sums the media socket's writers' segmentation counts: the writers'
// own batches and the socket's queue.
func (e *Engine) segmentation() (segmented, refused uint64) {
	add := func(w batchWriter) {
		if c, ok := w.(segmentCounter); ok {
			s, r := c.segmentation()
			segmented += s
			refused += r
		}
	}
	if e.writers != nil {
		for _, s := range e.writers.shards {
			if s.batch != nil {
				add(s.batch.w)
			}
		}
	}
	if bc, ok := e.udpConn.(*batchConn); ok {
		add(bc.batch)
	}
	return segmented, refused
}
