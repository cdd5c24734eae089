package sfu

import (
	"context"
	"encoding/binary"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

// ssrcOverride is an interceptor that, while ssrc is set, sends every local packet
// under that SSRC instead of the sender's: a hostile publisher's own client.
type ssrcOverride struct {
	interceptor.NoOp
	ssrc atomic.Uint32
}

func (o *ssrcOverride) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if s := o.ssrc.Load(); s != 0 {
			h.SSRC = s
		}
		return w.Write(h, payload, a)
	})
}

type ssrcOverrideFactory struct{ o *ssrcOverride }

func (f ssrcOverrideFactory) NewInterceptor(string) (interceptor.Interceptor, error) { return f.o, nil }

// TestMadeUpSSRCsNeverReachPion: a simulcast publisher sends packets of a layer it
// already publishes (its mid, RID "q") under ever new SSRCs, a few packets each. Pion
// would point the layer's track at each new SSRC it is shown (racing with the track's
// reader), keep its state for every one, and hand the track to OnTrack again, which
// once added a receiver-report stream, a reader entry and two goroutines each time, for
// the participant's life. The socket's reader drops them, counted; the layer goes on
// under its SSRC. The publisher's header extensions are in the clear, as browsers send
// them unless they negotiate cryptex (RFC 9335), which seals the mid and RID: then only
// the bound on strangers holds such packets (TestStrangerSSRCsAreBounded), and a test
// would meet Pion's race.
func TestMadeUpSSRCsNeverReachPion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	_, eng, room := newClockedRoom(t, true)
	pubP, err := room.Join("pub")
	if err != nil {
		t.Fatal(err)
	}
	m := defaultMediaEngine(t)
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		t.Fatal(err)
	}
	o := &ssrcOverride{}
	reg := &interceptor.Registry{}
	reg.Add(ssrcOverrideFactory{o})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(testPeerSettings()))
	pc, err := api.NewPeerConnection(webrtc.Configuration{RTPHeaderEncryptionPolicy: webrtc.RTPHeaderEncryptionPolicyDisable})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	var tracks [maxLayers]*webrtc.TrackLocalStaticRTP
	var tr *webrtc.RTPTransceiver
	for i, rid := range layerRIDs {
		track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "pub", webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		tracks[i] = track
		if i == 0 {
			if tr, err = pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
				t.Fatal(err)
			}
		} else if err := tr.Sender().AddEncoding(track); err != nil {
			t.Fatal(err)
		}
	}
	publishTo(ctx, t, pubP, pc, func() map[string]Source { return map[string]Source{tr.Mid(): SourceCamera} })
	var midID, ridID uint8
	for _, e := range tr.Sender().GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		}
	}
	seq := uint16(1)
	send := func() {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true},
			Payload: []byte{0x10, 0x01, 0x00, 0x00}}
		seq++
		_ = pkt.Header.SetExtension(midID, []byte(tr.Mid()))
		_ = pkt.Header.SetExtension(ridID, []byte("q"))
		if err := tracks[0].WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
	}
	streams := func() int {
		f := pubP.feedback.Load()
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.streams)
	}
	// The layer q arrives as any publisher's does, and is read by the socket's reader.
	var q *layer
	for q == nil || q.remote == nil || pubP.layerBySSRC(uint32(q.remote.SSRC())) == nil {
		if ctx.Err() != nil {
			t.Fatal("layer q never arrived")
		}
		send()
		time.Sleep(10 * time.Millisecond)
		pubP.mu.Lock()
		for _, up := range pubP.ups {
			q = up.layer(0)
		}
		pubP.mu.Unlock()
	}
	baseStreams, baseG := streams(), runtime.NumGoroutine()

	own := q.remote.SSRC()

	// Each made-up SSRC until Pion takes it (the track reads from it) or the SFU drops
	// its packets.
	const n = 40
	taken := 0
	for i := range n {
		ssrc := 0x5000_0000 + uint32(i)
		o.ssrc.Store(ssrc)
		dropped := eng.Stats().PublisherRTPStrangers
		for {
			if uint32(q.remote.SSRC()) == ssrc {
				taken++
				break
			}
			if eng.Stats().PublisherRTPStrangers > dropped {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("SSRC %#x neither taken by Pion nor dropped", ssrc)
			}
			send()
			time.Sleep(5 * time.Millisecond)
		}
	}
	gotStreams, gotG := streams(), runtime.NumGoroutine()
	pubP.mu.Lock()
	readers := len(pubP.readers)
	pubP.mu.Unlock()
	t.Logf("%d made-up SSRCs: %d taken by Pion; receiver-report streams %d -> %d, goroutines %d -> %d, readers %d",
		n, taken, baseStreams, gotStreams, baseG, gotG, readers)
	if taken != 0 || q.remote.SSRC() != own {
		t.Errorf("Pion was shown %d made-up SSRCs of a layer read under %#x (the track reads %#x now)", taken, own, q.remote.SSRC())
	}
	if readers != 1 || gotStreams != baseStreams || gotG-baseG >= n/2 {
		t.Errorf("the connection reads its one track %d times, with %d receiver-report streams (%d before) and %d goroutines more",
			readers, gotStreams, baseStreams, gotG-baseG)
	}
	// The layer itself goes on: a packet under its own SSRC is read as before.
	o.ssrc.Store(0)
	read := eng.Stats().PublisherRTPRead
	for eng.Stats().PublisherRTPRead == read {
		if ctx.Err() != nil {
			t.Fatal("the layer's own packets are no longer read")
		}
		send()
		time.Sleep(5 * time.Millisecond)
	}
	pubP.routeMu.Lock()
	in := pubP.pubIn
	pubP.routeMu.Unlock()
	in.mu.Lock()
	sealed := in.cryptex
	in.mu.Unlock()
	if sealed {
		t.Fatal("the publisher's packets came in cryptex's form: the test reads nothing")
	}
}

// TestStrangerSSRCsAreBounded: a publish connection shows Pion at most maxStrangerSSRCs
// SSRCs that no layer reads (Pion keeps state for each for the connection's life); one
// shown before is shown again, and a stranger that became a layer's gives up its place,
// also once that layer has ended.
func TestStrangerSSRCsAreBounded(t *testing.T) {
	in := &rtpIn{p: &Participant{}}
	admit := func(ssrc uint32) bool {
		b := make([]byte, 12)
		b[0] = 0x80
		binary.BigEndian.PutUint32(b[8:], ssrc)
		return in.admit(b, ssrc)
	}
	for i := range uint32(maxStrangerSSRCs) {
		if !admit(100 + i) {
			t.Fatalf("stranger %d of %d refused", i+1, maxStrangerSSRCs)
		}
	}
	if admit(999) {
		t.Fatalf("a stranger beyond %d went to Pion", maxStrangerSSRCs)
	}
	if !admit(100) {
		t.Fatal("a stranger shown before was refused")
	}
	in.p.indexLayer(&layer{ssrc: 103}, false) // 103 is a layer's now
	if !admit(999) {
		t.Fatal("a stranger that became a layer's kept its place")
	}
	ended := &layer{ssrc: 104}
	in.p.indexLayer(ended, false)
	in.p.indexLayer(ended, true) // a layer read under 104 that has ended since
	if !admit(1000) {
		t.Fatal("a stranger whose layer has ended kept its place")
	}
	if admit(1001) {
		t.Fatalf("more than %d strangers went to Pion", maxStrangerSSRCs)
	}
}

// TestPacketsMovingALayerAreRefused: every packet under a new SSRC that names a layer
// read under another SSRC is refused, not only a stream's first (Pion looks for the
// mid and RID in a new stream's first packets, and in its padding for as long as it
// lasts); once that layer has ended, such packets go to Pion as any stranger's.
func TestPacketsMovingALayerAreRefused(t *testing.T) {
	in := &rtpIn{p: &Participant{}}
	q := &layer{ssrc: 7, rid: "q", mid: "0", midID: 1, ridID: 2}
	in.p.indexLayer(q, false)
	// Packets under SSRC 500 and 501 with the one-byte extensions mid "0" (id 1) and
	// RID "q" (id 2), and one under 501 without extensions.
	named := func(ssrc byte) []byte {
		return []byte{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0x01, ssrc, 0xbe, 0xde, 0, 1, 0x10, '0', 0x20, 'q'}
	}
	plain := []byte{0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0x01, 0xf5}
	if in.admit(named(0xf4), 500) || in.admit(named(0xf4), 500) {
		t.Fatal("a packet that moves layer q to a new SSRC went to Pion")
	}
	if !in.admit(plain, 501) {
		t.Fatal("a new SSRC's packet without extensions was refused")
	}
	if in.admit(named(0xf5), 501) {
		t.Fatal("a later packet of an admitted SSRC that moves layer q went to Pion")
	}
	in.p.indexLayer(q, true) // q has ended
	if !in.admit(named(0xf4), 500) {
		t.Fatal("refused still once the layer it named had ended")
	}
}
