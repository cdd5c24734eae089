package sfu

import (
	"strings"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// downTrack is one subscription: one publisher track as sent to one subscriber. It is a
// webrtc.TrackLocal of its own so it can rewrite payload type and SSRC per subscriber and
// send without the header extensions of the publisher's browser (their ids differ between
// Chromium and Firefox). Its state is small; packets stay shared with the upTrack.
type downTrack struct {
	up  *upTrack
	sub *Participant

	binding atomic.Pointer[binding]
	sender  *webrtc.RTPSender

	// Touched only by the up track's reader goroutine.
	dropping   bool
	dropFrameT uint32

	// Written rarely (RTCP goroutines). They also keep the writer's counters below more
	// than a cache line away from what the reader reads for every packet: sharing a
	// line with them cost the fan-out about a third of its speed.
	kf        subscriberKeyframes
	pendingSR atomic.Pointer[senderReport] // queued for the writer (senderreport.go)

	// Touched only by the subscriber's writer goroutine: what this subscription sent,
	// for the counts in its sender reports.
	sentPackets uint32
	sentOctets  uint32
}

type binding struct {
	ssrc   uint32
	pt     uint8
	stream webrtc.TrackLocalWriter
	rtcp   func([]rtcp.Packet) error // the subscribe connection's RTCP, for sender reports
}

func (d *downTrack) ID() string                { return d.up.id }
func (d *downTrack) RID() string               { return "" }
func (d *downTrack) StreamID() string          { return d.up.owner.id }
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.up.kind }

// Bind is called by Pion when the subscribe connection has negotiated this track.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	want := d.up.codec
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, want.MimeType) {
			d.binding.Store(&binding{ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), stream: ctx.WriteStream(),
				rtcp: d.sub.writeSubscribeRTCP})
			// A new subscriber can decode nothing until the next keyframe: ask now,
			// past the per-subscriber limits (keyframe.go).
			if d.up.kind == webrtc.RTPCodecTypeVideo {
				d.up.stats.keyframesIn.Add(1)
				d.up.requestKeyframe()
			}
			// Any report maps timestamps to the publisher's clock: send the last one.
			d.queueSenderReport(d.up.sr.Load())
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

// Unbind is called by Pion when the track is removed or the connection closes.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.binding.Store(nil)
	return nil
}

// forward queues p for the subscriber without ever blocking the reader. When the queue
// is full a video subscription skips the rest of the current frame (the receiver then
// NACKs or asks for a keyframe); audio has its own queue and is never held behind video.
func (d *downTrack) forward(p *packet) {
	if d.binding.Load() == nil {
		return
	}
	if d.dropping {
		if p.header.Timestamp == d.dropFrameT {
			d.up.stats.dropped.Add(1)
			return
		}
		d.dropping = false
	}
	if !d.sub.out.enqueue(sendItem{d: d, p: p}, d.up.kind == webrtc.RTPCodecTypeAudio) {
		d.up.stats.dropped.Add(1)
		if d.up.kind == webrtc.RTPCodecTypeVideo {
			d.dropping = true
			d.dropFrameT = p.header.Timestamp
		}
	}
}

// write sends p with this subscription's SSRC and payload type, and reports the payload
// bytes written. Called only by the subscriber's writer goroutine.
func (d *downTrack) write(p *packet) (payload int, ok bool) {
	b := d.binding.Load()
	if b == nil {
		return 0, false
	}
	h := p.header
	h.SSRC = b.ssrc
	h.PayloadType = b.pt
	if _, err := b.stream.WriteRTP(&h, p.payload); err != nil {
		return 0, false
	}
	d.sentPackets++
	d.sentOctets += uint32(len(p.payload))
	return len(p.payload), true
}

// outTimestamp maps a publisher RTP timestamp to the one this subscription sends. The SFU
// forwards timestamps unchanged today; whatever rewrites them in write must map them here
// too, or receivers lose lip sync.
func (d *downTrack) outTimestamp(ts uint32) uint32 { return ts }

// writeSenderReport sends the publisher's latest sender report translated to this
// subscription: its SSRC, its RTP timestamps, its own packet and byte counts, and the
// publisher's NTP time, so the receiver aligns audio and video on the publisher's clock.
// Called only by the subscriber's writer goroutine, after the packets queued before it.
func (d *downTrack) writeSenderReport() {
	sr := d.pendingSR.Swap(nil)
	b := d.binding.Load()
	if sr == nil || b == nil || b.rtcp == nil {
		return
	}
	_ = b.rtcp([]rtcp.Packet{&rtcp.SenderReport{
		SSRC:        b.ssrc,
		NTPTime:     sr.ntp,
		RTPTime:     d.outTimestamp(sr.rtp),
		PacketCount: d.sentPackets,
		OctetCount:  d.sentOctets,
	}})
}

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
	for _, pkt := range pkts {
		switch pkt := pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			d.keyframeRequest()
		case *rtcp.TransportLayerNack:
			d.answerNack(pkt)
		}
	}
}

// keyframeRequest handles a subscriber's PLI or FIR (keyframe.go says why some are not
// passed on).
func (d *downTrack) keyframeRequest() {
	if d.up.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	st := d.up.stats
	st.keyframesIn.Add(1)
	switch d.kf.request(d.up.now()) {
	case keyframeRepaired:
		st.keyframesRepaired.Add(1)
	case keyframeLimited:
		st.keyframesLimited.Add(1)
	default:
		d.up.requestKeyframe()
	}
}

// answerNack queues the asked-for packets that are still cached as retransmissions.
// A NACK answered in full lets the next keyframe request wait for the repair.
func (d *downTrack) answerNack(pkt *rtcp.TransportLayerNack) {
	st := d.up.stats
	st.nacks.Add(1)
	asked, resent := 0, uint64(0)
	for _, pair := range pkt.Nacks {
		for _, seq := range pair.PacketList() {
			asked++
			p := d.up.cache.get(seq)
			if p == nil {
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
		d.sub.out.wake()
		st.nacksAnswered.Add(1)
		st.retransmissions.Add(resent)
	}
	if asked > 0 && resent == uint64(asked) {
		d.kf.answeredNack(d.up.now())
	}
}

var _ webrtc.TrackLocal = (*downTrack)(nil)
