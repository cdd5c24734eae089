package testclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Publisher sends RTP on one track.
type Publisher struct {
	Source string
	track  *webrtc.TrackLocalStaticRTP
	seq    uint16
	ts     uint32
	sender *webrtc.RTPSender

	keyframeRequests atomic.Int64
}

// PublishTrack is one sending transceiver of a publish offer.
type PublishTrack struct {
	Kind  string // "audio" (Opus) or "video" (VP8)
	Label string // the source claimed for it in publish_offer's tracks; "" claims none
}

// PublishOptions describes a publish offer, including ones an honest client would not
// make (tests of the server's checks).
type PublishOptions struct {
	Tracks []PublishTrack
	// EditSDP, when set, rewrites the offer's SDP before it is sent.
	EditSDP func(sdp string) string
	// ExtraLabels are sent in tracks after the transceivers' own labels.
	ExtraLabels []map[string]string
	// OpusVP8Only offers only the server's two codecs, which keeps an offer of many
	// tracks about as small as a browser's (UDP only).
	OpusVP8Only bool
	// AudioLevels offers the audio level header extension (RFC 6464) for audio, as
	// browsers do; SendLevel then sends it (UDP only).
	AudioLevels bool
}

// RefusedError is the server's error reply to a request.
type RefusedError struct{ Code, Message string }

func (e *RefusedError) Error() string { return "refused: " + e.Code + ": " + e.Message }

// Publish opens the publish connection with one track per source ("microphone" sends
// Opus, anything else VP8) and waits for the server's answer.
func (c *Client) Publish(ctx context.Context, sources ...string) ([]*Publisher, error) {
	var opts PublishOptions
	for _, src := range sources {
		kind := "video"
		if src == "microphone" {
			kind = "audio"
		}
		opts.Tracks = append(opts.Tracks, PublishTrack{Kind: kind, Label: src})
	}
	return c.PublishWith(ctx, opts)
}

// PublishWith opens the publish connection as opts says and waits for the server's
// answer; a refusal is a *RefusedError. Each Publisher's Source is its track's label.
func (c *Client) PublishWith(ctx context.Context, opts PublishOptions) ([]*Publisher, error) {
	c.mu.Lock()
	api := c.api
	c.mu.Unlock()
	if opts.OpusVP8Only || opts.AudioLevels {
		var err error
		if api, err = opusVP8API(opts.AudioLevels); err != nil {
			return nil, err
		}
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.pub = pc
	c.mu.Unlock()
	var pubs []*Publisher
	var trs []*webrtc.RTPTransceiver
	for i, spec := range opts.Tracks {
		src := spec.Label
		codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
		if spec.Kind == "audio" {
			codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
		}
		track, err := webrtc.NewTrackLocalStaticRTP(codec, fmt.Sprintf("%s-%d", spec.Kind, i), "stream-"+c.ParticipantID)
		if err != nil {
			return nil, err
		}
		tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return nil, err
		}
		pub := &Publisher{Source: src, track: track, seq: uint16(1000 * (i + 1)), ts: 5000, sender: tr.Sender()}
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
	select { // as long as the caller waits: a loaded machine gathers slowly
	case <-gathered:
	case <-ctx.Done():
		return nil, fmt.Errorf("publish: gathering: %w", ctx.Err())
	}
	tracks := make([]map[string]string, 0, len(trs))
	for i, tr := range trs {
		if l := opts.Tracks[i].Label; l != "" {
			tracks = append(tracks, map[string]string{"mid": tr.Mid(), "source": l})
		}
	}
	tracks = append(tracks, opts.ExtraLabels...)
	sdp := pc.LocalDescription().SDP
	if opts.EditSDP != nil {
		sdp = opts.EditSDP(sdp)
	}
	id, err := c.Send("publish_offer", map[string]any{"sdp": sdp, "tracks": tracks})
	if err != nil {
		return nil, err
	}
	m, err := c.Reply(ctx, id, "publish_answer")
	if err != nil {
		_ = pc.Close()
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

// Reply returns the reply of type typ to the request id, or a *RefusedError when the
// server refused it; other messages are skipped.
func (c *Client) Reply(ctx context.Context, id, typ string) (Message, error) {
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return m, fmt.Errorf("waiting for %q: %w", typ, err)
		}
		if m.Type == "error" && m.Ref == id {
			var e RefusedError
			_ = json.Unmarshal(m.Payload, &struct {
				Code    *string `json:"code"`
				Message *string `json:"message"`
			}{&e.Code, &e.Message})
			return m, &e
		}
		if m.Type == typ {
			return m, nil
		}
	}
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

// SendLevel writes one audio packet carrying the audio level extension (RFC 6464):
// level 0 is 0 dBov, the loudest, 127 silence; voice is the V bit. It needs a publish
// connection made with PublishOptions.AudioLevels that the server accepted the
// extension on; otherwise the packet goes without it.
func (p *Publisher) SendLevel(payload []byte, level uint8, voice bool) error {
	p.seq++
	p.ts += 960
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: p.seq, Timestamp: p.ts}, Payload: payload}
	for _, ext := range p.sender.GetParameters().HeaderExtensions {
		if ext.URI == sdp.AudioLevelURI && ext.ID >= 1 && ext.ID <= 14 {
			b := level & 0x7f
			if voice {
				b |= 0x80
			}
			if err := pkt.SetExtension(uint8(ext.ID), []byte{b}); err != nil {
				return err
			}
		}
	}
	return p.track.WriteRTP(pkt)
}

// AudioLevelNegotiated reports whether the server accepted the audio level extension
// for this track.
func (p *Publisher) AudioLevelNegotiated() bool {
	for _, ext := range p.sender.GetParameters().HeaderExtensions {
		if ext.URI == sdp.AudioLevelURI {
			return true
		}
	}
	return false
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

// subHooks make a client misbehave on subscribe offers.
type subHooks struct {
	skip int                 // offers still to leave unanswered
	edit func(string) string // rewrites answers before they are sent
}

// SubscribeOffers is how many subscribe offers the client took, and how many media
// sections the subscribe connection's current offer has (0 before the first).
func (c *Client) SubscribeOffers() (offers, sections int) {
	c.mu.Lock()
	pc := c.sub
	offers = c.subOffers
	c.mu.Unlock()
	if pc == nil {
		return offers, 0
	}
	if d := pc.CurrentRemoteDescription(); d != nil {
		sections = strings.Count(d.SDP, "\nm=")
	}
	return offers, sections
}

// EditSubscribeAnswers makes the client pass every subscribe answer through edit before
// sending it (nil: send them as they are).
func (c *Client) EditSubscribeAnswers(edit func(sdp string) string) {
	c.mu.Lock()
	c.subHooks.edit = edit
	c.mu.Unlock()
}

// IgnoreSubscribeOffers makes the client leave its next n subscribe offers unanswered,
// as a client that lost them would.
func (c *Client) IgnoreSubscribeOffers(n int) {
	c.mu.Lock()
	c.subHooks.skip = n
	c.mu.Unlock()
}

func (c *Client) answerSubscribe(m Message) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	c.mu.Lock()
	ignore := c.subHooks.skip > 0
	if ignore {
		c.subHooks.skip--
	}
	c.mu.Unlock()
	if ignore {
		return
	}
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
	c.subOffers++
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
	offer, inactive := keepInactive(off.SDP) // inactive.go: Pion would stop the transceiver
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
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
	select { // until the client is closed: the test bounds its wait for the answer's effect
	case <-gathered:
	case <-c.done:
		return errors.New("subscribe: closed while gathering")
	}
	sdp := answerInactive(pc.LocalDescription().SDP, inactive)
	c.mu.Lock()
	edit := c.subHooks.edit
	c.mu.Unlock()
	if edit != nil {
		sdp = edit(sdp)
	}
	_, err = c.Send("subscribe_answer", map[string]any{"sdp": sdp})
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

// opusVP8API is NewAPI with only the codecs the server forwards, and with levels the
// audio level extension.
func opusVP8API(levels bool) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	if levels {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(loopbackSettings(webrtc.NetworkTypeUDP4))), nil
}
