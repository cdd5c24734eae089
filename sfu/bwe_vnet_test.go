package sfu

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
)

// The tests in this file run the real engine on Pion's virtual network with a
// publisher that sends a camera in three layers at realistic rates (VP8-shaped frames
// of several packets, a keyframe every three seconds and on request) and Opus-shaped
// audio, to subscribers like browsers (they acknowledge transport-wide sequence
// numbers), one of them behind a token-bucket link. Bandwidth estimation runs on real
// time (GCC and vnet's queue know no other clock): each condition is waited for with a
// generous deadline, and nothing is judged by how long it took.

const (
	vnetCap     = 300_000
	vnetLifted  = 3_000_000
	vnetFPS     = 25
	vnetKeyGap  = 3 * vnetFPS // frames between keyframes
	vnetPayload = 1000        // bytes per video packet at most
)

// vnetRates are the layers' rates in bits per second, q h f: what Chromium sends of a
// 1280×720 camera (TESTING.md).
var vnetRates = [maxLayers]int{150_000, 350_000, 700_000}

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

func newVnetNet(t testing.TB, ip string) *vnet.Net {
	t.Helper()
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func vnetSettings(n *vnet.Net) webrtc.SettingEngine {
	var s webrtc.SettingEngine
	s.SetNet(n)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return s
}

type vnetRig struct {
	t      testing.TB
	eng    *Engine
	room   *Room
	pub    *vnetPublisher
	subs   []*vnetSubscriber
	tbfs   []*vnet.TBFQueue // each subscriber's link; nil: not limited
	links  []idealLink      // each link as configured, for idealDrops; rate 0: not limited
	logs   []*linkLog       // what the server offered each limited or logged link; nil: neither
	capped *vnetSubscriber  // of newVnetRig: subs[0], behind tbf
	free   *vnetSubscriber  // of newVnetRig: subs[1]
	tbf    *vnet.TBFQueue
	link   idealLink // the capped subscriber's, as configured
	log    *linkLog  // what the server offered the capped subscriber's link
	sends  bool      // the publisher runs (and must be halted)
}

// vnetLink is a subscriber of the rig: its id and the rate of its link in bits per
// second, 0 for no limit. What the server offers a limited link is recorded, and what
// it offers one without a limit when logged.
type vnetLink struct {
	id     string
	rate   int
	logged bool
}

// newVnetRig starts the engine, the publisher and two subscribers, the first behind a
// link of vnetCap, and waits until both receive video and audio.
func newVnetRig(t testing.TB) *vnetRig {
	t.Helper()
	r := newVnetRigLinks(t, []vnetLink{{id: "capped", rate: vnetCap}, {id: "free", logged: true}})
	r.capped, r.free, r.tbf, r.link, r.log = r.subs[0], r.subs[1], r.tbfs[0], r.links[0], r.logs[0]
	return r
}

// newVnetRigLinks starts the engine, the publisher and a subscriber for each link,
// all showing the camera in a large tile, and waits until each receives video and
// audio. The rig has room for 250 subscribers (one /24).
func newVnetRigLinks(t testing.TB, links []vnetLink) *vnetRig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: newPionLoggerFactory(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	srvNet, pubNet := newVnetNet(t, "10.0.0.1"), newVnetNet(t, "10.0.0.2")
	nics := []vnet.NIC{srvNet, pubNet}
	subNets := make([]*vnet.Net, len(links))
	var shaped []*vnet.Queue
	r := &vnetRig{t: t, tbfs: make([]*vnet.TBFQueue, len(links)), links: make([]idealLink, len(links)), logs: make([]*linkLog, len(links))}
	for i, l := range links {
		subNets[i] = newVnetNet(t, fmt.Sprintf("10.0.0.%d", 3+i))
		if l.rate == 0 {
			if l.logged {
				r.logs[i] = &linkLog{ip: net.ParseIP(fmt.Sprintf("10.0.0.%d", 3+i))}
				wan.AddChunkFilter(r.logs[i].filter)
			}
			nics = append(nics, subNets[i])
			continue
		}
		// A queue of about 0.85 s at the rate, which turns overuse into delay first,
		// as GCC expects, rather than into loss at once.
		r.links[i] = idealLink{rate: l.rate, burst: 4000, queue: l.rate * 32_000 / vnetCap}
		r.tbfs[i] = vnet.NewTBFQueue(l.rate, r.links[i].burst, int64(r.links[i].queue))
		r.logs[i] = &linkLog{ip: net.ParseIP(fmt.Sprintf("10.0.0.%d", 3+i))}
		wan.AddChunkFilter(r.logs[i].filter)
		q, err := vnet.NewQueue(subNets[i], r.tbfs[i])
		if err != nil {
			t.Fatal(err)
		}
		shaped = append(shaped, q)
		nics = append(nics, q)
	}
	for _, nic := range nics {
		if err := wan.AddNet(nic); err != nil {
			t.Fatal(err)
		}
	}
	if err := wan.Start(); err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(Config{UDPAddr: "10.0.0.1:10000", Net: srvNet})
	if err != nil {
		t.Fatal(err)
	}
	room := eng.NewRoom()
	r.eng, r.room = eng, room
	t.Cleanup(func() {
		if r.sends {
			r.pub.halt()
		}
		room.Close()
		_ = eng.Close()
		for _, q := range shaped {
			_ = q.Close()
		}
		_ = wan.Stop()
	})
	pubP, err := room.Join("pub")
	if err != nil {
		t.Fatal(err)
	}
	r.pub = newVnetPublisher(ctx, t, pubP, pubNet)
	for i, l := range links {
		r.subs = append(r.subs, newVnetSubscriber(ctx, t, room, l.id, subNets[i]))
	}
	r.sends = true
	go r.pub.run()
	tiles := []Tile{{ParticipantID: "pub", Source: SourceCamera, Width: 1280, Height: 720}}
	for _, s := range r.subs {
		s.p.SetView(tiles)
	}
	for _, s := range r.subs {
		waitForLong(t, "video and audio at "+s.p.ID(), func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return len(s.video) > 0 && len(s.audio) > 0
		})
	}
	return r
}

// waitForLong is waitFor for a benchmark too, polling less often. A climb may wait out
// the longest back-off (80 s) of probes the cap made fail, well within waitBound.
func waitForLong(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newVnetPublisher(ctx context.Context, t testing.TB, pubP *Participant, n *vnet.Net) *vnetPublisher {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(vnetSettings(n)))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	p := &vnetPublisher{t: t, pc: pc, stop: make(chan struct{}), done: make(chan struct{})}
	var sender *webrtc.RTPSender
	var tr *webrtc.RTPTransceiver
	for i, rid := range layerRIDs {
		track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "pub", webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		p.layers[i] = &vnetLayer{track: track, seq: uint16(1000 + 20000*i), ts: uint32(5_000_000 * (i + 1)), pid: uint16(100 * (i + 1)), key: true}
		if i == 0 {
			if tr, err = pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
				t.Fatal(err)
			}
			sender = tr.Sender()
		} else if err := sender.AddEncoding(track); err != nil {
			t.Fatal(err)
		}
	}
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
	for _, e := range sender.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			p.midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			p.ridID = uint8(e.ID)
		}
	}
	if p.midID == 0 || p.ridID == 0 {
		t.Fatal("mid or rid extension not negotiated")
	}
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

// bweTimes is how long settling and climbing took, for the benchmark.
type bweTimes struct{ settle, climb time.Duration }

// runBandwidthScenario is the scenario of TestSubscriberBandwidth and its benchmark.
func runBandwidthScenario(t testing.TB) bweTimes {
	r := newVnetRig(t)
	start := time.Now()
	const n = 40 // video packets: more than a second of q
	waitForLong(t, "the capped subscriber on q", func() bool { return r.capped.onLayer(0, n) })
	waitForLong(t, "the free subscriber on f", func() bool { return r.free.onLayer(2, 3*n) })
	var times bweTimes
	times.settle = time.Since(start)

	// Settled: over the next 100 frames (four seconds) of the publisher's, the server
	// sends the capped subscriber no more than its link carries. What it sent is judged
	// against an ideal link of the cap (vnetlink_test.go), not by what vnet's goroutines
	// delivered on a busy machine. A stretch in which the server climbed is not judged
	// but waited out: a climb is a probe the allocation makes when the estimate and the
	// layers' measured rates say it fits (alloc.go), and on a busy machine the rates it
	// measures of the test's publisher fall behind, so a climb the link cannot carry may
	// come at any time; it ends when the estimate falls, and the gate then holds the
	// next one back.
	deadline := time.Now().Add(waitBound)
	for {
		from := r.capped.videoCount()
		until := r.pub.lastFrame() + 100*maxLayers
		waitForLong(t, "100 more frames", func() bool { return r.pub.lastFrame() >= until })
		ssrc, first, last, onQ := r.capped.stretch(from, 0)
		if onQ {
			dropped, sent := r.link.overrun(r.log.snapshot(), ssrc, first, last)
			if dropped*50 >= sent {
				lost, expected := r.capped.videoLoss(from)
				t.Errorf("once settled the capped subscriber was sent more than its link carries: a %d bit/s link would have dropped %d of %d video packets, want < 2 %% (%d of %d lost)",
					r.link.rate, dropped, sent, lost, expected)
			}
			t.Logf("settled: the link would have dropped %d of %d video packets; estimate %d bit/s", dropped, sent, r.capped.p.bw.budget.Load())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the capped subscriber never stayed on q for 100 frames in %v", waitBound)
		}
		waitForLong(t, "the capped subscriber on q again after a climb", func() bool { return r.capped.onLayer(0, n) })
	}
	// What the capped member's client is told (signaling sends it as "downlink").
	reduced := Downlink{Limited: true, Tracks: []DownlinkTrack{{ParticipantID: "pub", Source: SourceCamera, State: DownlinkReduced}}}
	waitForLong(t, "the capped subscriber's downlink state: camera reduced", func() bool {
		select {
		case <-r.capped.p.DownlinkChanged():
		default:
		}
		return r.capped.p.Downlink().equal(reduced)
	})
	// The uncapped one may be counted too on a machine so busy that its estimate fell.
	if n := r.eng.Stats().SubscribersLimited; n < 1 || !r.capped.p.BandwidthLimited() {
		t.Errorf("%d subscribers counted as limited, the capped one %v; want it among them", n, r.capped.p.BandwidthLimited())
	}

	lifted := time.Now() // before the link's: a packet between is judged at the lifted rate
	r.link.liftedAt, r.link.lifted = lifted, vnetLifted
	r.tbf.SetRate(vnetLifted)
	waitForLong(t, "the capped subscriber climbing to f once the cap is lifted", func() bool { return r.capped.onLayer(2, 3*n) })
	times.climb = time.Since(lifted)
	waitForLong(t, "the capped subscriber's downlink state: nothing limited", func() bool {
		d := r.capped.p.Downlink()
		return !d.Limited && len(d.Tracks) == 0 && !r.capped.p.BandwidthLimited()
	})

	// Audio throughout, judged as the video: what the server offered each link against
	// an ideal one (the capped link's rate lifted when vnet's was), not what vnet's
	// goroutines delivered. Up to what the publisher has sent by now, once the server
	// offered each link as far: judged only up to the last packet offered, a link
	// whose audio the server stopped for good had nothing missing.
	sent := r.pub.lastAudio()
	for i, s := range []*vnetSubscriber{r.capped, r.free} {
		link := []idealLink{r.link, {}}[i] // the free one's has no limit
		s.mu.Lock()
		ssrc := s.assrc
		s.mu.Unlock()
		waitForLong(t, fmt.Sprintf("the server offering %s the audio sent until now (%d)", s.p.ID(), sent), func() bool {
			return r.logs[i].offeredFrom(ssrc, sent)
		})
		missing, span := link.shortfall(r.logs[i].snapshot(), ssrc, sent)
		got, received := s.audioContinuity()
		t.Logf("%s: the server offered its link %d of %d audio packets that an ideal one carries (vnet delivered %d of %d)", s.p.ID(), span-missing, span, got, received)
		if span == 0 || missing*100 > span {
			t.Errorf("%s: the server offered its link %d of %d audio packets that an ideal one carries, want ≥ 99 %% (settled after %v, lifted after %v; vnet delivered %d of %d: %s)", s.p.ID(), span-missing, span,
				times.settle.Round(time.Millisecond), lifted.Sub(start).Round(time.Millisecond), got, received, s.audioGaps(start))
		}
	}

	// Hiding the tile: no video for it, while audio goes on.
	r.free.p.SetView([]Tile{})
	hidden := r.pub.lastFrame()
	audioThen, _ := r.free.audioContinuity()
	waitForLong(t, "50 more frames and audio after the hide", func() bool {
		got, _ := r.free.audioContinuity()
		return r.pub.lastFrame() >= hidden+50*maxLayers && got >= audioThen+50
	})
	r.free.mu.Lock()
	for _, p := range r.free.video {
		// A frame queued before the hide may still go out: allow one round.
		if p.frame > hidden+maxLayers {
			t.Errorf("frame %d of layer %d received after the tile was hidden at frame %d", p.frame, p.layer, hidden)
			break
		}
	}
	r.free.mu.Unlock()
	return times
}

// TestSubscriberBandwidth: one publisher of three layers and audio; a subscriber behind
// a 300 kbit/s link settles on q, sent no more than the link carries, while one
// without a limit gets f;
// lifting the limit to 3 Mbit/s takes the first up to f; audio stays continuous
// throughout; and a hidden tile gets no video.
func TestSubscriberBandwidth(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time bandwidth estimation")
	}
	times := runBandwidthScenario(t)
	t.Logf("settled after %v, climbed after %v", times.settle.Round(time.Millisecond), times.climb.Round(time.Millisecond))
}

// BenchmarkSubscriberBandwidth reports how long settling on a 300 kbit/s link and
// climbing once it is lifted took (the anchors manage 5 s and 10 s).
func BenchmarkSubscriberBandwidth(b *testing.B) {
	var settle, climb time.Duration
	for i := 0; i < b.N; i++ {
		times := runBandwidthScenario(b)
		settle += times.settle
		climb += times.climb
	}
	b.ReportMetric(settle.Seconds()/float64(b.N), "settle-s")
	b.ReportMetric(climb.Seconds()/float64(b.N), "climb-s")
}
