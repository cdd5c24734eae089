package sfu

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

// recordingPublisherAPI records the publisher's SRTP.
func recordingPublisherAPI(t *testing.T) (*webrtc.API, *datagramRecorder) {
	t.Helper()
	return recordingAPI(t, isRTP, true)
}

// waitPublisherRead waits until the publisher's stream is read in the socket reader:
// a packet sent at one poll has reached the subscriber by a later one. (Asked of the
// packet just sent, the check passed only when the packet's way through the SFU beat
// the test's own goroutine, which a machine's speed decides.)
func waitPublisherRead(t *testing.T, r *mediaRig) {
	t.Helper()
	before := r.eng.Stats().PublisherRTPRead
	var last uint16
	sent := false
	conntest.Eventually(t, "the publisher's SRTP read by the SFU", func() bool {
		if sent && r.sub.has(last) && r.eng.Stats().PublisherRTPRead > before {
			return true
		}
		last, sent = r.pub.send(), true
		return false
	})
}

// TestPublisherRTPIsReadInTheSocketReader: once the publisher's stream is known, its
// packets are decrypted and forwarded by the media socket's reader (counted there);
// the same datagram sent again, a changed one and an unencrypted one from the
// publisher's address are dropped and reach no subscriber, and the genuine packets
// after them still do.
func TestPublisherRTPIsReadInTheSocketReader(t *testing.T) {
	api, rec := recordingPublisherAPI(t)
	r := newMediaRigAPIs(t, api, testPeerAPI(t))
	waitPublisherRead(t, r)

	seq := r.pub.send()
	conntest.Eventually(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
	st := r.eng.Stats()
	genuine, to := rec.last()
	if genuine == nil || binary.BigEndian.Uint16(genuine[2:4]) != seq {
		t.Fatal("the publisher's SRTP was not recorded")
	}
	changed := bytes.Clone(genuine)
	changed[len(changed)-3] ^= 0x40
	plain, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq + 100, Timestamp: 1, SSRC: r.pub.ssrc},
		Payload: []byte{0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for i, bad := range [][]byte{genuine, changed, plain} {
		if _, err := rec.PacketConn.WriteTo(bad, to); err != nil {
			t.Fatal(err)
		}
		conntest.Eventually(t, "the forged SRTP refused", func() bool { return r.eng.Stats().PublisherRTPRefused == st.PublisherRTPRefused+uint64(i+1) })
	}
	after := r.eng.Stats()
	if after.PublisherRTPRead != st.PublisherRTPRead {
		t.Fatalf("a replayed or forged SRTP packet was read: before %+v, after %+v", st, after)
	}
	next := r.pub.send()
	conntest.Eventually(t, "the packet after the forgeries at the subscriber", func() bool { return r.sub.has(next) })
	r.sub.mu.Lock()
	got, forged := r.sub.got[seq], r.sub.got[seq+100]
	r.sub.mu.Unlock()
	if got != 1 || forged != 0 {
		t.Fatalf("the subscriber got packet %d %d times and the forged %d %d times, want 1 and 0", seq, got, seq+100, forged)
	}
	if n := r.eng.Stats().PublisherRTPRead; n <= after.PublisherRTPRead {
		t.Fatalf("the packet after the forgeries was not read by the SFU (%d)", n)
	}
}

// TestPublisherRTPFollowsTheRoute: the SRTP reader is registered for the publish
// connection's selected address, moves with it, to the ICE-TCP connection's reader
// for a pair over ICE-TCP and back, and is gone once the participant is; the stream's SSRC is indexed while it lives.
func TestPublisherRTPFollowsTheRoute(t *testing.T) {
	r := newMediaRig(t)
	waitPublisherRead(t, r)
	routes := &r.eng.pubRTP
	lookup := routes.lookup
	p := r.pubP
	p.routeMu.Lock()
	first := p.pubFrom
	p.routeMu.Unlock()
	in := lookup(first)
	if in == nil || in.p != p {
		t.Fatalf("nothing registered for the selected pair's address %v", first)
	}
	if l := p.layerBySSRC(r.pub.ssrc); l == nil || l.ssrc != r.pub.ssrc {
		t.Fatal("the publisher's stream is not indexed by its SSRC")
	}
	moved := netip.MustParseAddrPort("127.0.0.1:9")
	p.setPublishRoute(pairOver(webrtc.ICEProtocolUDP, moved))
	if lookup(first) != nil || lookup(moved) != in {
		t.Fatal("the reader did not move with the route")
	}
	overTCP := netip.MustParseAddrPort("127.0.0.1:40000")
	p.setPublishRoute(pairOver(webrtc.ICEProtocolTCP, overTCP))
	if lookup(moved) != nil || r.eng.pubTCP.lookup(overTCP) != in {
		t.Fatal("a route over ICE-TCP kept the UDP reader, or its connection has none")
	}
	p.setPublishRoute(pairOver(webrtc.ICEProtocolUDP, first))
	if r.eng.pubTCP.lookup(overTCP) != nil || lookup(first) != in {
		t.Fatal("the reader did not move back from ICE-TCP to UDP")
	}
	p.setPublishRoute(pairOver(webrtc.ICEProtocolTCP, overTCP))
	p.Close()
	if lookup(first) != nil || r.eng.pubTCP.lookup(overTCP) != nil {
		t.Fatal("the reader outlived its participant")
	}
	conntest.Eventually(t, "the stream's SSRC forgotten", func() bool { return p.layerBySSRC(r.pub.ssrc) == nil })
}

// pairOver is a selected pair over protocol whose remote end is ap.
func pairOver(protocol webrtc.ICEProtocol, ap netip.AddrPort) *webrtc.ICECandidatePair {
	return &webrtc.ICECandidatePair{
		Local:  &webrtc.ICECandidate{Protocol: protocol},
		Remote: &webrtc.ICECandidate{Protocol: protocol, Address: ap.Addr().String(), Port: ap.Port()},
	}
}

// newFuzzRTPIn is a publisher's SRTP reader with fuzzRTCPKeys, registered for an
// address, reading one audio stream taken over at takenAt (newTestRTPIn).
func newFuzzRTPIn(t *testing.T, takenAt uint16) (*rtpRoutes, netip.AddrPort) {
	return newTestRTPIn(t, webrtc.RTPCodecTypeAudio, &layer{takenAt: takenAt})
}

// newTestRTPIn is a publisher's SRTP reader with fuzzRTCPKeys, registered for an
// address, reading one stream (SSRC 1) into l, a layer of a track of kind that is
// blocked: nothing to forward to, receiving stops after its bookkeeping.
func newTestRTPIn(t testing.TB, kind webrtc.RTPCodecType, l *layer) (*rtpRoutes, netip.AddrPort) {
	t.Helper()
	return newTestRTPInProfile(t, kind, l, srtp.ProtectionProfileAeadAes128Gcm)
}

// testRTPKeys are fuzzRTCPKeys with a salt as long as profile's.
func testRTPKeys(profile srtp.ProtectionProfile) srtp.SessionKeys {
	keys := fuzzRTCPKeys
	if n, err := profile.SaltLen(); err == nil {
		keys.RemoteMasterSalt = bytes.Repeat([]byte{9}, n)
	}
	return keys
}

// newTestRTPInProfile is newTestRTPIn with the SRTP profile profile.
func newTestRTPInProfile(t testing.TB, kind webrtc.RTPCodecType, l *layer, profile srtp.ProtectionProfile) (*rtpRoutes, netip.AddrPort) {
	t.Helper()
	p := &Participant{}
	l.up = &upTrack{owner: p, kind: kind, blocked: &atomic.Bool{}, stats: &counters{}}
	l.up.blocked.Store(true)
	l.ssrc = 1
	p.indexLayer(l, false)
	in, err := newRTPIn(p, testRTPKeys(profile), profile)
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort("127.0.0.1:5000")
	routes := &rtpRoutes{}
	routes.set(ap, in)
	return routes, ap
}

// FuzzPublisherRTP: whatever arrives from a publisher's address, raw or encrypted with
// its keys, the reader never panics, and takes only what is RTP of a stream it reads.
func FuzzPublisherRTP(f *testing.F) {
	for _, pkt := range []*rtp.Packet{
		{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 7, Timestamp: 960, SSRC: 1}, Payload: []byte{1, 2, 3}},
		{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 65535, SSRC: 1, Marker: true, CSRC: []uint32{5}}, Payload: []byte{0}},
		{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 8, SSRC: 2}, Payload: []byte{9}},
		{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 9, SSRC: 1, Padding: true, PaddingSize: 4}},
	} {
		b, err := pkt.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		f.Add(b, false)
	}
	f.Add([]byte{0x80, 0x6f, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, true)
	f.Fuzz(func(t *testing.T, b []byte, encrypt bool) {
		routes, ap := newFuzzRTPIn(t, 7)
		if encrypt {
			local := srtp.SessionKeys{LocalMasterKey: fuzzRTCPKeys.RemoteMasterKey, LocalMasterSalt: fuzzRTCPKeys.RemoteMasterSalt}
			ctx, err := srtp.CreateContext(local.LocalMasterKey, local.LocalMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := ctx.EncryptRTP(nil, b, nil)
			if err != nil {
				return // not RTP: nothing to encrypt
			}
			b = enc
		}
		took := routes.take(b, ap, 0)
		if took && !isRTP(b) {
			t.Fatal("took a datagram that is not RTP")
		}
		if routes.read.Load() > 0 && !encrypt {
			t.Fatal("read an unencrypted packet")
		}
		if took && binary.BigEndian.Uint32(b[8:12]) != 1 {
			t.Fatal("took a packet of a stream not read here")
		}
	})
}

// TestTakeoverAfterAWrap: a stream whose sequence number wrapped between the packet
// the takeover started from (read through Pion) and the first read here is decrypted
// with the rollover counter the sender used, and one from before the takeover is left
// to Pion.
func TestTakeoverAfterAWrap(t *testing.T) {
	routes, ap := newFuzzRTPIn(t, 65533)
	sender, err := srtp.CreateContext(fuzzRTCPKeys.RemoteMasterKey, fuzzRTCPKeys.RemoteMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	var sealed [][]byte
	for seq := uint16(65530); seq != 3; seq++ { // 65530 … 65535, 0, 1, 2: the sender's rollover is 1 from 0 on
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, SSRC: 1}, Payload: []byte{1, 2, 3}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if b, err = sender.EncryptRTP(nil, b, nil); err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, b)
	}
	if routes.take(bytes.Clone(sealed[1]), ap, 0) { // 65531: before the takeover
		t.Fatal("a packet from before the takeover was taken")
	}
	for _, b := range sealed[7:] { // 1 and 2, after the wrap
		if !routes.take(b, ap, 0) {
			t.Fatal("a packet after the takeover was not taken")
		}
	}
	if routes.read.Load() != 2 || routes.refused.Load() != 0 {
		t.Fatalf("%d read and %d refused, want 2 and 0", routes.read.Load(), routes.refused.Load())
	}
}

// TestRetakenStreamKeepsItsCounter: a stream that wrapped while one layer read it, then
// stopped and was taken up again by a new layer under the same SSRC (a screen shared
// a second time on the same transceiver: Pion makes a new track, the browser keeps
// the SSRC, its sequence numbers and its rollover counter) is read with the counter
// the sender uses, not the one a new stream would start from, and an old packet
// replayed then is refused; for the profile the SFU opens itself (AES-GCM) and one
// Pion's context opens. With the first, an SSRC that starts again from a new counter
// is read too, as before.
func TestRetakenStreamKeepsItsCounter(t *testing.T) {
	for _, profile := range []srtp.ProtectionProfile{srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAes128CmHmacSha1_80} {
		first := &layer{takenAt: 100}
		routes, ap := newTestRTPInProfile(t, webrtc.RTPCodecTypeVideo, first, profile)
		p := routes.lookup(ap).p
		newSender := func() func(seq uint16) []byte {
			keys := testRTPKeys(profile)
			sender, err := srtp.CreateContext(keys.RemoteMasterKey, keys.RemoteMasterSalt, profile)
			if err != nil {
				t.Fatal(err)
			}
			return func(seq uint16) []byte {
				b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, SSRC: 1}, Payload: []byte{1, 2, 3}}).Marshal()
				if err != nil {
					t.Fatal(err)
				}
				if b, err = sender.EncryptRTP(nil, b, nil); err != nil {
					t.Fatal(err)
				}
				return b
			}
		}
		seal := newSender()
		var old []byte
		var seq uint16
		// The first share: from 100 through two wraps (the sender's counter is 2 at the end).
		for i := 0; i < 2*65536+500; i += 1000 {
			seq = uint16(100 + i)
			b := seal(seq)
			if i == 0 {
				continue // the takeover's packet, read by Pion
			}
			if !routes.take(b, ap, 0) {
				t.Fatalf("%v: packet %d not taken", profile, seq)
			}
			old = b
		}
		if routes.refused.Load() != 0 {
			t.Fatalf("%v: the first layer had %d packets refused", profile, routes.refused.Load())
		}
		retake := func(takenAt uint16) *layer {
			p.indexLayer(p.layerBySSRC(1), true)
			l := &layer{up: first.up, ssrc: 1, takenAt: takenAt}
			p.indexLayer(l, false)
			return l
		}
		// The share stops, and starts again on the same transceiver.
		last := seq + 1 // where the sequence goes on
		seal(last)      // the new layer's takeover packet, read by Pion
		retake(last)
		read := routes.read.Load()
		for s := last + 1; s != last+101; s++ {
			routes.take(seal(s), ap, 0)
		}
		if n := routes.read.Load() - read; n != 100 || routes.refused.Load() != 0 {
			t.Fatalf("%v: the re-taken stream: %d of 100 read, %d refused", profile, n, routes.refused.Load())
		}
		if !routes.take(old, ap, 0) || routes.refused.Load() != 1 {
			t.Fatalf("%v: a replayed packet of the first share was not refused", profile)
		}
		if profile != srtp.ProtectionProfileAeadAes128Gcm {
			continue // Pion's context keeps the SSRC's replay window, as Pion's session does
		}
		// The SSRC again, from a new start (a new counter).
		seal = newSender()
		seal(30000)
		retake(30000)
		read = routes.read.Load()
		for seq := uint16(30001); seq <= 30100; seq++ {
			routes.take(seal(seq), ap, 0)
		}
		if n := routes.read.Load() - read; n != 100 {
			t.Fatalf("%v: the SSRC from a new start: %d of 100 read", profile, n)
		}
	}
}

// timerLog records what a layer's tail watch does with its timer: a Reset as its
// wait, a Stop as -1.
type timerLog struct{ set []time.Duration }

func (d *timerLog) Now() time.Time           { return time.Unix(1_000_000, 0) }
func (d *timerLog) Reset(wait time.Duration) { d.set = append(d.set, wait) }
func (d *timerLog) Stop()                    { d.set = append(d.set, -1) }

// TestTailTimerWaitsForTheBatchEnd: a frame whose packets the socket reader gets in
// one read batch, its last included, never sets the tail watch's timer (a timer set
// and stopped left one that woke the idle server when it would have passed); a frame
// whose last packet is not in the batch gets it when the batch is done, and loses it
// with the last packet.
func TestTailTimerWaitsForTheBatchEnd(t *testing.T) {
	log := &timerLog{}
	routes, ap := newTestRTPIn(t, webrtc.RTPCodecTypeVideo, &layer{takenAt: 1, tailTimer: log})
	enc, err := srtp.CreateContext(fuzzRTCPKeys.RemoteMasterKey, fuzzRTCPKeys.RemoteMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	seq := uint16(1)
	send := func(ts uint32, marker bool) {
		t.Helper()
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 1, Marker: marker}, Payload: []byte{0x10, 1, 2, 3}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		seq++
		if b, err = enc.EncryptRTP(nil, b, nil); err != nil {
			t.Fatal(err)
		}
		if !routes.take(b, ap, 0) {
			t.Fatal("the reader did not take the packet")
		}
	}

	send(100, false)
	send(100, false)
	send(100, true)
	routes.batchDone()
	if len(log.set) != 0 {
		t.Fatalf("a frame read whole in one batch set the timer: %v", log.set)
	}

	send(200, false)
	send(200, false)
	if len(log.set) != 0 {
		t.Fatalf("timer set within the batch: %v", log.set)
	}
	routes.batchDone()
	if len(log.set) != 1 || log.set[0] <= 0 {
		t.Fatalf("after the batch of an unfinished frame: timer %v, want it set once", log.set)
	}
	routes.batchDone() // a batch with nothing of this stream
	send(200, true)
	routes.batchDone()
	if len(log.set) != 2 || log.set[1] != -1 {
		t.Fatalf("the frame's last packet: timer %v, want it stopped", log.set)
	}
	if routes.read.Load() != 6 {
		t.Fatalf("read %d packets, want 6", routes.read.Load())
	}
}
