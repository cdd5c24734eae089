package sfu

import (
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// A subscription's RTCP from its subscriber: keyframe requests passed on to the
// publisher within their limits (keyframe.go), NACKs answered from the layers' caches
// through the segments the packets were sent in (mapSent, forwarder.go).

// readRTCP serves the subscriber's feedback for this track until the sender stops:
// keyframe requests go (coalesced) to the publisher, NACKs are answered from the cache.
func (d *downTrack) readRTCP() {
	buf := make([]byte, 1500)
	for {
		n, _, err := d.sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		d.handleRTCP(pkts)
	}
}

// handleRTCP serves one compound RTCP packet from the subscriber.
func (d *downTrack) handleRTCP(pkts []rtcp.Packet) {
	budget := maxNackedPerDatagram
	for _, pkt := range pkts {
		switch pkt := pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			d.keyframeRequest()
		case *rtcp.TransportLayerNack:
			d.answerNack(pkt, &budget)
		}
	}
}

// keyframeRequest handles a subscriber's PLI or FIR (keyframe.go says why some are not
// passed on).
func (d *downTrack) keyframeRequest() {
	want := ctlWant(d.ctl.Load())
	if d.up.kind != webrtc.RTPCodecTypeVideo || want < 0 {
		return // nothing is sent for a hidden track: nothing to repair
	}
	st := d.up.stats
	// Counted once its outcome is: who sees the request counted sees what became of it.
	defer st.keyframesIn.Add(1)
	switch d.kf.request(d.up.now()) {
	case keyframeRepaired:
		st.keyframesRepaired.Add(1)
	case keyframeLimited:
		st.keyframesLimited.Add(1)
	default:
		// The layer being sent; while none is, the one the switch waits for.
		layer := int(d.sending.Load())
		if layer < 0 {
			layer = want
		}
		d.up.requestKeyframe(layer)
	}
}

// maxNackedPerDatagram bounds the sequence numbers the NACKs of one datagram are
// answered for, however many NACK packets it holds: more than the packet caches hold
// of a stream at these rates (about a second), where a datagram of NACKs names some
// six thousand, each a lock and a search of the segments, which a subscriber could send
// as fast as it likes.
const maxNackedPerDatagram = 512

// answerNack queues the asked-for packets that are still cached as retransmissions,
// taking each sequence number asked for from budget (the datagram's: it stops at 0).
// A NACK answered in full lets the next keyframe request wait for the repair.
func (d *downTrack) answerNack(pkt *rtcp.TransportLayerNack, budget *int) {
	st := d.up.stats
	st.nacks.Add(1)
	if d.up.kind != webrtc.RTPCodecTypeVideo {
		return // audio: NACK is not offered for it (subsdp.go), nor logged to go again (sentlog.go)
	}
	if ctlWant(d.ctl.Load()) < 0 {
		return // hidden: no video at all, repairs included
	}
	if d.up.blocked.Load() {
		// A moderator stopped the source: nothing of it goes, repairs included. Its
		// cache keeps what came before the stop for as long as it lasts (no packet
		// comes to expire it), which a member who joined since never got.
		return
	}
	if b := d.binding.Load(); b != nil && b.twcc != 0 && d.sub.srtp.Load() == nil {
		// Pion's path numbers every packet anew: nothing can go again as it went
		// (writeRTP), so nothing is queued, and the NACK is not taken as repaired.
		for _, pair := range pkt.Nacks {
			n := min(len(pair.PacketList()), max(*budget, 0))
			*budget -= n
			st.retransmissionsDropped.Add(uint64(n))
		}
		return
	}
	asked, resent := 0, uint64(0)
	for _, pair := range pkt.Nacks {
		if *budget <= 0 {
			break
		}
		for _, seq := range pair.PacketList() {
			asked++
			*budget--
			// The subscriber names the sequence numbers it was sent: find the layer
			// and the publisher's number they were rewritten from.
			layer, in, ok := d.mapSent(seq)
			if !ok {
				continue
			}
			l := d.up.layer(layer)
			if l == nil {
				continue
			}
			p := l.cache.get(in)
			if p == nil || len(p.payload) == 0 {
				// Padding goes to no subscriber (dropPadding): its number is a gap here
				// only where it was not taken out (a run beyond the budget, paddingrun.go,
				// or padding that came too late), and nothing can fill it. Queued, it
				// would be counted as resent and absorb the next keyframe request.
				continue
			}
			if d.sub.out.enqueueRetransmission(sendItem{d: d, p: p}) {
				resent++
			} else {
				st.retransmissionsDropped.Add(1)
			}
		}
	}
	if resent > 0 {
		st.nacksAnswered.Add(1)
		st.retransmissions.Add(resent)
	}
	if asked > 0 && resent == uint64(asked) {
		d.kf.answeredNack(d.up.now())
	}
}
