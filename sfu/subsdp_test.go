package sfu

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

var testSections = []offerSection{
	{mid: "0", kind: webrtc.RTPCodecTypeVideo, ssrc: 11, streamID: "p1", trackID: "camera"},
	{mid: "1", kind: webrtc.RTPCodecTypeAudio, ssrc: 12, streamID: "p1", trackID: "mic"},
	{mid: "2", kind: webrtc.RTPCodecTypeVideo},
}

// testAnswer is a browser's answer to testSections, as Chromium writes one.
const testAnswer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n" +
	"a=fingerprint:sha-256 AB:CD\r\na=setup:active\r\na=mid:0\r\na=extmap:3 " + sdp.TransportCCURI + "\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n" +
	"a=fingerprint:sha-256 AB:CD\r\na=setup:active\r\na=mid:1\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=inactive\r\na=rtpmap:96 VP8/90000\r\n"

// TestWriteOfferParses: the offer is a description Pion's parser reads, with what a
// browser needs of each section.
func TestWriteOfferParses(t *testing.T) {
	text := writeOffer(offerParams{sessionID: 7, version: 3, ufrag: "ufrag", pwd: "0123456789abcdefghijkl", fingerprint: "sha-256 AB:CD",
		candidates: []string{"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"}, twcc: true, sections: testSections})
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(text); err != nil {
		t.Fatal(err)
	}
	if _, ok := sd.Attribute("ice-lite"); !ok || len(sd.MediaDescriptions) != 3 {
		t.Fatalf("offer:\n%s", text)
	}
	for _, want := range []string{"a=group:BUNDLE 0 1 2", "a=ssrc:11 msid:p1 camera", "a=fmtp:111 minptime=10;useinbandfec=1",
		"a=rtcp-fb:96 nack pli", "a=extmap:1 " + sdp.TransportCCURI, "a=sendonly", "a=inactive", "a=setup:actpass"} {
		if !strings.Contains(text, want+"\r\n") {
			t.Errorf("offer lacks %q", want)
		}
	}
}

func TestParseAnswer(t *testing.T) {
	a, err := parseAnswer(testAnswer, testSections)
	if err != nil {
		t.Fatal(err)
	}
	if a.ufrag != "abcd" || a.dtlsClient || a.fingerprints["sha-256"] != "AB:CD" || len(a.sections) != 3 {
		t.Fatalf("%+v", a)
	}
	if s := a.sections[0]; !s.accepted || s.pt != 96 || s.twcc != 3 {
		t.Errorf("video %+v", s)
	}
	if s := a.sections[1]; !s.accepted || s.pt != 111 || s.twcc != 0 {
		t.Errorf("audio %+v", s)
	}
	if a.sections[2].accepted {
		t.Error("an inactive section accepted")
	}
	for _, c := range []struct{ name, from, to string }{
		{"no fingerprint", "a=fingerprint:sha-256 AB:CD\r\n", ""},
		{"setup actpass", "a=setup:active", "a=setup:actpass"},
		{"short password", "0123456789abcdefghijkl", "short"},
		{"another mid", "a=mid:1", "a=mid:9"},
		{"a section left out", "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=inactive\r\na=rtpmap:96 VP8/90000\r\n", ""},
		{"not a description", "v=0", "garbage"},
	} {
		if _, err := parseAnswer(strings.ReplaceAll(testAnswer, c.from, c.to), testSections); !errors.Is(err, errAnswer) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if a, err := parseAnswer(strings.ReplaceAll(testAnswer, "a=setup:active", "a=setup:passive"), testSections); err != nil || !a.dtlsClient {
		t.Errorf("passive: %v", err)
	}
	if a, err := parseAnswer(strings.Replace(testAnswer, "m=video 9", "m=video 0", 1), testSections); err != nil || a.sections[0].accepted {
		t.Errorf("a rejected section: %v", err)
	}
	if a, err := parseAnswer(strings.ReplaceAll(testAnswer, "VP8/90000", "H264/90000"), testSections); err != nil || a.sections[0].accepted {
		t.Errorf("another codec: %v", err)
	}
}

// FuzzParseAnswer: whatever a client sends as its answer, parsing it does not fail,
// and what it accepts matches the offer section by section.
func FuzzParseAnswer(f *testing.F) {
	f.Add(testAnswer)
	f.Add(strings.ReplaceAll(testAnswer, "\r\n", "\n"))
	f.Add("v=0\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		a, err := parseAnswer(text, testSections)
		if err != nil {
			return
		}
		if len(a.sections) != len(testSections) || len(a.fingerprints) == 0 || len(a.pwd) < 22 {
			t.Fatalf("accepted %+v", a)
		}
		for i, s := range a.sections {
			if s.mid != testSections[i].mid || (s.accepted && s.pt == 0) {
				t.Fatalf("section %d: %+v", i, s)
			}
		}
	})
}

// BenchmarkAnswerKept reports what a subscriber keeps of its parsed answer for as long
// as it is there (the fingerprints for later answers, the ICE ufrag), in heap bytes an
// answer: pion/sdp's values share one copy of the whole text, which detach lets go.
func BenchmarkAnswerKept(b *testing.B) {
	type kept struct {
		remote *answer
		ufrag  string
	}
	var before, after runtime.MemStats
	var held []kept
	for b.Loop() {
		held = make([]kept, 0, 1000)
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range cap(held) {
			a, err := parseAnswer(testAnswer, testSections)
			if err != nil {
				b.Fatal(err)
			}
			held = append(held, kept{&answer{fingerprints: a.fingerprints, dtlsClient: a.dtlsClient}, a.ufrag})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(held)), "B-kept/answer")
	runtime.KeepAlive(held)
}
