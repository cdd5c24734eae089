package sfu

import (
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

// Answers as Pion makes them to the browsers' offers: Chromium's Opus has format
// parameters, Firefox's (payload type 109) in this answer none.
const (
	chromiumAnswer = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n" +
		"a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtcp-fb:111 transport-cc\r\na=recvonly\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\na=recvonly\r\n"
	firefoxAnswer = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 109\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:109 opus/48000/2\r\na=recvonly\r\n"
)

// TestAskForDTX: the publish answer asks for Opus's discontinuous transmission in every
// audio section, whatever the offer's parameters were, and changes nothing else.
func TestAskForDTX(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"Chromium's parameters kept, the ask added", chromiumAnswer,
			strings.Replace(chromiumAnswer, "useinbandfec=1\r\n", "useinbandfec=1;usedtx=1\r\n", 1)},
		{"a type without parameters gets a line of them", firefoxAnswer,
			strings.Replace(firefoxAnswer, "opus/48000/2\r\n", "opus/48000/2\r\na=fmtp:109 usedtx=1\r\n", 1)},
		{"a refusal in the offer is overruled", "m=audio 9 RTP/SAVPF 111\na=rtpmap:111 OPUS/48000/2\na=fmtp:111 usedtx=0;stereo=1\n",
			"m=audio 9 RTP/SAVPF 111\na=rtpmap:111 OPUS/48000/2\na=fmtp:111 stereo=1;usedtx=1\n"},
		{"two audio sections, each asked; the last line without its end",
			"m=audio 9 RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\nm=audio 9 RTP/SAVPF 111 0\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:111 opus/48000/2",
			"m=audio 9 RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 usedtx=1\r\nm=audio 9 RTP/SAVPF 111 0\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 usedtx=1\r\n"},
		{"another codec's parameters, and Opus named in a video section, untouched",
			"m=audio 9 RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\na=fmtp:0 x=1\r\nm=video 9 RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 a=b\r\n",
			"m=audio 9 RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\na=fmtp:0 x=1\r\nm=video 9 RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 a=b\r\n"},
	} {
		if got := askForDTX(c.in); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
		if got := askForDTX(c.want); got != c.want {
			t.Errorf("%s: asked twice: %q", c.name, got)
		}
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(askForDTX(firefoxAnswer)); err != nil {
		t.Fatalf("the asked answer does not parse: %v", err)
	}
	if v, _ := d.MediaDescriptions[0].Attribute("fmtp"); v != "109 usedtx=1" {
		t.Fatalf("fmtp %q", v)
	}
}

// FuzzAskForDTX: on any text (the answer is Pion's, made from a client's offer) the ask
// changes only parameter lines, adds at most one a type, asks the same once as twice,
// leaves text without Opus as it was, and keeps SDP that parsed parsable.
func FuzzAskForDTX(f *testing.F) {
	for _, s := range []string{chromiumAnswer, firefoxAnswer, "", "m=audio\r\na=rtpmap:111 opus/48000", "a=fmtp:111 usedtx=1\n",
		"m=audio 9 RTP/SAVPF 111\na=fmtp:111 ;;usedtx\na=rtpmap:111 opus/48000/2\na=rtpmap:111 opus/48000/2\n", "m=audio x\r\na=rtpmap: opus/1\r\na=rtpmap:1  opus/2\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := askForDTX(in)
		if again := askForDTX(out); again != out {
			t.Fatalf("not idempotent: %q → %q → %q", in, out, again)
		}
		if !strings.Contains(strings.ToLower(in), "opus/") && out != in {
			t.Fatalf("changed SDP without Opus: %q → %q", in, out)
		}
		others := func(s string) []string {
			var kept []string
			for _, l := range strings.SplitAfter(s, "\n") {
				body, _ := splitEnd(l)
				if !strings.HasPrefix(body, "a=fmtp:") && l != "" {
					kept = append(kept, body)
				}
			}
			return kept
		}
		if a, b := others(in), others(out); strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Fatalf("changed more than parameter lines: %q → %q", in, out)
		}
		if n, m := strings.Count(in, "\n"), strings.Count(out, "\n"); m > n+strings.Count(in, "a=rtpmap:")+1 {
			t.Fatalf("%d lines became %d", n, m)
		}
		var d sdp.SessionDescription
		if d.UnmarshalString(in) == nil {
			if err := d.UnmarshalString(out); err != nil {
				t.Fatalf("parsed before, not after (%v): %q → %q", err, in, out)
			}
		}
	})
}
