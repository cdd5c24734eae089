package sfu

import (
	"github.com/pion/rtcp"
)

// senderReport is the part of a publisher's RTCP sender report that maps its RTP
// timestamps to its wall clock. Receivers align audio and video by this mapping, so the
// SFU forwards it (translated per subscription, downTrack.writeSenderReport) instead of
// making up its own from the time packets reached the server.
type senderReport struct {
	ntp uint64
	rtp uint32
}

// readPublisherRTCP reads the RTCP of one published track until the receiver stops.
// Reading also feeds the receiver reports the SFU sends back (Pion's interceptor sees
// every packet read).
func (u *upTrack) readPublisherRTCP(read func([]byte) (int, error)) {
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
			if sr, ok := pkt.(*rtcp.SenderReport); ok && u.remote != nil && sr.SSRC == uint32(u.remote.SSRC()) {
				u.onSenderReport(sr)
			}
		}
	}
}

// onSenderReport keeps the publisher's latest report and queues it for every
// subscription, behind the packets already queued for it.
func (u *upTrack) onSenderReport(sr *rtcp.SenderReport) {
	r := &senderReport{ntp: sr.NTPTime, rtp: sr.RTPTime}
	u.sr.Store(r)
	u.stats.senderReports.Add(1)
	if subs := u.subs.Load(); subs != nil {
		for _, d := range *subs {
			d.queueSenderReport(r)
		}
	}
}

// queueSenderReport queues r for this subscription once it is negotiated. A report still
// waiting in the queue is replaced rather than queued twice.
func (d *downTrack) queueSenderReport(r *senderReport) {
	if r == nil || d.binding.Load() == nil {
		return
	}
	if d.pendingSR.Swap(r) == nil && !d.sub.out.enqueue(sendItem{d: d}, true) {
		// Queue full: no marker is queued, so nothing would ever send what is pending;
		// drop it, and the next report tries again.
		d.pendingSR.Store(nil)
	}
}
