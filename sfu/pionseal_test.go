package sfu

import (
	"bytes"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestNackOnPionsPathIsNoRepair: on Pion's path with transport-wide numbers nothing
// goes again (it would be renumbered), so a NACK queues nothing and the keyframe
// request that follows it is sent on, not absorbed as repaired.
func TestNackOnPionsPathIsNoRepair(t *testing.T) {
	up := newTestUpTrack()
	w := &recordingWriter{}
	d := newTestSub(t, up, 7, w)
	d.binding.Store(&binding{ssrc: 7, pt: 100, twcc: 5, stream: w})
	up.layer(0).cache.put(&packet{header: rtp.Header{SequenceNumber: 10}, payload: []byte("abcd")})
	d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 10}}}})
	d.handleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{}})
	st := up.stats
	if st.retransmissions.Load() != 0 || st.retransmissionsDropped.Load() != 1 || st.keyframesRepaired.Load() != 0 {
		t.Fatalf("retransmissions %d, dropped %d, keyframe requests absorbed as repaired %d; want 0, 1, 0",
			st.retransmissions.Load(), st.retransmissionsDropped.Load(), st.keyframesRepaired.Load())
	}
	// What it counts is bounded per datagram, as what it answers is elsewhere.
	nack := &rtcp.TransportLayerNack{}
	for range 360 {
		nack.Nacks = append(nack.Nacks, rtcp.NackPair{PacketID: 200, LostPackets: 0xffff})
	}
	d.handleRTCP([]rtcp.Packet{nack})
	if n := st.retransmissionsDropped.Load() - 1; n != maxNackedPerDatagram {
		t.Fatalf("a datagram naming 6120 packets counted %d dropped, want %d", n, maxNackedPerDatagram)
	}
}

// TestPionPathSealsNoIndexTwice: on Pion's path (a subscribe connection whose
// handshake's keys were not seen), whose SRTP context seals whatever it is given, a
// publisher's second packet under a sequence number does not go: it would share the
// first's nonce. Audio, which has no sent log, and video; a retransmission of the
// packet that went still goes (no transport-wide numbers on this connection). A packet
// given to Pion before its SRTP runs takes no index: sent again later (a new
// subscriber's replay), it goes. One Pion sealed but reported as nothing written keeps
// its index.
func TestPionPathSealsNoIndexTwice(t *testing.T) {
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		t.Run(kind.String(), func(t *testing.T) {
			var fw *forwarder
			if kind == webrtc.RTPCodecTypeVideo {
				fw = &forwarder{passthrough: true}
			}
			d, q, _ := newWriterSub(fw)
			d.up.kind = kind
			if fw != nil {
				d.sent = new(sentLog)
			}
			srtpRuns := false
			w := &plainWriter{byIndex: map[uint16][]byte{}, runs: func() bool { return srtpRuns }}
			d.binding.Store(&binding{ssrc: 1, pt: 111, stream: w}) // d.sub.srtp is nil: Pion's path
			d.sub.pion = &pionPath{connected: func() bool { return srtpRuns }}
			pkt := func(id uint32, seq uint16, fill byte) *packet {
				return &packet{id: id, header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: 960 * uint32(seq)}, payload: bytes.Repeat([]byte{fill}, 60)}
			}
			early := pkt(9, 2, 0x99)
			q.write(sendItem{d: d, p: early}, false) // Pion's SRTP does not run yet
			srtpRuns = true
			q.write(sendItem{d: d, p: early}, false) // the replay's copy of it
			if w.writes != 1 {
				t.Fatalf("a packet given before Pion's SRTP ran, sent again: %d writes, want 1", w.writes)
			}
			first, second := pkt(1, 3, 0xaa), pkt(2, 3, 0xbb)
			q.write(sendItem{d: d, p: first}, false)
			q.write(sendItem{d: d, p: second}, false)
			if w.twice != 0 || w.writes != 2 {
				t.Fatalf("%d writes, %d of them another packet under a number written", w.writes, w.twice)
			}
			if fw != nil {
				q.write(sendItem{d: d, p: first}, true) // NACKed
				if w.twice != 0 || w.writes != 3 {
					t.Fatalf("the packet that went, NACKed: %d writes, %d of another packet", w.writes, w.twice)
				}
			}
			w.swallow = true // sealed, reported as nothing written
			swallowed := pkt(3, 4, 0xcc)
			q.write(sendItem{d: d, p: swallowed}, false)
			w.swallow = false
			q.write(sendItem{d: d, p: pkt(4, 4, 0xdd)}, false)
			if w.twice != 0 {
				t.Fatal("a packet Pion sealed and reported as not written gave its index to another")
			}
			if fw != nil {
				before := w.writes
				q.write(sendItem{d: d, p: swallowed}, true) // NACKed: it goes as it went
				if w.writes != before+1 || w.twice != 0 {
					t.Fatalf("a packet Pion sealed and reported as not written, NACKed: %d writes, %d of another packet", w.writes-before, w.twice)
				}
			}
		})
	}
}

// plainWriter stands for Pion's stream: it keeps what each sequence number carried
// (SSRC 1 only, no rollover) and counts a number written again with other bytes. It
// drops what it is given while its SRTP does not run (runs), as Pion does; with
// swallow it reports a packet it took as nothing written, as Pion's mux does for one
// it sealed but had no candidate pair for.
type plainWriter struct {
	byIndex map[uint16][]byte
	writes  int
	twice   int
	runs    func() bool
	swallow bool
}

func (w *plainWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.runs != nil && !w.runs() {
		return 0, nil
	}
	b, err := (&rtp.Packet{Header: *h, Payload: payload}).Marshal()
	if err != nil {
		return 0, err
	}
	w.writes++
	if was, ok := w.byIndex[h.SequenceNumber]; ok && !bytes.Equal(was, b) {
		w.twice++
	}
	w.byIndex[h.SequenceNumber] = b
	if w.swallow {
		return 0, nil
	}
	return len(payload), nil
}

func (w *plainWriter) Write(b []byte) (int, error) { return len(b), nil }
