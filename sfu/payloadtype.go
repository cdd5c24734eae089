package sfu

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// payloadTypes is the set of RTP payload types a published stream may carry: those
// of its transceiver's media codecs as the publish connection negotiated them. A
// packet under any other is neither cached nor forwarded (layer.receive), on both
// paths: the socket reader's takes each packet's header as it comes, and Pion's
// track takes any type the connection negotiated for either kind (an Opus type on
// a camera's stream, whose packets would go to every subscriber as VP8). Padding
// comes under the media type too: the server negotiates no RTX (pionconns.go), so a
// browser pads its media stream itself; were RTX negotiated, its packets (padding
// included) would come under an SSRC of their own, never the layer's, which is why
// an RTX type is not taken here either.
//
// One bit a type: the check on the receive path is a shift and a mask, no lock and
// no allocation. The zero value, a layer made without a connection (tests), checks
// nothing; a published layer always has one type at least (onTrack).
type payloadTypes [2]uint64

// payloadTypesOf is the set of the media codecs' types among codecs.
func payloadTypesOf(codecs []webrtc.RTPCodecParameters) payloadTypes {
	var s payloadTypes
	for _, c := range codecs {
		if c.PayloadType > 127 || strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) {
			continue
		}
		s[c.PayloadType>>6] |= 1 << (c.PayloadType & 63)
	}
	return s
}

// empty reports whether the set holds no type.
func (s *payloadTypes) empty() bool { return s[0]|s[1] == 0 }

// refuses reports whether b, an RTP packet, is under a type outside a non-empty set.
func (s *payloadTypes) refuses(b []byte) bool {
	if len(b) < 2 || s.empty() {
		return false
	}
	pt := b[1] & 0x7f
	return s[pt>>6]&(1<<(pt&63)) == 0
}
