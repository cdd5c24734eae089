package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestNACKCounters: a NACK for three packets, two of them still cached, counts one NACK
// received and answered and two retransmissions, and the two packets are written again
// (counted as forwarded); a NACK for packets long gone counts as received only.
func TestNACKCounters(t *testing.T) {
	up := &upTrack{kind: webrtc.RTPCodecTypeVideo, stats: &counters{}}
	w := &recordingWriter{}
	d := newTestSub(t, up, 7, w)
	for _, seq := range []uint16{10, 11} {
		up.cache.put(&packet{header: rtp.Header{SequenceNumber: seq}, payload: []byte("abcd")})
	}
	d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 10, LostPackets: 0b11}}}}) // 10, 11, 12
	d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 500}}}})
	deadline := time.Now().Add(5 * time.Second)
	for len(w.got()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := w.got(); len(got) != 2 || got[0].SequenceNumber != 10 || got[1].SequenceNumber != 11 {
		t.Fatalf("retransmitted %+v, want 10 and 11", got)
	}
	s := up.stats
	if n := s.nacks.Load(); n != 2 {
		t.Errorf("NACKs received %d, want 2", n)
	}
	if n := s.nacksAnswered.Load(); n != 1 {
		t.Errorf("NACKs answered %d, want 1", n)
	}
	if n := s.retransmissions.Load(); n != 2 {
		t.Errorf("retransmissions %d, want 2", n)
	}
	if n := s.forwarded.Load(); n != 2 {
		t.Errorf("forwarded %d, want 2", n)
	}
	if n := s.bytes.Load(); n != 8 {
		t.Errorf("bytes %d, want 8", n)
	}
}
