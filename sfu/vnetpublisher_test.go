package sfu

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
)

type vnetLayer struct {
	track    *webrtc.TrackLocalStaticRTP
	seq      uint16
	ts       uint32
	pid      uint16
	tl0      uint8
	key      bool
	sinceKey int
}

// vnetPublisher sends the camera and the microphone on a clock of its own (real
// time: the link's rate is real time).
type vnetPublisher struct {
	t          testing.TB
	pc         *webrtc.PeerConnection
	midID      uint8
	ridID      uint8
	mid        string
	audio      *webrtc.TrackLocalStaticRTP
	mu         sync.Mutex
	layers     [maxLayers]*vnetLayer
	frame      uint32
	audioSeq   uint16
	audioSent  int
	stop, done chan struct{}
}

func newVnetPublisher(ctx context.Context, t testing.TB, pubP *Participant, n *vnet.Net) *vnetPublisher {
	t.Helper()
	pc := newPlainPeerWith(t, vnetSettings(n), webrtc.ConfigureSimulcastExtensionHeaders)
	p := &vnetPublisher{t: t, pc: pc, stop: make(chan struct{}), done: make(chan struct{})}
	tr, sender := addSimulcastCamera(t, pc, func(i int, track *webrtc.TrackLocalStaticRTP) {
		p.layers[i] = &vnetLayer{track: track, seq: uint16(1000 + 20000*i), ts: uint32(5_000_000 * (i + 1)), pid: uint16(100 * (i + 1)), key: true}
	})
	var err error
	if p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "pub"); err != nil {
		t.Fatal(err)
	}
	atr, err := pc.AddTransceiverFromTrack(p.audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	publishTo(ctx, t, pubP, pc, func() map[string]Source {
		return map[string]Source{tr.Mid(): SourceCamera, atr.Mid(): SourceMicrophone}
	})
	p.mid = tr.Mid()
	p.midID, p.ridID = negotiatedExtensions(t, sender)
	for _, rid := range layerRIDs {
		go func() {
			for {
				pkts, _, err := sender.ReadSimulcastRTCP(rid)
				if err != nil {
					return
				}
				for _, pkt := range pkts {
					if _, ok := pkt.(*rtcp.PictureLossIndication); ok {
						i, _ := layerIndex(rid)
						p.mu.Lock()
						p.layers[i].key = true
						p.mu.Unlock()
					}
				}
			}
		}()
	}
	go func() {
		for {
			if _, _, err := atr.Sender().ReadRTCP(); err != nil {
				return
			}
		}
	}()
	return p
}

// run sends an audio packet every 20 ms and a frame on every layer every 40 ms.
func (p *vnetPublisher) run() {
	defer close(p.done)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		p.sendAudio()
		if n%2 == 0 {
			for i := range p.layers {
				p.sendFrame(i)
			}
		}
	}
}

func (p *vnetPublisher) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

func (p *vnetPublisher) sendAudio() {
	p.mu.Lock()
	p.audioSeq++
	p.audioSent++
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: p.audioSeq, Timestamp: uint32(p.audioSeq) * 960},
		Payload: make([]byte, 80)}
	p.mu.Unlock()
	if err := p.audio.WriteRTP(pkt); err != nil {
		p.t.Errorf("audio write: %v", err)
	}
}

// sendFrame sends one frame of layer i: its rate's share, four times that for a
// keyframe, in packets of at most vnetPayload bytes; the last bytes of each packet
// name the layer and the frame.
func (p *vnetPublisher) sendFrame(i int) {
	p.mu.Lock()
	l := p.layers[i]
	key := l.key || l.sinceKey >= vnetKeyGap
	if key {
		l.key, l.sinceKey = false, 0
	}
	l.sinceKey++
	p.frame++
	frame := p.frame
	l.ts += 90000 / vnetFPS
	l.pid = (l.pid + 1) & 0x7fff
	l.tl0++
	size := vnetRates[i] / 8 / vnetFPS
	if key {
		size *= 4
	}
	var pkts []*rtp.Packet
	for off := 0; off < size; off += vnetPayload {
		first := off == 0
		desc := byte(0x80)
		if first {
			desc = 0x90
		}
		payload := []byte{desc, 0xe0, 0x80 | byte(l.pid>>8), byte(l.pid), l.tl0, 0x00}
		if first && key {
			payload = append(payload, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a)
			payload = binary.LittleEndian.AppendUint16(payload, simSizes[i][0])
			payload = binary.LittleEndian.AppendUint16(payload, simSizes[i][1])
		} else if first {
			payload = append(payload, 0x01, 0x00, 0x00)
		}
		fill := min(vnetPayload, size-off) - len(payload) - 5
		payload = append(payload, make([]byte, max(fill, 0))...)
		payload = append(payload, byte(i))
		payload = binary.BigEndian.AppendUint32(payload, frame)
		l.seq++
		pkts = append(pkts, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: l.seq, Timestamp: l.ts,
			Marker: off+vnetPayload >= size}, Payload: payload})
	}
	p.mu.Unlock()
	for _, pkt := range pkts {
		if err := pkt.Header.SetExtension(p.midID, []byte(p.mid)); err != nil {
			p.t.Error(err)
		}
		if err := pkt.Header.SetExtension(p.ridID, []byte(layerRIDs[i])); err != nil {
			p.t.Error(err)
		}
		if err := l.track.WriteRTP(pkt); err != nil {
			p.t.Errorf("write: %v", err)
			return
		}
	}
}

// lastAudio is the sequence number of the last audio packet sent (or being sent).
func (p *vnetPublisher) lastAudio() uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.audioSeq
}

func (p *vnetPublisher) lastFrame() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frame
}
