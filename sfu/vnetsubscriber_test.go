package sfu

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
)

// vnetSubscriber records the layer and frame of each video packet and the audio
// sequence numbers it receives.
type vnetSubscriber struct {
	p     *Participant
	pc    *webrtc.PeerConnection
	mu    sync.Mutex
	video []simPacket
	audio map[uint16]time.Time // sequence number → arrival
	bytes int                  // of the video packets received: RTP header and payload
	ssrc  uint32               // of the video
	assrc uint32               // of the audio
}

func newVnetSubscriber(ctx context.Context, t testing.TB, room *Room, id string, n *vnet.Net) *vnetSubscriber {
	t.Helper()
	p, err := room.Join(id)
	if err != nil {
		t.Fatal(err)
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(vnetSettings(n)))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	s := &vnetSubscriber{p: p, pc: pc, audio: map[uint16]time.Time{}}
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		go func() {
			for {
				if _, _, err := recv.ReadRTCP(); err != nil {
					return
				}
			}
		}()
		audio := tr.Kind() == webrtc.RTPCodecTypeAudio
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			s.mu.Lock()
			if audio {
				s.audio[pkt.SequenceNumber] = time.Now()
				s.assrc = uint32(tr.SSRC())
			} else {
				// A packet without payload is padding (a train, train.go): no video.
				sp := simPacket{seq: pkt.SequenceNumber, layer: -1, pad: len(pkt.Payload) == 0}
				if n := len(pkt.Payload); n >= 5 {
					sp.layer = int(pkt.Payload[n-5])
					sp.frame = binary.BigEndian.Uint32(pkt.Payload[n-4:])
				}
				s.video = append(s.video, sp)
				s.ssrc = uint32(tr.SSRC())
				s.bytes += pkt.MarshalSize()
			}
			s.mu.Unlock()
		}
	})
	// Answer every offer the SFU makes (the camera and the microphone may come in two).
	go func() {
		for {
			select {
			case <-p.NegotiationNeeded():
			case <-ctx.Done():
				return
			}
			o, err := p.NextSubscribeOffer(context.Background())
			if err != nil || o == nil {
				continue
			}
			if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP}); err != nil {
				t.Error(err)
				return
			}
			a, err := pc.CreateAnswer(nil)
			if err != nil {
				t.Error(err)
				return
			}
			g := webrtc.GatheringCompletePromise(pc)
			if err := pc.SetLocalDescription(a); err != nil {
				t.Error(err)
				return
			}
			<-g
			if err := p.AcceptSubscribeAnswer(pc.LocalDescription().SDP); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	return s
}

// onLayer reports whether the subscriber's last n video packets are all of layer.
func (s *vnetSubscriber) onLayer(layer, n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.video) - 1; i >= 0 && n > 0; i-- {
		if p := s.video[i]; !p.pad {
			if p.layer != layer {
				return false
			}
			n--
		}
	}
	return n == 0
}

func (s *vnetSubscriber) videoCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.video)
}

// videoLoss is the share of video sequence numbers missing among those from the
// from-th packet received on.
func (s *vnetSubscriber) videoLoss(from int) (lost, expected int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[uint16]bool{}
	first := s.video[from].seq
	var last uint16
	for _, p := range s.video[from:] {
		seen[p.seq] = true
		if int16(p.seq-last) > 0 || last == 0 {
			last = p.seq
		}
	}
	expected = int(uint16(last-first)) + 1
	return expected - len(seen), expected
}

// stretch is the video the subscriber received from the from-th packet on: its SSRC,
// the first and the newest sequence number, and whether every packet of it that
// carries video is of layer.
func (s *vnetSubscriber) stretch(from, layer int) (ssrc uint32, first, last uint16, only bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first, last, only = s.video[from].seq, s.video[from].seq, true
	for _, p := range s.video[from:] {
		if int16(p.seq-last) > 0 {
			last = p.seq
		}
		only = only && (p.pad || p.layer == layer)
	}
	return s.ssrc, first, last, only
}

// audioContinuity is the share of audio sequence numbers received between the first
// and the last received.
func (s *vnetSubscriber) audioContinuity() (got, span int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lo, hi uint16
	first := true
	for seq := range s.audio {
		if first || int16(seq-lo) < 0 {
			lo = seq
		}
		if first || int16(seq-hi) > 0 {
			hi = seq
		}
		first = false
	}
	return len(s.audio), int(uint16(hi-lo)) + 1
}

// audioGaps says where audio went missing: each run of missing sequence numbers, with
// the arrival of the packet before it measured from since (a failure's explanation).
func (s *vnetSubscriber) audioGaps(since time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lo uint16
	first := true
	for seq := range s.audio {
		if first || int16(seq-lo) < 0 {
			lo = seq
		}
		first = false
	}
	var out []string
	var last time.Time
	for i, missing := 0, 0; i < len(s.audio)+missing; i++ {
		at, ok := s.audio[lo+uint16(i)]
		if ok {
			if missing > 0 {
				out = append(out, fmt.Sprintf("%d missing after %v", missing, last.Sub(since).Round(time.Millisecond)))
				missing = 0
			}
			last = at
			continue
		}
		missing++
	}
	return strings.Join(out, ", ")
}
