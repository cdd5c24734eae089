package sfu

import (
	"context"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// What the tests' Pion publishers share: the offer to Publish and its answer, and a
// simulcast camera's three layers on one sender.

// publishTo offers pc's tracks to p as the sources says (called once the offer has
// given them their mids) and applies p's answer.
func publishTo(ctx context.Context, t testing.TB, p *Participant, pc *webrtc.PeerConnection, sources func() map[string]Source) {
	t.Helper()
	applyAnswer(t, pc, publishOffer(ctx, t, p, pc, nil, func(o string) string { return o }, sources))
}

// publishOffer has pc make an offer (as opts says), gathers, and returns p's answer
// to it as edit makes it, without applying it.
func publishOffer(ctx context.Context, t testing.TB, p *Participant, pc *webrtc.PeerConnection, opts *webrtc.OfferOptions, edit func(string) string, sources func() map[string]Source) string {
	t.Helper()
	offer, err := pc.CreateOffer(opts)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	answer, err := p.Publish(ctx, edit(pc.LocalDescription().SDP), sources())
	if err != nil {
		t.Fatalf("the publish offer: %v", err)
	}
	return answer
}

func applyAnswer(t testing.TB, pc *webrtc.PeerConnection, answer string) {
	t.Helper()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
}

// addSimulcastCamera adds a send-only camera of the three layers (layerRIDs) to pc,
// one sender; layer is called with each layer's track as it is made.
func addSimulcastCamera(t testing.TB, pc *webrtc.PeerConnection, layer func(i int, track *webrtc.TrackLocalStaticRTP)) (*webrtc.RTPTransceiver, *webrtc.RTPSender) {
	t.Helper()
	var tr *webrtc.RTPTransceiver
	var sender *webrtc.RTPSender
	for i, rid := range layerRIDs {
		track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "pub", webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		layer(i, track)
		if i == 0 {
			if tr, err = pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
				t.Fatal(err)
			}
			sender = tr.Sender()
		} else if err := sender.AddEncoding(track); err != nil {
			t.Fatal(err)
		}
	}
	return tr, sender
}

// negotiatedExtensions are the ids the answer gave the mid and RID header extensions
// of sender; the test fails if it gave either none.
func negotiatedExtensions(t testing.TB, sender *webrtc.RTPSender) (midID, ridID uint8) {
	t.Helper()
	params := sender.GetParameters()
	for _, e := range params.HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		}
	}
	if midID == 0 || ridID == 0 {
		t.Fatalf("mid or rid extension not negotiated: %+v", params.HeaderExtensions)
	}
	return midID, ridID
}

// useSender has p write with the mid, RID extensions and SSRCs the answer gave
// sender's layers, and answer their PLIs (readRTCP).
func (p *simPublisher) useSender(tr *webrtc.RTPTransceiver, sender *webrtc.RTPSender) {
	p.t.Helper()
	p.mid = tr.Mid()
	p.midID, p.ridID = negotiatedExtensions(p.t, sender)
	for i, enc := range sender.GetParameters().Encodings {
		if idx, ok := layerIndex(enc.RID); ok && i < maxLayers {
			p.layers[idx].ssrc = uint32(enc.SSRC)
		}
	}
	for _, rid := range layerRIDs {
		go p.readRTCP(sender, rid)
	}
}
