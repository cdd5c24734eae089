package sfu

import (
	"time"

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

// srForwardInterval is the least time between two of a stream's sender reports that
// are forwarded. Each one forwarded is a packet to every subscriber of the layer, and
// a publisher's RTCP packet may hold dozens: a modified client sending them as fast as
// its uplink allows would have the server send as many packets to everyone (a report
// waiting in a queue is replaced, but a writer that keeps up sends each). A receiver
// needs only the latest mapping; one held back here is still kept (l.sr), and its
// mapping comes again with the next and goes at once to a subscription that starts
// or switches layers. The bound is below what browsers do, so that only a flood is
// held back and counted: libwebrtc (Chromium's and Firefox's RTCP) sends an audio
// stream's every 2.5 to 7.5 s, and waits 360 ms per Mbit/s a video stream sends, at
// most a second, between half and one and a half times that: the page's screen
// share at 2.5 Mbit/s sends them 72 to 216 ms apart, and only a stream above 3.6
// Mbit/s ever sends two within 50 ms. At 20 a second, a flooded stream's reports cost
// a subscriber some 12 kbit/s with their headers.
const srForwardInterval = 50 * time.Millisecond

// onSenderReport keeps the publisher's latest report and queues it for every
// subscription that sends this layer, behind the packets already queued for it, unless
// one was forwarded less than srForwardInterval ago. Called by the layer's one RTCP
// reader (readPublisherRTCP), which alone touches srForwarded.
func (l *layer) onSenderReport(sr *rtcp.SenderReport) {
	r := &senderReport{ntp: sr.NTPTime, rtp: sr.RTPTime, layer: l.index}
	l.sr.Store(r)
	now := l.up.now()
	if l.feedback != nil {
		l.feedback.senderReport(l.rr, sr.NTPTime, now) // for the receiver reports' delay
	}
	if since := now.Sub(l.srForwarded); !l.srForwarded.IsZero() && since >= 0 && since < srForwardInterval {
		l.up.stats.senderReportsLimited.Add(1)
		return
	}
	l.srForwarded = now
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
