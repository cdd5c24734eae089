package sfu

// What the simulcast rig (simrig_test.go) sends and reads: the publisher's frames,
// padding and answers to PLIs, the subscriber's packets, the rig's pumping of the fake
// clock until a condition holds, and the encodings the publisher is asked for.

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// sendRound sends one frame on every layer not silent (a keyframe where one was asked
// for).
func (p *simPublisher) sendRound() {
	for i := range p.layers {
		p.mu.Lock()
		silent, pad := p.silent[i], p.pad[i]
		p.mu.Unlock()
		switch {
		case pad:
			p.sendPadding(i)
		case !silent:
			p.sendFrame(i, false)
		}
	}
}

// sendFrame sends one frame on layer i (a keyframe in keyParts packets), or the next
// packet of a paced keyframe when one is due.
func (p *simPublisher) sendFrame(i int, key bool) {
	p.mu.Lock()
	l := p.layers[i]
	if len(l.paced) > 0 {
		var next *rtp.Packet
		if l.waited++; l.waited >= p.keyEvery[i] {
			next, l.paced, l.waited = l.paced[0], l.paced[1:], 0
		}
		p.mu.Unlock()
		if next != nil {
			p.write(i, next)
		}
		return
	}
	key = key || l.key || !l.sent
	l.key, l.sent = false, true
	p.frame++
	frame := p.frame
	p.sent[frame] = i
	l.seq++
	l.ts += 3000
	l.pid = (l.pid + 1) & 0x7fff
	l.tl0++
	payload := []byte{0x90, 0xe0, 0x80 | byte(l.pid>>8), byte(l.pid), l.tl0, 0x00}
	if key {
		payload = append(payload, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a)
		payload = binary.LittleEndian.AppendUint16(payload, simSizes[i][0])
		payload = binary.LittleEndian.AppendUint16(payload, simSizes[i][1])
	} else {
		payload = append(payload, 0x01, 0x00, 0x00)
	}
	payload = append(payload, byte(i))
	payload = binary.BigEndian.AppendUint32(payload, frame)
	payload = append(payload, make([]byte, p.bulk[i])...)
	pkts := []*rtp.Packet{{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: l.seq, Timestamp: l.ts, Marker: true}, Payload: payload}}
	for n := 1; key && n < p.keyParts[i]; n++ {
		// The rest of the keyframe: VP8's descriptor without S, the layer and frame
		// number as decodeSimPacket reads them from a delta frame.
		pkts[n-1].Marker = false
		l.seq++
		rest := []byte{0x80, 0xe0, 0x80 | byte(l.pid>>8), byte(l.pid), l.tl0, 0x00, 0x00, 0x00, 0x00, byte(i)}
		rest = binary.BigEndian.AppendUint32(rest, frame)
		pkts = append(pkts, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: l.seq, Timestamp: l.ts, Marker: true}, Payload: rest})
	}
	if h := p.keyHole[i]; key && h > 0 && h < len(pkts) {
		pkts = append(pkts[:h:h], pkts[h+1:]...)
	}
	if key && p.keyEvery[i] > 0 {
		l.paced, l.waited, pkts = pkts[1:], 0, pkts[:1]
	}
	p.mu.Unlock()
	for _, pkt := range pkts {
		p.write(i, pkt)
	}
}

// write sends pkt on layer i, unless the layer's loss (lossy) takes it.
func (p *simPublisher) write(i int, pkt *rtp.Packet) {
	p.mu.Lock()
	l := p.layers[i]
	if n := p.lossy[i]; n > 0 {
		l.dealt++
		if l.dealt%n != 0 {
			p.mu.Unlock()
			return
		}
	}
	l.written = pkt.SequenceNumber
	p.mu.Unlock()
	if err := pkt.Header.SetExtension(p.midID, []byte(p.mid)); err != nil {
		p.t.Error(err)
	}
	if err := pkt.Header.SetExtension(p.ridID, []byte(layerRIDs[i])); err != nil {
		p.t.Error(err)
	}
	if err := l.track.WriteRTP(pkt); err != nil {
		p.t.Errorf("write: %v", err)
	}
}

// sendPadding sends a packet of padding only on layer i, as a browser probing its
// uplink does (on a layer it may not encode).
func (p *simPublisher) sendPadding(i int) {
	p.mu.Lock()
	l := p.layers[i]
	l.seq++
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: l.seq, Timestamp: l.ts,
		Padding: true, PaddingSize: 255}}
	p.mu.Unlock()
	p.write(i, pkt)
}

func (p *simPublisher) readRTCP(s *webrtc.RTPSender, rid string) {
	for {
		pkts, _, err := s.ReadSimulcastRTCP(rid)
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			if pli, ok := pkt.(*rtcp.PictureLossIndication); ok {
				p.mu.Lock()
				for i, l := range p.layers {
					if l.ssrc == pli.MediaSSRC {
						l.plis++
						if p.unanswered[i] > 0 {
							p.unanswered[i]--
						} else {
							l.key = true
						}
					}
				}
				p.mu.Unlock()
			}
		}
	}
}

func (p *simPublisher) pliCount(i int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.layers[i].plis
}

func decodeSimPacket(p *rtp.Packet) simPacket {
	out := simPacket{seq: p.SequenceNumber, ts: p.Timestamp, layer: -1, size: len(p.Payload)}
	d, ok := parseVP8(p.Payload)
	if !ok {
		return out
	}
	out.pid, out.tl0, out.key = d.pid, d.tl0, d.keyframe
	f := p.Payload[d.size:]
	n := 3
	if d.keyframe {
		n = 10
	}
	if len(f) >= n+5 {
		out.layer = int(f[n])
		out.frame = binary.BigEndian.Uint32(f[n+1:])
	}
	return out
}

func (s *simSubscriber) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *simSubscriber) packets() []simPacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]simPacket(nil), s.got...)
}

func (s *simSubscriber) last() simPacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[len(s.got)-1]
}

// pumpUntil sends rounds of frames until cond holds.
func (r *simRig) pumpUntil(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(conntest.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		r.pub.sendRound()
		time.Sleep(2 * time.Millisecond)
		r.stepIfKeyframeDeferred()
	}
}

// keyframeDeferred reports whether a layer's throttle holds a keyframe request back.
func (r *simRig) keyframeDeferred() bool {
	up := r.subTrack().up
	for i := range maxLayers {
		if l := up.layer(i); l != nil {
			l.kf.mu.Lock()
			pending := l.kf.pending
			l.kf.mu.Unlock()
			if pending {
				return true
			}
		}
	}
	return false
}

// stepIfKeyframeDeferred moves the fake clock on by liveStep while a keyframe request
// waits for the throttle's interval (whose timer runs on that clock), and waits until
// the liveness ticker has read it, as pumpTicking does: time passes in the rig only
// while something waits for it.
func (r *simRig) stepIfKeyframeDeferred() {
	r.t.Helper()
	if !r.keyframeDeferred() {
		return
	}
	r.stepClock()
}

// settleOn sends until the subscriber has received several frames of layer in a row.
func (r *simRig) settleOn(layer int) {
	r.t.Helper()
	r.pumpUntil("layer "+layerRIDs[layer], func() bool {
		got := r.sub.packets()
		if len(got) < 5 {
			return false
		}
		for _, p := range got[len(got)-5:] {
			if p.layer != layer {
				return false
			}
		}
		return true
	})
}

func (r *simRig) view(tiles ...Tile) { r.subP.SetView(tiles) }

// subTrack is the subscriber's subscription to the camera.
func (r *simRig) subTrack() *downTrack {
	r.subP.mu.Lock()
	defer r.subP.mu.Unlock()
	for _, d := range r.subP.downs {
		return d
	}
	r.t.Fatal("no subscription")
	return nil
}

func camTile(w, h int) Tile {
	return Tile{ParticipantID: "pub", Source: SourceCamera, Width: w, Height: h}
}

// checkContinuous: what the subscriber got is one stream, whatever layers it came from.
func checkContinuous(t *testing.T, got []simPacket) {
	t.Helper()
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if b.seq != a.seq+1 {
			t.Fatalf("packet %d: sequence number %d after %d", i, b.seq, a.seq)
		}
		if int32(b.ts-a.ts) <= 0 {
			t.Fatalf("packet %d: timestamp %d after %d", i, b.ts, a.ts)
		}
		if b.pid != (a.pid+1)&0x7fff {
			t.Fatalf("packet %d: picture ID %d after %d", i, b.pid, a.pid)
		}
		if b.tl0 != a.tl0+1 {
			t.Fatalf("packet %d: TL0PICIDX %d after %d", i, b.tl0, a.tl0)
		}
		if b.layer != a.layer && !b.key {
			t.Fatalf("packet %d: switched from layer %d to %d without a keyframe", i, a.layer, b.layer)
		}
	}
}

// takeEncodings returns what the publisher was told since the last call.
func (r *simRig) takeEncodings() [][]string {
	var out [][]string
	for {
		select {
		case <-r.pubP.EncodingsChanged():
			for _, e := range r.pubP.Encodings() {
				if e.Source != SourceCamera {
					r.t.Fatalf("encodings for %s", e.Source)
				}
				out = append(out, e.Active)
			}
		default:
			return out
		}
	}
}

// unneededSince waits until the camera's layer i is no longer needed and returns since
// when, on the fake clock.
func (r *simRig) unneededSince(i int) time.Time {
	r.t.Helper()
	e := &r.subTrack().up.enc
	var since time.Time
	conntest.Eventually(r.t, layerRIDs[i]+" unneeded", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		since = e.unneeded[i]
		return !since.IsZero()
	})
	return since
}

// waitEncodings waits for the next encodings message and checks it.
func (r *simRig) waitEncodings(want ...string) {
	r.t.Helper()
	var got [][]string
	conntest.Eventually(r.t, "encodings "+strings.Join(want, ","), func() bool {
		got = append(got, r.takeEncodings()...)
		return len(got) > 0
	})
	if len(got) != 1 || strings.Join(got[0], ",") != strings.Join(want, ",") {
		r.t.Fatalf("encodings %v, want one message [%s]", got, strings.Join(want, " "))
	}
}
