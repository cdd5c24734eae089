package testclient

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// SimulcastRIDs are the layers a simulcast camera sends, lowest first, as browsers do
// (PROTOCOL.md, "Simulcast and what is shown").
var SimulcastRIDs = []string{"q", "h", "f"}

// simulcastSizes are the layers' frame sizes, written into their keyframes.
var simulcastSizes = [][2]uint16{{320, 180}, {640, 360}, {1280, 720}}

// SimulcastPublisher sends a camera in three RID layers of VP8-shaped RTP: every packet
// is one frame with a payload descriptor (15-bit picture ID, TL0PICIDX); a layer's first
// frame and every frame after a keyframe request to it is a keyframe carrying its size.
type SimulcastPublisher struct {
	pc           *webrtc.PeerConnection
	mid          string
	midID, ridID uint8

	mu     sync.Mutex
	layers []*simLayer
	pad    int // bytes added to every frame (SetFrameBytes)
}

// SetFrameBytes pads every frame sent from now on by n bytes (at most 1000), so the
// layers carry a realistic bitrate at the pace the test sends rounds.
func (p *SimulcastPublisher) SetFrameBytes(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pad = min(max(n, 0), 1000)
}

type simLayer struct {
	track *webrtc.TrackLocalStaticRTP
	ssrc  uint32
	seq   uint16
	ts    uint32
	pid   uint16
	tl0   uint8
	key   bool
	sent  int
}

// PublishSimulcast opens the publish connection with a camera of three layers and waits
// for the server's answer.
func (c *Client) PublishSimulcast(ctx context.Context) (*SimulcastPublisher, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return nil, err
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
		webrtc.WithSettingEngine(loopbackSettings(webrtc.NetworkTypeUDP4)))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.pub = pc
	c.mu.Unlock()
	p := &SimulcastPublisher{pc: pc}
	var sender *webrtc.RTPSender
	var tr *webrtc.RTPTransceiver
	for i, rid := range SimulcastRIDs {
		track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			"camera", "stream-"+c.ParticipantID, webrtc.WithRTPStreamID(rid))
		if err != nil {
			return nil, err
		}
		p.layers = append(p.layers, &simLayer{track: track, seq: uint16(7000 * (i + 1)), ts: uint32(3_000_000 * (i + 1)), pid: uint16(50 * (i + 1)), tl0: uint8(i)})
		if i == 0 {
			if tr, err = pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
				return nil, err
			}
			sender = tr.Sender()
		} else if err := sender.AddEncoding(track); err != nil {
			return nil, err
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return nil, err
	}
	select { // as long as the caller waits: a loaded machine gathers slowly
	case <-gathered:
	case <-ctx.Done():
		return nil, fmt.Errorf("publish: gathering: %w", ctx.Err())
	}
	p.mid = tr.Mid()
	id, err := c.Send("publish_offer", map[string]any{"sdp": pc.LocalDescription().SDP,
		"tracks": []map[string]string{{"mid": p.mid, "source": "camera"}}})
	if err != nil {
		return nil, err
	}
	msg, err := c.Reply(ctx, id, "publish_answer")
	if err != nil {
		return nil, err
	}
	var ans struct {
		SDP string `json:"sdp"`
	}
	if err := json.Unmarshal(msg.Payload, &ans); err != nil {
		return nil, err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP}); err != nil {
		return nil, err
	}
	params := sender.GetParameters()
	for _, e := range params.HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			p.midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			p.ridID = uint8(e.ID)
		}
	}
	if p.midID == 0 || p.ridID == 0 {
		return nil, errors.New("publish: mid or rid extension not negotiated")
	}
	for _, enc := range params.Encodings {
		for i, rid := range SimulcastRIDs {
			if enc.RID == rid {
				p.layers[i].ssrc = uint32(enc.SSRC)
			}
		}
	}
	for _, rid := range SimulcastRIDs {
		go p.readRTCP(sender, rid)
	}
	return p, nil
}

// SendRound sends one frame on every layer.
func (p *SimulcastPublisher) SendRound() error {
	for i := range p.layers {
		if err := p.sendFrame(i); err != nil {
			return err
		}
	}
	return nil
}

// Sent is the number of frames sent on the layer named rid.
func (p *SimulcastPublisher) Sent(rid string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, r := range SimulcastRIDs {
		if r == rid {
			return p.layers[i].sent
		}
	}
	return 0
}

func (p *SimulcastPublisher) sendFrame(i int) error {
	p.mu.Lock()
	l := p.layers[i]
	key := l.key || l.sent == 0
	l.key = false
	l.sent++
	l.seq++
	l.ts += 3000
	l.pid = (l.pid + 1) & 0x7fff
	l.tl0++
	payload := []byte{0x90, 0xe0, 0x80 | byte(l.pid>>8), byte(l.pid), l.tl0, 0x00}
	if key {
		payload = append(payload, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a)
		payload = binary.LittleEndian.AppendUint16(payload, simulcastSizes[i][0])
		payload = binary.LittleEndian.AppendUint16(payload, simulcastSizes[i][1])
	} else {
		payload = append(payload, 0x01, 0x00, 0x00)
	}
	payload = append(payload, make([]byte, p.pad)...)
	payload = append(payload, SimulcastRIDs[i]...)
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: l.seq, Timestamp: l.ts, Marker: true}, Payload: payload}
	p.mu.Unlock()
	if err := pkt.Header.SetExtension(p.midID, []byte(p.mid)); err != nil {
		return err
	}
	if err := pkt.Header.SetExtension(p.ridID, []byte(SimulcastRIDs[i])); err != nil {
		return err
	}
	return l.track.WriteRTP(pkt)
}

// readRTCP makes the layer's next frame a keyframe when the server asks for one.
func (p *SimulcastPublisher) readRTCP(s *webrtc.RTPSender, rid string) {
	for {
		pkts, _, err := s.ReadSimulcastRTCP(rid)
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			pli, ok := pkt.(*rtcp.PictureLossIndication)
			if !ok {
				continue
			}
			p.mu.Lock()
			for _, l := range p.layers {
				if l.ssrc == pli.MediaSSRC {
					l.key = true
				}
			}
			p.mu.Unlock()
		}
	}
}
