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
}

type binding struct {
	ssrc   uint32
	pt     uint8
	stream webrtc.TrackLocalWriter
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
			d.binding.Store(&binding{ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), stream: ctx.WriteStream()})
			// A new subscriber can decode nothing until the next keyframe: ask now.
			d.up.requestKeyframe()
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
	return len(p.payload), true
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
			d.up.requestKeyframe()
		case *rtcp.TransportLayerNack:
			d.up.stats.nacks.Add(1)
			resent := uint64(0)
			for _, pair := range pkt.Nacks {
				for _, seq := range pair.PacketList() {
					if p := d.up.cache.get(seq); p != nil {
						if d.sub.out.enqueue(sendItem{d: d, p: p}, true) {
							resent++
						} else {
							d.up.stats.dropped.Add(1)
						}
					}
				}
			}
			if resent > 0 {
				d.up.stats.nacksAnswered.Add(1)
				d.up.stats.retransmissions.Add(resent)
			}
		}
	}
}

var _ webrtc.TrackLocal = (*downTrack)(nil)
