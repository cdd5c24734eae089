package sfu

import (
	"testing"

	"github.com/pion/webrtc/v4"
)

// TestUnnegotiatedPayloadTypeIsNotForwarded: a modified publisher sends one packet of
// its camera's stream under a payload type the stream did not negotiate, among its
// genuine ones: one no codec of the connection has (100), and Opus's (111), which the
// server registers for audio and Pion's track takes on a video stream too. On the
// socket reader's path, which reads the packets once the stream is taken over, and
// on Pion's, neither reaches the subscriber; each is counted, and the packets after
// it are forwarded.
func TestUnnegotiatedPayloadTypeIsNotForwarded(t *testing.T) {
	for _, pionsPath := range []bool{false, true} {
		for _, pt := range []uint8{100, 111} {
			name := "socket reader"
			if pionsPath {
				name = "Pion"
			}
			t.Run(name+"/"+map[uint8]string{100: "unknown", 111: "audio's"}[pt], func(t *testing.T) {
				changer := &payloadTypeChanger{pt: pt}
				r := newChangerRig(t, changer)
				if pionsPath {
					r.onPionsPathOnly()
				}
				r.unnegotiatedIsDropped(changer)
			})
		}
	}
}

// TestPayloadTypesOf: the media codecs' types, not RTX's, and a packet's type checked
// against them; an empty set (a layer made without a connection) checks nothing.
func TestPayloadTypesOf(t *testing.T) {
	s := payloadTypesOf([]webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, PayloadType: 96},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX}, PayloadType: 97},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, PayloadType: 120},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, PayloadType: 200},
	})
	for pt, want := range map[byte]bool{96: false, 120: false, 97: true, 111: true, 0: true, 127: true, 72: true} {
		if got := s.refuses([]byte{0x80, 0x80 | pt}); got != want {
			t.Errorf("refuses type %d (marker set) = %v, want %v", pt, got, want)
		}
	}
	var none payloadTypes
	if none.refuses([]byte{0x80, 100}) {
		t.Error("an empty set refused a packet")
	}
}
