package sfu

import (
	"github.com/pion/rtcp"
)

// senderReport is the part of a publisher's RTCP sender report that maps its RTP
// timestamps to its wall clock. Receivers align audio and video by this mapping, so the
// SFU forwards it (translated per subscription, downTrack.writeSenderReport) instead of
// making up its own from the time packets reached the server. Each simulcast layer has
// its own timestamps, so its own reports; a subscription forwards those of the layer it
// sends.
type senderReport struct {
	ntp   uint64
	rtp   uint32
	layer uint8
}

// readPublisherRTCP reads the RTCP of one published stream until the receiver stops.
func (l *layer) readPublisherRTCP(read func([]byte) (int, error)) {
	buf := make([]byte, 1500)
	for {
		n, err := read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, pkt := range pkts {
			if sr, ok := pkt.(*rtcp.SenderReport); ok && l.remote != nil && sr.SSRC == uint32(l.remote.SSRC()) {
				l.onSenderReport(sr)
			}
		}
	}
}

// onSenderReport keeps the publisher's latest report and queues it for every
// subscription that sends this layer, behind the packets already queued for it.
func (l *layer) onSenderReport(sr *rtcp.SenderReport) {
	r := &senderReport{ntp: sr.NTPTime, rtp: sr.RTPTime, layer: l.index}
	l.sr.Store(r)
	if l.feedback != nil {
		l.feedback.senderReport(l.rr, sr.NTPTime, l.up.now()) // for the receiver reports' delay
	}
	l.up.stats.senderReports.Add(1)
	if subs := l.up.subs.Load(); subs != nil {
		for _, d := range *subs {
			d.queueSenderReport(r)
		}
	}
}

// queueSenderReport queues r for this subscription once it is negotiated, if it
// describes the layer the subscription sends. A report still waiting in the queue is
// replaced rather than queued twice.
func (d *downTrack) queueSenderReport(r *senderReport) {
	if r == nil || d.binding.Load() == nil || int32(r.layer) != d.sending.Load() {
		return
	}
	if d.pendingSR.Swap(r) == nil && !d.sub.out.enqueue(sendItem{d: d}, true) {
		// Queue full: no marker is queued, so nothing would ever send what is pending;
		// drop it, and the next report tries again.
		d.pendingSR.Store(nil)
	}
}
