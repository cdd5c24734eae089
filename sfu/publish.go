package sfu

import (
	"context"
	"fmt"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// The participant's publish connection: the client's offer and the tracks it brings.

// Publish applies the client's offer for the publish connection and returns the answer,
// with all of the server's candidates in it. sources maps each sending mid to its source;
// it must match the offer (checkPublishOffer), and a mid cannot change its source. An
// offer refused with ErrTracks or ErrBadSDP changes nothing.
func (p *Participant) Publish(ctx context.Context, offer string, sources map[string]Source) (string, error) {
	if err := checkPublishOffer(offer, sources); err != nil {
		return "", err
	}
	offer = p.room.engine.cands.filterSDP(offer)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return "", ErrClosed
	}
	prev := p.sources
	merged := make(map[string]Source, len(prev)+len(sources))
	for mid, src := range prev {
		merged[mid] = src
	}
	for mid, src := range sources {
		if old, ok := prev[mid]; ok && old != src {
			p.mu.Unlock()
			return "", fmt.Errorf("%w: track %q was published as %s", ErrTracks, mid, old)
		}
		merged[mid] = src
	}
	pub := p.pub.Load()
	if pub == nil {
		var err error
		keys := &dtlsKeys{}
		if pub, err = p.room.engine.newPublishConnection(keys); err != nil {
			p.mu.Unlock()
			return "", fmt.Errorf("sfu: new publish connection: %w", err)
		}
		pub.OnTrack(p.onTrack)
		p.pub.Store(pub)
		p.room.engine.stats.publishConns.Add(1)
		e := p.room.engine
		p.feedback.Store(newPubFeedback(e.now, e.after, p.writePublishRTCP))
		pub.SCTP().Transport().ICETransport().OnSelectedCandidatePairChange(func(pair *webrtc.ICECandidatePair) {
			p.setPublishRoute(pair)
		})
		// Called with Pion's DTLS lock held: nothing here calls into the connection.
		pub.SCTP().Transport().OnStateChange(func(s webrtc.DTLSTransportState) {
			if s == webrtc.DTLSTransportStateConnected {
				p.startPublishSRTP(keys)
			}
		})
	}
	p.sources = merged
	p.mu.Unlock()

	if err := pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		p.mu.Lock()
		p.sources = prev
		p.mu.Unlock()
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	answer, err := pub.CreateAnswer(nil)
	if err != nil {
		_ = pub.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	gathered := webrtc.GatheringCompletePromise(pub)
	if err := pub.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	// Before the answer goes out: ICE-TCP checks naming the ufrag come after it.
	p.setPublishUfrag(sdpUfrag(pub.LocalDescription().SDP))
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	p.flushCandidates(pub, &p.pubCandidates)
	// The answer Pion keeps as its own stays as it made it: the ask is for the browser's
	// encoder only (sdpdtx.go).
	return askForDTX(pub.LocalDescription().SDP), nil
}

// onTrack runs on a Pion goroutine when a published track's first packet arrives.
func (p *Participant) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	mid := ""
	for _, t := range p.pub.Load().GetTransceivers() { // the connection that calls
		if t.Receiver() == recv {
			mid = t.Mid()
			break
		}
	}
	index, ridOK := layerIndex(remote.RID())
	p.mu.Lock()
	src, ok := p.sources[mid]
	closed := p.closed
	for _, r := range p.readers {
		if r.remote == remote {
			// Pion hands a stream of a RID it has a track for to OnTrack again, under
			// each new SSRC the publisher sends it with (the same TrackRemote, read
			// from the new stream now): what reads the track already reads that. A new
			// layer, stream and readers for each would cost a publisher one packet.
			p.mu.Unlock()
			return
		}
	}
	if !closed {
		p.wg.Add(2)
		p.readers = append(p.readers, trackReader{remote: remote, recv: recv})
	}
	p.mu.Unlock()
	if closed {
		return
	}
	types := payloadTypesOf(recv.GetParameters().Codecs)
	if !ok || !ridOK || kindOf(src) != remote.Kind().String() || (remote.RID() != "" && src != SourceCamera) || types.empty() {
		// The offer checks make this unreachable for a well-behaved client; a track that
		// slips past them anyway is read and thrown away, never forwarded. (Without a
		// media codec negotiated, no packet of its would be a type the stream may carry.)
		p.room.engine.log.Debug("sfu: unlabelled track discarded", "kind", remote.Kind().String())
		p.discardTrack(remote, recv)
		return
	}
	// The layers of a simulcast track arrive as tracks of their own, one by one: the
	// first makes the track, the others join it.
	p.mu.Lock()
	up := p.ups[mid]
	isNew := up == nil || up.ended()
	if isNew {
		up = &upTrack{
			id:     fmt.Sprintf("%s-%s", src, mid),
			owner:  p,
			source: src,
			kind:   remote.Kind(),
			codec:  remote.Codec().RTPCodecCapability,
			// src is always a known source here, so its index is valid.
			blocked: &p.blocked[sourceIndex(src)],
			tap:     p.room.engine.tap,
			stats:   &p.room.engine.stats,
			clock:   p.room.engine.now,
			after:   p.room.engine.after,
			given:   p.room.engine.given,
		}
		up.enc.init(p, up)
		p.ups[mid] = up
	}
	p.mu.Unlock()
	l := &layer{index: uint8(index), rid: remote.RID(), remote: remote, mid: mid,
		midID: headerExtensionID(recv, sdp.SDESMidURI), ridID: headerExtensionID(recv, sdp.SDESRTPStreamIDURI),
		types: types}
	if remote.Kind() == webrtc.RTPCodecTypeAudio {
		l.slab.chunk = audioSlabBytes
	}
	if f := p.feedback.Load(); f != nil {
		l.feedback = f
		l.rr = f.addStream(uint32(remote.SSRC()), remote.Codec().ClockRate)
		l.twccID = headerExtensionID(recv, sdp.TransportCCURI)
	}
	if src == SourceMicrophone {
		l.level = p.levelReader(recv)
	}
	if !up.addLayer(l) {
		p.room.speakers.release(l.level)
		p.discardTrack(remote, recv)
		return
	}
	// Sender reports from the publisher feed our receiver reports and are forwarded
	// to subscribers for lip sync.
	rid := remote.RID()
	go func() {
		defer p.wg.Done()
		l.readPublisherRTCP(func(b []byte) (int, error) {
			if rid != "" {
				n, _, err := recv.ReadSimulcast(b, rid)
				return n, err
			}
			n, _, err := recv.Read(b)
			return n, err
		})
	}()
	go func() {
		defer p.wg.Done()
		defer p.room.speakers.release(l.level)
		if isNew && !p.room.publish(up) {
			up.layerEnded()
			return
		}
		l.run()
	}()
}

// levelReader is speaker detection's part of a microphone track, or nil when the audio
// level extension was not negotiated (speaker detection off) or the room is closed.
func (p *Participant) levelReader(recv *webrtc.RTPReceiver) *levelReader {
	id := headerExtensionID(recv, sdp.AudioLevelURI)
	if id == 0 {
		return nil
	}
	if m := p.room.speakers.attach(p.id); m != nil {
		return &levelReader{id: id, meter: m}
	}
	return nil
}

// headerExtensionID is the id the receiver's stream carries the header extension uri
// under, 0 when it was not negotiated.
func headerExtensionID(recv *webrtc.RTPReceiver, uri string) uint8 {
	for _, ext := range recv.GetParameters().HeaderExtensions {
		if ext.URI == uri && ext.ID >= 1 && ext.ID <= 255 {
			return uint8(ext.ID)
		}
	}
	return 0
}

// discardTrack reads a track nobody gets until it ends; it takes the two counts of p.wg
// that onTrack added.
func (p *Participant) discardTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	rid := remote.RID()
	go p.discard(func(b []byte) error {
		if rid != "" {
			_, _, err := recv.ReadSimulcast(b, rid)
			return err
		}
		_, _, err := recv.Read(b)
		return err
	})
	go p.discard(func(b []byte) error { _, _, err := remote.Read(b); return err })
}

// discard reads with read until it fails; it holds one count of p.wg.
func (p *Participant) discard(read func([]byte) error) {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	for read(buf) == nil {
	}
}
