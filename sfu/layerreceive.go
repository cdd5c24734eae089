package sfu

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"

	"github.com/pion/webrtc/v4"
)

// A layer's receive path: its Pion reader (run) and what every packet it or the media
// socket's reader (rtpin.go) hands on goes through (receive), from the publisher's
// feedback to the cache and the fan-out to the subscriptions. Under the layer's rx.

// run reads the packets Pion delivers until the stream ends. Once it has the first,
// the stream is registered for the media socket's reader (rtpin.go), which then reads
// most of them itself; what still comes this way (the packets before, the stream of a
// connection whose SRTP stays on Pion's path) is received the same way.
func (l *layer) run() {
	defer l.up.layerEnded()
	defer func() { // after the socket reader has let it go (indexLayer, below)
		l.rx.Lock()
		l.endTail()
		l.rx.Unlock()
	}()
	if l.feedback != nil {
		defer l.feedback.removeStream(l.rr)
	}
	owner := l.up.owner
	indexed := false
	buf := make([]byte, 1500)
	for {
		n, _, err := l.remote.Read(buf)
		if errors.Is(err, webrtc.ErrCodecNotFound) {
			// One packet under a payload type the connection did not negotiate
			// (Pion's track checks each packet's): that packet is dropped, not the
			// stream, which a publisher's one such packet would otherwise end for
			// every subscriber. It is counted as the socket reader's are (receive).
			l.up.stats.unnegotiatedType.Add(1)
			continue
		}
		if err != nil {
			// The stream ended, or the participant is stopping (a deadline of
			// stopReaders'): nothing else sets one.
			return
		}
		if n < 12 {
			continue
		}
		raw := buf[:n] // receive copies it
		if !indexed {
			indexed = true
			l.ssrc = binary.BigEndian.Uint32(raw[8:12])
			l.takenAt = binary.BigEndian.Uint16(raw[2:4])
			owner.indexLayer(l, false)
			defer owner.indexLayer(l, true)
		}
		l.receiveLocked(raw)
	}
}

// receiveLocked receives one decrypted packet (copied) under the layer's receive
// lock: the socket reader and the layer's Pion reader may both have one.
func (l *layer) receiveLocked(raw []byte) {
	l.rx.Lock()
	l.receive(raw, false, 0)
	l.rx.Unlock()
}

// receive takes one decrypted RTP packet, b, which it copies (the caller's buffer is
// read into again): records it for the publisher's feedback, asks for what it finds
// missing, caches it and forwards it to every subscription. batched says the socket
// reader has it, which arms the tail watch at its batch's end (rtpRoutes.batchDone);
// at is when the kernel received it, the start of its forwarding delay (0: not known,
// now is). Under l.rx.
func (l *layer) receive(b []byte, batched bool, at int64) {
	u := l.up
	// A track past its ids (below) is only parsed for the publisher's feedback: nothing
	// keeps its packets.
	spent := u.packets.Load() >= math.MaxUint32
	now := u.now()
	// A packet under a payload type not negotiated for the stream (payloadtype.go)
	// is likewise only parsed for the feedback, and so is an audio stream's beyond
	// what Opus can be (audiocap.go): such a packet takes nothing of the bound.
	foreign := l.types.refuses(b)
	over := !foreign && u.kind == webrtc.RTPCodecTypeAudio && !l.audio.take(now, len(b))
	raw := b
	if !spent && !over && !foreign {
		raw = l.slab.keep(b) // kept: the cache and the queues share it
	}
	// pkt is parsed into again for every packet so that its header-extension list (every
	// browser sends some) is allocated once, not per packet.
	pkt := &l.pkt
	if err := pkt.Unmarshal(raw); err != nil {
		return
	}
	if l.feedback != nil {
		var tcc []byte
		if l.twccID != 0 {
			tcc = pkt.GetExtension(l.twccID)
		}
		l.feedback.received(l.rr, pkt.SequenceNumber, pkt.Timestamp, tcc, now)
	}
	if spent {
		u.stats.packetsBeyondIDs.Add(1)
		return
	}
	if over || foreign {
		// It came, so it is no gap to ask the publisher for.
		l.noteSequence(pkt.SequenceNumber)
		if foreign {
			u.stats.unnegotiatedType.Add(1)
		} else {
			u.stats.overAudioRate.Add(1)
		}
		return
	}
	id := u.packets.Add(1)
	if id > math.MaxUint32 {
		// A track takes four billion packets (weeks of a screen share's, months of a
		// camera's), then neither caches nor forwards one: their ids would come round,
		// and a NACK could find another packet under a logged one's (sentlog.go). The
		// publisher's feedback above stays true. (Only a packet whose sibling layer
		// spent the last id since the check above gets here; later ones are not kept.)
		u.stats.packetsBeyondIDs.Add(1)
		return
	}
	p := l.slab.newPacket()
	p.layer = l.index
	p.id = uint32(id)
	p.arrival = at
	if at == 0 {
		p.arrival = now.UnixNano()
	}
	p.header = pkt.Header
	p.header.Extension = false
	p.header.Extensions = nil
	p.header.ExtensionProfile = 0
	if len(pkt.CSRC) > 0 {
		p.header.CSRC = slices.Clone(pkt.CSRC) // pkt's is parsed into again
	} else {
		p.header.CSRC = nil
	}
	p.payload = pkt.Payload
	if pkt.PaddingSize != 0 && p.header.PaddingSize == 0 {
		p.header.PaddingSize = pkt.PaddingSize
	}
	l.noteSequence(p.header.SequenceNumber)
	if u.kind == webrtc.RTPCodecTypeVideo && len(p.payload) > 0 {
		l.noteTail(p, batched)
	}
	if u.blocked.Load() {
		return
	}
	if l.level != nil {
		l.level.note(raw)
	}
	// Padding (a browser probing its uplink, often on a layer it does not
	// encode) is not forwarded (dropPadding): a layer's rate is its media's,
	// and a layer that brings only padding has not arrived.
	if len(p.payload) > 0 {
		l.bytes.Add(uint64(len(raw)))
		if l.rid != "" {
			if t := u.live.tick.Load(); l.seen.Load() != t {
				l.noteSeen(t)
			}
			l.noteKeyframeSize(p.payload)
		}
	}
	if tap := u.tap; tap != nil {
		tap(TapPacket{ParticipantID: u.owner.id, Source: u.source, RID: l.rid, SequenceNumber: p.header.SequenceNumber,
			Timestamp: p.header.Timestamp, Marker: p.header.Marker, Payload: p.payload})
	}
	if u.kind == webrtc.RTPCodecTypeVideo && startsKeyframe(p.payload) {
		l.cache.putKeyframe(p, u.now()) // a new subscriber starts from it (replay.go)
		l.noteKeyframeStart(p)          // to find it whole (decodable.go)
	} else {
		l.cache.put(p)
	}
	l.fanOut(p, now)
}

// noteSequence tells the loss tracker that the packet numbered seq came, and asks the
// publisher again for what it finds missing. Under l.rx.
func (l *layer) noteSequence(seq uint16) {
	if seqs, gaveUp := l.loss.onPacket(seq, l.up.now, l.nackBuf[:0]); len(seqs) > 0 || gaveUp > 0 {
		l.nackPublisher(seqs, gaveUp)
	}
}

// noteKeyframeSize keeps the size a keyframe announces; subscriptions choose layers by
// it. Only the size's first sighting and changes cost more than the parse.
func (l *layer) noteKeyframeSize(payload []byte) {
	d, ok := parseVP8(payload)
	if !ok || !d.keyframe {
		return
	}
	w, h, ok := vp8KeyframeSize(payload, d)
	if !ok {
		return
	}
	if size := uint32(w)<<16 | uint32(h); l.size.Swap(size) != size {
		l.up.layersChanged()
	}
}
