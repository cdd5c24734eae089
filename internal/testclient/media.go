package testclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Publisher sends RTP on one track.
type Publisher struct {
	Source string
	track  *webrtc.TrackLocalStaticRTP
	seq    uint16
	ts     uint32

	keyframeRequests atomic.Int64
}

// Publish opens the publish connection with one track per source ("microphone" sends
// Opus, anything else VP8) and waits for the server's answer.
func (c *Client) Publish(ctx context.Context, sources ...string) ([]*Publisher, error) {
	pc, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.pub = pc
	c.mu.Unlock()
	var pubs []*Publisher
	var trs []*webrtc.RTPTransceiver
	for i, src := range sources {
		codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
		if src == "microphone" {
			codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
		}
		track, err := webrtc.NewTrackLocalStaticRTP(codec, fmt.Sprintf("%s-%d", src, i), "stream-"+c.ParticipantID)
		if err != nil {
			return nil, err
		}
		tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return nil, err
		}
		pub := &Publisher{Source: src, track: track, seq: uint16(1000 * (i + 1)), ts: 5000}
		go pub.readRTCP(tr.Sender())
		trs = append(trs, tr)
		pubs = append(pubs, pub)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return nil, err
	}
	select {
	case <-gathered:
	case <-time.After(waitTimeout):
		return nil, errors.New("publish: gathering timed out")
	}
	tracks := make([]map[string]string, 0, len(trs))
	for i, tr := range trs {
		tracks = append(tracks, map[string]string{"mid": tr.Mid(), "source": sources[i]})
	}
	if _, err := c.Send("publish_offer", map[string]any{"sdp": pc.LocalDescription().SDP, "tracks": tracks}); err != nil {
		return nil, err
	}
	m, err := c.Expect(ctx, "publish_answer")
	if err != nil {
		return nil, err
	}
	var ans struct {
		SDP string `json:"sdp"`
	}
	if err := json.Unmarshal(m.Payload, &ans); err != nil {
		return nil, err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP}); err != nil {
		return nil, err
	}
	return pubs, nil
}

// readRTCP counts the keyframe requests the server sends for this track.
func (p *Publisher) readRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		n, _, err := s.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.keyframeRequests.Add(1)
			}
		}
	}
}

// KeyframeRequests is the number of PLI/FIR the server sent for this track.
func (p *Publisher) KeyframeRequests() int { return int(p.keyframeRequests.Load()) }

// Send writes one packet with the given payload; video packets end a frame every
// fourth packet.
func (p *Publisher) Send(payload []byte) error {
	p.seq++
	if p.seq%4 == 0 {
		p.ts += 3000
	}
	return p.track.WriteRTP(&rtp.Packet{
		Header:  rtp.Header{Version: 2, SequenceNumber: p.seq, Timestamp: p.ts, Marker: p.seq%4 == 3},
		Payload: payload,
	})
}

// Received returns what arrived from participantID's source, or nil.
func (c *Client) Received(participantID, source string) *Received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.received[participantID+"/"+source]
}

// SubscribeErrors lists failures while answering subscribe offers.
func (c *Client) SubscribeErrors() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.subErrors...)
}

// MidInfo returns the current mid → track map of the subscribe connection.
func (c *Client) MidInfo() map[string]TrackInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]TrackInfo, len(c.midInfo))
	for k, v := range c.midInfo {
		out[k] = v
	}
	return out
}

func (c *Client) answerSubscribe(m Message) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if err := c.doAnswerSubscribe(m); err != nil {
		c.mu.Lock()
		c.subErrors = append(c.subErrors, err)
		c.mu.Unlock()
	}
}

func (c *Client) doAnswerSubscribe(m Message) error {
	var off struct {
		SDP    string      `json:"sdp"`
		Tracks []TrackInfo `json:"tracks"`
	}
	if err := json.Unmarshal(m.Payload, &off); err != nil {
		return err
	}
	c.mu.Lock()
	for _, t := range off.Tracks {
		c.midInfo[t.Mid] = t
	}
	pc := c.sub
	if pc == nil {
		var err error
		pc, err = c.api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			c.mu.Unlock()
			return err
		}
		c.sub = pc
		pc.OnTrack(c.onTrack)
	}
	c.mu.Unlock()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: off.SDP}); err != nil {
		return err
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-time.After(waitTimeout):
		return errors.New("subscribe: gathering timed out")
	}
	_, err = c.Send("subscribe_answer", map[string]any{"sdp": pc.LocalDescription().SDP})
	return err
}

func (c *Client) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	c.mu.Lock()
	var mid string
	for _, t := range c.sub.GetTransceivers() {
		if t.Receiver() == recv {
			mid = t.Mid()
		}
	}
	info := c.midInfo[mid]
	key := info.ParticipantID + "/" + info.Source
	r := c.received[key]
	if r == nil {
		r = &Received{}
		c.received[key] = r
	}
	c.mu.Unlock()
	go drainReceiverRTCP(recv)
	for {
		pkt, _, err := remote.ReadRTP()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.payloads = append(r.payloads, append([]byte(nil), pkt.Payload...))
		r.mu.Unlock()
	}
}

func drainReceiverRTCP(r *webrtc.RTPReceiver) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := r.Read(buf); err != nil {
			return
		}
	}
}
