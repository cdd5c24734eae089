package sfu

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/pion/ice/v4"
)

// offerSDP builds a publish offer with one section per "kind:mid:direction[:port]".
func offerSDP(sections ...string) string {
	var b strings.Builder
	b.WriteString("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
	for _, s := range sections {
		f := strings.Split(s, ":")
		port := "9"
		if len(f) > 3 {
			port = f[3]
		}
		pt := "96"
		if f[0] == "audio" {
			pt = "111"
		}
		fmt.Fprintf(&b, "m=%s %s UDP/TLS/RTP/SAVPF %s\r\nc=IN IP4 0.0.0.0\r\na=mid:%s\r\na=%s\r\n", f[0], port, pt, f[1], f[2])
	}
	return b.String()
}

func TestCheckPublishOffer(t *testing.T) {
	many := make([]string, 17)
	for i := range many {
		many[i] = fmt.Sprintf("video:%d:inactive", i)
	}
	cases := []struct {
		name    string
		sdp     string
		sources map[string]Source
		want    error
	}{
		{"honest", offerSDP("audio:0:sendonly", "video:1:sendonly", "video:2:sendonly"),
			map[string]Source{"0": SourceMicrophone, "1": SourceCamera, "2": SourceScreen}, nil},
		{"inactive unlabelled", offerSDP("audio:0:sendonly", "video:1:inactive", "video:2:recvonly"),
			map[string]Source{"0": SourceMicrophone}, nil},
		{"port 0 sender unlabelled", offerSDP("audio:0:sendonly", "video:1:sendonly:0"),
			map[string]Source{"0": SourceMicrophone}, ErrTracks},
		{"audio as camera", offerSDP("audio:0:sendonly"), map[string]Source{"0": SourceCamera}, ErrTracks},
		{"video as microphone", offerSDP("video:0:sendrecv"), map[string]Source{"0": SourceMicrophone}, ErrTracks},
		{"inactive mislabelled", offerSDP("audio:0:inactive"), map[string]Source{"0": SourceScreen}, ErrTracks},
		{"two cameras", offerSDP("video:0:sendonly", "video:1:sendonly"),
			map[string]Source{"0": SourceCamera, "1": SourceCamera}, ErrTracks},
		{"unlabelled sender", offerSDP("audio:0:sendonly", "video:1:sendrecv"), map[string]Source{"0": SourceMicrophone}, ErrTracks},
		{"bundle-only sender", offerSDP("audio:0:sendonly", "video:1:sendonly:0") + "a=bundle-only\r\n",
			map[string]Source{"0": SourceMicrophone}, ErrTracks},
		{"label without section", offerSDP("audio:0:sendonly"), map[string]Source{"0": SourceMicrophone, "5": SourceCamera}, ErrTracks},
		{"too many sections", offerSDP(many...), nil, ErrTracks},
		{"simulcast camera", offerSDP("video:0:sendonly") + "a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;h;f\r\n",
			map[string]Source{"0": SourceCamera}, nil},
		{"simulcast unknown rid", offerSDP("video:0:sendonly") + "a=rid:h send\r\na=rid:l send\r\na=simulcast:send h;l\r\n",
			map[string]Source{"0": SourceCamera}, ErrTracks},
		{"simulcast rid twice", offerSDP("video:0:sendonly") + "a=rid:h send\r\na=rid:h send\r\na=simulcast:send h;h\r\n",
			map[string]Source{"0": SourceCamera}, ErrTracks},
		{"simulcast receive rid", offerSDP("video:0:sendonly") + "a=rid:h recv\r\na=simulcast:recv h\r\n",
			map[string]Source{"0": SourceCamera}, ErrTracks},
		{"simulcast screen", offerSDP("video:0:sendonly") + "a=rid:q send\r\na=rid:f send\r\na=simulcast:send q;f\r\n",
			map[string]Source{"0": SourceScreen}, ErrTracks},
		{"simulcast without rids", offerSDP("video:0:sendonly") + "a=simulcast:send q;f\r\n",
			map[string]Source{"0": SourceCamera}, ErrTracks},
		{"not SDP", "hello", nil, ErrBadSDP},
	}
	for _, tc := range cases {
		err := checkPublishOffer(tc.sdp, tc.sources)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestCandidateFilter(t *testing.T) {
	cases := []struct {
		cand     string
		loopback bool
		ok       bool
	}{
		{"candidate:1 1 udp 2130706431 192.168.1.20 50000 typ host", false, true},
		{"candidate:1 1 udp 1694498815 203.0.113.7 50000 typ srflx raddr 0.0.0.0 rport 0", false, true},
		{"candidate:1 1 udp 16777215 198.51.100.3 3478 typ relay raddr 0.0.0.0 rport 0", false, true},
		{"candidate:1 1 udp 2130706431 2001:db8::1 50000 typ host", false, true},
		{"candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", true, true},
		{"candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", false, false},
		{"candidate:1 1 tcp 1518280447 192.168.1.20 9 typ host tcptype active", false, false},
		{"candidate:1 1 tcp 1518280447 192.168.1.20 50000 typ host tcptype passive", false, false},
		{"candidate:1 1 udp 2130706431 0.0.0.0 50000 typ host", true, false},
		{"candidate:1 1 udp 2130706431 :: 50000 typ host", true, false},
		{"candidate:1 1 udp 2130706431 224.0.0.251 5353 typ host", true, false},
		{"candidate:1 1 udp 2130706431 ff02::1 5353 typ host", true, false},
		{"candidate:1 1 udp 2130706431 255.255.255.255 50000 typ host", true, false},
		{"candidate:1 1 udp 2130706431 169.254.169.254 80 typ host", true, false},
		{"candidate:1 1 udp 2130706431 192.168.1.20 0 typ host", true, false},
		// Through a translator's 64:ff9b::/96 (RFC 6052), as the IPv4 address it names.
		{"candidate:1 1 udp 2130706431 64:ff9b::203.0.113.7 50000 typ host", false, true},
		{"candidate:1 1 udp 2130706431 64:ff9b::169.254.169.254 80 typ host", true, false},
		{"candidate:1 1 udp 2130706431 64:ff9b::127.0.0.1 50000 typ host", false, false},
		{"candidate:1 1 udp 2130706431 64:ff9b::127.0.0.1 50000 typ host", true, true},
		{"candidate:1 1 udp 2130706431 64:ff9b::224.0.0.251 5353 typ host", true, false},
		{"candidate:1 1 udp 2130706431 64:ff9b::255.255.255.255 50000 typ host", true, false},
		{"candidate:1 1 udp 2130706431 64:ff9b:: 50000 typ host", true, false},
		{"candidate:1 1 udp 2130706431 ::ffff:169.254.169.254 80 typ host", true, false},
		{"candidate:1 1 udp 2130706431 1f1b7a34-9d1d-4c3b-8a1e-2d4b5c6d7e8f.local 50000 typ host", true, false},
	}
	for _, tc := range cases {
		c, err := ice.UnmarshalCandidate(tc.cand)
		if err != nil {
			t.Fatalf("%s: %v", tc.cand, err)
		}
		f := candidateFilter{allowLoopback: tc.loopback}
		if got := f.ok(c); got != tc.ok {
			t.Errorf("%s (loopback %v): ok = %v, want %v", tc.cand, tc.loopback, got, tc.ok)
		}
		// Pion's filter (defence in depth) judges the address alike.
		if ip := net.ParseIP(c.Address()); ip != nil && c.Port() != 0 && c.NetworkType().IsUDP() {
			if got := f.remoteIPFilter(ip); got != tc.ok {
				t.Errorf("%s (loopback %v): Pion's filter %v, want %v", tc.cand, tc.loopback, got, tc.ok)
			}
		}
	}
}

func TestFilterSDPCandidates(t *testing.T) {
	var b strings.Builder
	b.WriteString("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n")
	b.WriteString("a=candidate:1 1 tcp 1518280447 127.0.0.1 4444 typ host tcptype passive\r\n")
	b.WriteString("a=candidate:2 1 udp 2130706431 0.0.0.0 4444 typ host\r\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "a=candidate:%d 1 udp 2130706431 10.0.0.%d 4444 typ host\r\n", 10+i, i+1)
	}
	b.WriteString("a=end-of-candidates\r\n")
	out := candidateFilter{}.filterSDP(b.String())
	if strings.Contains(out, " tcp ") || strings.Contains(out, "0.0.0.0") {
		t.Errorf("unusable candidates kept:\n%s", out)
	}
	if n := strings.Count(out, "a=candidate:"); n != maxSDPCandidates {
		t.Errorf("%d candidates kept, want %d", n, maxSDPCandidates)
	}
	if !strings.HasPrefix(out, "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n") || !strings.HasSuffix(out, "a=end-of-candidates\r\n") {
		t.Errorf("other lines changed:\n%s", out)
	}
}
