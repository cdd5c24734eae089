package sfu

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// downTrack is one subscription: one publisher track as sent to one subscriber. It is a
// webrtc.TrackLocal of its own so it can rewrite payload type and SSRC per subscriber and
// send without the header extensions of the publisher's browser (their ids differ between
// Chromium and Firefox). Its state is small; packets stay shared with the upTrack. Of a
// simulcast track it sends one layer at a time, chosen by the subscriber's view
// (choose.go) and switched at keyframes (layerswitch.go).
type downTrack struct {
	up  *upTrack
	sub *Participant

	binding atomic.Pointer[binding]
	sender  *webrtc.RTPSender
	// encrypted: the meeting is end-to-end encrypted, so only a keyframe the subscriber
	// can decrypt is replayed to this subscription (replay.go) and none is asked for at
	// its start (askJoinKeyframe). Set at
	// creation.
	encrypted bool
	// bound: the subscription was bound once; a later bind is no join (askJoinKeyframe).
	bound atomic.Bool

	// skip has bit i set when the readers need not queue layer i's packets: a layer
	// neither sent nor wanted, or every layer of a track the subscriber does not show.
	// Read for every packet, written rarely (under mu).
	skip atomic.Uint32

	// Touched only under each layer's receive lock: the frame being skipped because the
	// queue was full.
	drop [maxLayers]frameDrop

	// Written rarely (RTCP goroutines). They also keep the writer's counters below more
	// than a cache line away from what the reader reads for every packet: sharing a
	// line with them cost the fan-out about a third of its speed.
	kf        subscriberKeyframes
	pendingSR atomic.Pointer[senderReport] // queued for the writer (senderreport.go)
	// ideal is the layer the subscriber's tile calls for, live or not, plus one (0:
	// none); the encodings ask the publisher for it (choose.go). chooseMu orders the
	// choices.
	ideal atomic.Int32
	// allotted is the layer the subscriber's bandwidth allows below ideal, plus one
	// (0: none): the publisher is asked for it too, as the allocation may give a
	// layer nobody else takes (a climb), which must then arrive.
	allotted atomic.Int32
	chooseMu sync.Mutex

	// ctl is the layer wanted and a count of hides (packCtl); the writer compares it
	// with the one it applied last for every packet. sending is the layer the writer
	// sends, -1 while none (sender reports and keyframe requests follow it).
	ctl     atomic.Uint64
	sending atomic.Int32
	// mu guards changes of ctl, skip and sending, detached, and the writer's
	// segments (forwarder.go) against the RTCP goroutine that maps NACKs through them.
	mu       sync.Mutex
	detached bool
	fw       *forwarder // video only; nil forwards every packet as it comes

	// Touched only by the subscriber's writer goroutine: what this subscription sent,
	// for the counts in its sender reports, and (video) the transport-wide numbers it
	// went with, for a packet sent again.
	sentPackets uint32
	sentOctets  uint32
	sent        *sentLog
}

// frameDrop is a frame whose remaining packets are dropped.
type frameDrop struct {
	on bool
	ts uint32
}

// newDownTrack makes the subscription of sub to up. A video subscription gets a
// forwarder: a track without simulcast is sent as it comes until the subscriber hides
// it; a simulcast track starts at a keyframe of the layer chosen for it.
func newDownTrack(up *upTrack, sub *Participant) *downTrack {
	d := &downTrack{up: up, sub: sub}
	if up.kind != webrtc.RTPCodecTypeVideo {
		return d
	}
	d.encrypted = sub.room != nil && sub.room.encrypted.Load()
	d.sent = new(sentLog)
	d.fw = &forwarder{cur: 0, passthrough: true, rp: replayState{pending: true}}
	if up.simulcast() {
		d.fw.cur, d.fw.passthrough = -1, false
		d.sending.Store(-1)
		d.skip.Store(^uint32(1)) // layer 0 wanted until choose says otherwise
	}
	d.choose()
	return d
}

type binding struct {
	ssrc   uint32
	pt     uint8
	twcc   uint8 // the transport-wide sequence number extension's id, 0 if not negotiated
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
			d.bind(uint32(ctx.SSRC()), uint8(c.PayloadType), twccID(ctx.HeaderExtensions()), ctx.WriteStream(), d.sub.writeSubscribeRTCP)
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

// bind starts sending the track as negotiated: ssrc, payload type pt, the
// transport-wide sequence number's extension id (0: none), Pion's stream (nil on a
// connection the server runs itself) and the connection's RTCP.
func (d *downTrack) bind(ssrc uint32, pt, twcc uint8, stream webrtc.TrackLocalWriter, rtcpOut func([]rtcp.Packet) error) {
	b := d.attach(ssrc, pt, twcc, stream, rtcpOut)
	d.sub.indexSSRC(ssrc, d, true)
	d.started(b)
}

// attach is the binding the writer loads, the state of bind but for the SSRC the
// subscriber's RTCP finds the track by, which the caller indexes (bind one track,
// ownSub.accept all that an answer binds at once: Participant.indexSSRCs). It neither
// blocks nor sends, so a caller may make it under its own lock, together with its
// record of what is bound (ownSub.accept does, beside removeTrack's unbind).
func (d *downTrack) attach(ssrc uint32, pt, twcc uint8, stream webrtc.TrackLocalWriter, rtcpOut func([]rtcp.Packet) error) *binding {
	b := &binding{ssrc: ssrc, pt: pt, twcc: twcc, stream: stream, rtcp: rtcpOut}
	d.binding.Store(b)
	return b
}

// started sets going what the binding b, made by attach, calls for: the join's
// keyframe, the replay and the last sender report. Not once b is no longer the
// track's binding (unbound meanwhile: a track removed asks for nothing).
func (d *downTrack) started(b *binding) {
	if d.binding.Load() != b {
		return
	}
	d.askJoinKeyframe()
	if d.sub.subscribeConnected() {
		d.queueReplay() // a track added to a running connection replays now
	}
	// Any report maps timestamps to the publisher's clock: send the last one.
	if l := d.up.layer(int(d.sending.Load())); l != nil {
		d.queueSenderReport(l.sr.Load())
	}
}

// askJoinKeyframe asks the publisher for the keyframe a new subscriber needs before it
// can decode anything, past the per-subscriber limits (keyframe.go), so that by the time
// the subscribe connection is up the keyframe is on its way or cached for the replay
// (replay.go). A hidden track asks for nothing: showing it asks then.
//
// In an end-to-end encrypted meeting it asks for nothing: a newcomer gets no replay, as
// the senders ratchet their keys when someone joins and it cannot decrypt frames from
// before (a member subscribing to a track that starts later is replayed its first
// keyframe, replay.go), and a keyframe sent before the newcomer's connection carries media, or
// before its page holds the sender's new key, is lost to it, while the publisher
// track's throttle would defer the request that counts by up to keyframeInterval. That
// request is the subscriber's own: its browser asks as soon as it decrypts a frame it
// cannot decode, and the first request of a subscription passes at once. (A simulcast
// subscription still asks when its forwarder starts a layer, layerswitch.go: it forwards
// nothing of a layer before a keyframe of it; in an encrypted meeting it starts one
// only once the connection carries media. A keyframe that comes a moment before its
// key is held by the newcomer's page until the key is there: e2ee/FORMAT.md.)
//
// Only the first bind is a join. The subscriber's answers can unbind and bind the
// subscription again as often as it restarts ICE: such a bind asks as the subscriber's
// PLIs do, within its limits, or one subscriber would have the publisher send a
// keyframe to everyone as often as the publisher track's throttle lets one through.
func (d *downTrack) askJoinKeyframe() {
	if d.encrypted || d.up.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	if d.bound.Swap(true) {
		d.keyframeRequest()
		return
	}
	if want := ctlWant(d.ctl.Load()); want >= 0 {
		d.up.stats.keyframesIn.Add(1)
		d.up.requestKeyframe(want)
	}
}

// twccID is the id the connection negotiated for the transport-wide sequence number.
func twccID(exts []webrtc.RTPHeaderExtensionParameter) uint8 {
	for _, e := range exts {
		if e.URI == sdp.TransportCCURI && e.ID > 0 && e.ID < 15 {
			return uint8(e.ID)
		}
	}
	return 0
}

// Unbind is called by Pion when the track is removed or the connection closes.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.unbind()
	return nil
}

// unbind stops sending the track.
func (d *downTrack) unbind() {
	if b := d.unbound(); b != nil {
		d.sub.indexSSRC(b.ssrc, d, false)
	}
}

// unbound ends the track's binding, unbind but for the RTCP index: it returns the
// binding ended (nil if none), whose SSRC the caller drops from the index.
func (d *downTrack) unbound() *binding { return d.binding.Swap(nil) }

// forward queues p for the subscriber without ever blocking the reader. When the queue
// is full a video subscription skips the rest of the current frame (the receiver then
// NACKs or asks for a keyframe); audio has its own queue and is never held behind video.
func (d *downTrack) forward(p *packet) {
	if d.binding.Load() == nil || d.skip.Load()&(1<<p.layer) != 0 {
		return
	}
	dr := &d.drop[p.layer]
	if dr.on {
		if p.header.Timestamp == dr.ts {
			d.up.stats.dropped.Add(1)
			return
		}
		dr.on = false
	}
	if !d.sub.out.enqueue(sendItem{d: d, p: p}, d.up.kind == webrtc.RTPCodecTypeAudio) {
		d.up.stats.dropped.Add(1)
		if d.up.kind == webrtc.RTPCodecTypeVideo {
			dr.on = true
			dr.ts = p.header.Timestamp
		}
	}
}

// write sends p with this subscription's SSRC and payload type, and reports the payload
// bytes written. Called only by the subscriber's writer goroutine, which owns h: the
// header is rewritten there rather than in a copy of its own, since a copy handed to
// Pion's writer (an interface) would escape to the heap, once per forwarded packet.
// Whatever Pion's writer does with h (an interceptor may add header extensions) is
// undone here before the next packet.
func (d *downTrack) write(p *packet, h *rtp.Header, rtx bool) (n int, ok bool) {
	b := d.binding.Load()
	if b == nil {
		return 0, false
	}
	if f := d.fw; f != nil && (f.rp.pending || f.rp.dedupe) && d.replayBefore(p, h, b) {
		return 0, false
	}
	n, _, ok = d.send(p, h, b, rtx)
	return n, ok
}

// send rewrites p's header into h and writes it; wire is what Pion reports written (0
// for a packet it dropped because SRTP does not run yet). rtx says p is a packet a
// NACK asked for again: only such a packet may go again under a number it went with.
func (d *downTrack) send(p *packet, h *rtp.Header, b *binding, rtx bool) (n, wire int, ok bool) {
	ext := h.Extensions[:0] // keep the capacity an interceptor gave it
	*h = p.header
	h.Extensions = ext
	payload := p.payload
	if f := d.fw; f != nil {
		if len(payload) == 0 {
			d.dropPadding(p)
			return 0, 0, false
		}
		if f.passthrough && d.ctl.Load() == f.ctl {
			f.notePassthrough(p)
		} else {
			var ok bool
			if payload, ok = d.rewrite(h, p); !ok {
				return 0, 0, false
			}
		}
	}
	h.SSRC = b.ssrc
	h.PayloadType = b.pt
	wire, ok = d.writeOnce(b, h, payload, p.id, rtx)
	if !ok {
		return 0, 0, false
	}
	d.sentPackets++
	d.sentOctets += uint32(len(payload))
	return len(payload), wire, true
}

// writeOnce writes the packet h and payload, the publisher's packet id (or a train's
// padding, trainID): a retransmission (rtx) of a packet that went under its sequence
// number goes again with the transport-wide number it went with, byte for byte, and
// nothing else goes under a number a packet went with, or where that is no longer
// known (sentlog.go says why). Without rtx, a number that went already is the
// numbering come round (half the sequence space passed unsent), not the same packet.
func (d *downTrack) writeOnce(b *binding, h *rtp.Header, payload []byte, id uint32, rtx bool) (int, bool) {
	var st twccStamp
	if d.sent != nil {
		was, num := d.sent.lookup(h.SequenceNumber, id)
		if was == sentAlready && !rtx {
			was = sentOther
		}
		switch was {
		case sentUnknown, sentOther:
			d.refused(rtx)
			return 0, false
		case sentAlready:
			st = twccStamp{again: true, num: num}
		}
	}
	wire, num, err := d.sub.writeRTP(b, h, payload, st)
	if err != nil {
		if errors.Is(err, errRenumbered) || errors.Is(err, errIndexUsed) {
			d.refused(rtx)
		}
		return 0, false
	}
	if d.sent != nil && wire > 0 { // 0: dropped before SRTP runs, never sent
		d.sent.note(h.SequenceNumber, num, id)
	}
	return wire, true
}

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
	ts, ok := d.outTimestamp(sr)
	if !ok {
		return
	}
	_ = b.rtcp([]rtcp.Packet{&rtcp.SenderReport{
		SSRC:        b.ssrc,
		NTPTime:     sr.ntp,
		RTPTime:     ts,
		PacketCount: d.sentPackets,
		OctetCount:  d.sentOctets,
	}})
}

// refused counts a packet writeOnce would not send: a retransmission as one dropped,
// whose repair then is not waited for (a keyframe request passes again), else a
// packet whose number is not its own.
func (d *downTrack) refused(rtx bool) {
	if rtx {
		d.up.stats.retransmissionsDropped.Add(1)
		d.kf.repairFailed()
	} else {
		d.up.stats.packetsIndexRefused.Add(1)
	}
}

var _ webrtc.TrackLocal = (*downTrack)(nil)
