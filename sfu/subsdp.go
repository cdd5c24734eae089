package sfu

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// The descriptions of a subscribe connection the server runs itself (ownsub.go): it
// writes each offer and reads the client's answer, instead of Pion's PeerConnection.
// An offer is what Pion's was (BUNDLE on one transport, rtcp-mux, the engine's two
// codecs with the same payload types and feedback, the transport-wide sequence number
// as the only header extension, the SSRC and msid of each track) with two changes:
// it says ice-lite (icelite.go), and a section whose track was removed is inactive
// until a track of its kind reuses it.

// offerSection is one media section of an offer: a track, or an inactive section
// (ssrc 0) kept for reuse, as a transceiver is.
type offerSection struct {
	mid      string
	kind     webrtc.RTPCodecType
	ssrc     uint32
	streamID string // the publisher's participant id
	trackID  string
}

// offerParams is everything an offer says.
type offerParams struct {
	sessionID, version uint64
	ufrag, pwd         string
	fingerprint        string   // "sha-256 AB:CD:…"
	candidates         []string // "candidate:…" values: the server's UDP host candidates
	twcc               bool     // transport-wide congestion control offered
	sections           []offerSection
}

// subTWCCExtID is the id the offer gives the transport-wide sequence number.
const subTWCCExtID = 1

// writeOffer is the offer's text.
func writeOffer(o offerParams) string {
	var b strings.Builder
	line := func(s ...string) {
		for _, x := range s {
			b.WriteString(x)
		}
		b.WriteString("\r\n")
	}
	line("v=0")
	line("o=- ", strconv.FormatUint(o.sessionID, 10), " ", strconv.FormatUint(o.version, 10), " IN IP4 0.0.0.0")
	line("s=-")
	line("t=0 0")
	line("a=ice-lite")
	line("a=fingerprint:", o.fingerprint)
	mids := make([]string, len(o.sections))
	for i, s := range o.sections {
		mids[i] = s.mid
	}
	if len(mids) > 0 {
		line("a=group:BUNDLE ", strings.Join(mids, " "))
	}
	line("a=msid-semantic:WMS *")
	for _, s := range o.sections {
		pt, codec := "96", "a=rtpmap:96 VP8/90000"
		media, fb := "video", []string{"ccm fir", "nack", "nack pli"}
		if s.kind == webrtc.RTPCodecTypeAudio {
			pt, codec = "111", "a=rtpmap:111 opus/48000/2"
			media, fb = "audio", nil
		}
		if o.twcc {
			fb = append(fb, "transport-cc")
		}
		line("m=", media, " 9 UDP/TLS/RTP/SAVPF ", pt)
		line("c=IN IP4 0.0.0.0")
		line("a=setup:actpass")
		line("a=mid:", s.mid)
		line("a=ice-ufrag:", o.ufrag)
		line("a=ice-pwd:", o.pwd)
		line("a=rtcp-mux")
		line("a=rtcp-rsize")
		line(codec)
		if s.kind == webrtc.RTPCodecTypeAudio {
			line("a=fmtp:111 ", opusCodec.SDPFmtpLine)
		}
		for _, f := range fb {
			line("a=rtcp-fb:", pt, " ", f)
		}
		if o.twcc {
			line("a=extmap:", strconv.Itoa(subTWCCExtID), " ", sdp.TransportCCURI)
		}
		if s.ssrc != 0 {
			ssrc := strconv.FormatUint(uint64(s.ssrc), 10)
			line("a=ssrc:", ssrc, " cname:", s.streamID)
			line("a=ssrc:", ssrc, " msid:", s.streamID, " ", s.trackID)
			line("a=msid:", s.streamID, " ", s.trackID)
			line("a=sendonly")
		} else {
			line("a=inactive")
		}
		for _, c := range o.candidates {
			line("a=", c)
		}
		line("a=end-of-candidates")
	}
	return b.String()
}

// answerSection is what the answer says of one offered section.
type answerSection struct {
	mid      string
	accepted bool  // a port other than 0, and a direction that receives
	pt       uint8 // the payload type of the section's codec
	twcc     uint8 // the transport-wide sequence number's id, 0: not accepted
}

// answer is what the server needs of a subscribe answer.
type answer struct {
	ufrag, pwd   string
	fingerprints map[string]string // hash algorithm → fingerprint
	// dtlsClient: the client took the DTLS server's role ("a=setup:passive"), so the
	// server is the client.
	dtlsClient bool
	sections   []answerSection
	candidates []string // the candidate attributes' values, at most maxSDPCandidates
}

var errAnswer = errors.New("sfu: subscribe answer")

// parseAnswer reads the answer to an offer of sections. It refuses an answer that
// does not match the offer section by section, lacks ICE credentials or a
// fingerprint, or does not say which DTLS role its side takes.
func parseAnswer(text string, sections []offerSection) (*answer, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(text); err != nil {
		return nil, fmt.Errorf("%w: %v", errAnswer, err)
	}
	if len(sd.MediaDescriptions) != len(sections) {
		return nil, fmt.Errorf("%w: %d media sections for %d offered", errAnswer, len(sd.MediaDescriptions), len(sections))
	}
	a := &answer{fingerprints: map[string]string{}}
	sessionValue := func(key string) string { v, _ := sd.Attribute(key); return v }
	a.ufrag, a.pwd = sessionValue("ice-ufrag"), sessionValue("ice-pwd")
	setup := sessionValue("setup")
	addFingerprint := func(v string) {
		alg, fp, ok := strings.Cut(strings.TrimSpace(v), " ")
		if ok && len(a.fingerprints) < 4 {
			a.fingerprints[strings.ToLower(alg)] = strings.TrimSpace(fp)
		}
	}
	addCandidate := func(v string) {
		if len(a.candidates) < maxSDPCandidates {
			a.candidates = append(a.candidates, v)
		}
	}
	for _, at := range sd.Attributes {
		switch at.Key {
		case "fingerprint":
			addFingerprint(at.Value)
		case "candidate":
			addCandidate(at.Value)
		}
	}
	for i, md := range sd.MediaDescriptions {
		off := sections[i]
		mid, _ := md.Attribute("mid")
		if mid != off.mid || md.MediaName.Media != off.kind.String() {
			return nil, fmt.Errorf("%w: section %d is %s %q, offered %s %q", errAnswer, i, md.MediaName.Media, mid, off.kind, off.mid)
		}
		s := answerSection{mid: mid}
		recv := true
		for _, at := range md.Attributes {
			switch at.Key {
			case "ice-ufrag":
				if a.ufrag == "" || i == 0 {
					a.ufrag = at.Value
				}
			case "ice-pwd":
				if a.pwd == "" || i == 0 {
					a.pwd = at.Value
				}
			case "fingerprint":
				addFingerprint(at.Value)
			case "candidate":
				addCandidate(at.Value)
			case "setup":
				if setup == "" || i == 0 {
					setup = at.Value
				}
			case "sendonly", "inactive":
				recv = false
			case "rtpmap":
				if pt, ok := answerPayloadType(at.Value, off.kind); ok && s.pt == 0 {
					s.pt = pt
				}
			case "extmap":
				var e sdp.ExtMap
				if e.Unmarshal("extmap:"+at.Value) == nil && e.URI != nil && e.URI.String() == sdp.TransportCCURI && e.Value > 0 && e.Value < 15 {
					s.twcc = uint8(e.Value)
				}
			}
		}
		s.accepted = md.MediaName.Port.Value != 0 && recv && s.pt != 0
		a.sections = append(a.sections, s)
	}
	switch setup {
	case "active":
	case "passive":
		a.dtlsClient = true
	default:
		return nil, fmt.Errorf("%w: DTLS setup %q", errAnswer, setup)
	}
	if len(a.ufrag) < 4 || len(a.ufrag) > 256 || len(a.pwd) < 22 || len(a.pwd) > 256 || strings.ContainsAny(a.ufrag, ": ") {
		return nil, fmt.Errorf("%w: ICE credentials", errAnswer)
	}
	if len(a.fingerprints) == 0 {
		return nil, fmt.Errorf("%w: no DTLS fingerprint", errAnswer)
	}
	a.detach()
	return a, nil
}

// detach gives the answer its own copies of the strings it keeps: pion/sdp's values
// share one copy of the whole text, which the fingerprints and the ICE ufrag would keep
// for as long as the subscriber is there (about 0.6 KB each).
func (a *answer) detach() {
	a.ufrag, a.pwd = strings.Clone(a.ufrag), strings.Clone(a.pwd)
	fps := make(map[string]string, len(a.fingerprints))
	for alg, fp := range a.fingerprints {
		fps[strings.Clone(alg)] = strings.Clone(fp)
	}
	a.fingerprints = fps
	for i := range a.sections {
		a.sections[i].mid = strings.Clone(a.sections[i].mid)
	}
	for i := range a.candidates {
		a.candidates[i] = strings.Clone(a.candidates[i])
	}
}

// answerPayloadType reads an rtpmap value ("96 VP8/90000") and reports its payload
// type if it is the engine's codec of kind.
func answerPayloadType(v string, kind webrtc.RTPCodecType) (uint8, bool) {
	ptText, codec, ok := strings.Cut(v, " ")
	if !ok {
		return 0, false
	}
	pt, err := strconv.ParseUint(ptText, 10, 7)
	if err != nil || pt == 0 {
		return 0, false
	}
	name, _, _ := strings.Cut(codec, "/")
	want := vp8Codec.MimeType
	if kind == webrtc.RTPCodecTypeAudio {
		want = opusCodec.MimeType
	}
	_, wantName, _ := strings.Cut(want, "/")
	return uint8(pt), strings.EqualFold(name, wantName)
}
