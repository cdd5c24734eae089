package sfu

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The Pion peers of the media rig (mediarig_test.go): a publisher that sends the
// sequence numbers a test chooses and records the SFU's RTCP, a subscriber that records
// what arrives, and a subscriber's socket that loses packets.

// lossyConn loses every nth RTP packet it receives (never STUN, DTLS or RTCP), like
// a subscriber's lossy downlink.
type lossyConn struct {
	net.PacketConn
	every int
	mu    sync.Mutex
	n     int
	lost  int
}

func (c *lossyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || n < 2 || b[0]>>6 != 2 || (b[1] >= 192 && b[1] <= 223) {
			return n, addr, err
		}
		c.mu.Lock()
		c.n++
		drop := c.n%c.every == 0
		if drop {
			c.lost++
		}
		c.mu.Unlock()
		if !drop {
			return n, addr, err
		}
	}
}

// lossySubscriberAPI is a subscriber like a browser's: it NACKs what it misses (Pion's
// generator), behind a link that loses one RTP packet in every.
func lossySubscriberAPI(t *testing.T, every int) (*webrtc.API, *lossyConn) {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	gen, err := nack.NewGeneratorInterceptor(nack.GeneratorInterval(20 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	reg.Add(gen)
	raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn := &lossyConn{PacketConn: raw, every: every}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { _ = mux.Close() })
	s := testPeerSettings()
	s.SetICEUDPMux(mux)
	// The tests send far faster than real media (hundreds of packets in a fraction of a
	// second), so a retransmission can land more than 64 packets behind the newest,
	// outside Pion's SRTP replay window, and be refused there rather than by the SFU.
	s.DisableSRTPReplayProtection(true)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(s)), conn
}

// testPublisher sends VP8-shaped RTP with sequence numbers the test chooses, keeps what
// it sent, and records the RTCP the SFU sends back.
type testPublisher struct {
	t      *testing.T
	pc     *webrtc.PeerConnection
	track  *webrtc.TrackLocalStaticRTP
	ssrc   uint32
	seq    uint16
	mu     sync.Mutex
	sent   map[uint16]*rtp.Packet
	nacks  map[uint16]int // times each packet was asked for
	plis   int
	answer func(seq uint16) bool // whether to resend a NACKed packet
}

// testSubscriber records the sequence numbers and sender reports it receives.
type testSubscriber struct {
	pc    *webrtc.PeerConnection
	mu    sync.Mutex
	track *webrtc.TrackRemote
	got   map[uint16]int
	srs   []rtcp.SenderReport
	// onPacket, when set, sees each packet's header extensions (under mu).
	onPacket func(ext func(id uint8) []byte)
}

func (s *testSubscriber) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *testSubscriber) has(seq uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[seq] > 0
}

func (s *testSubscriber) readRTCP(recv *webrtc.RTPReceiver) {
	for {
		pkts, _, err := recv.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok {
				s.mu.Lock()
				s.srs = append(s.srs, *sr)
				s.mu.Unlock()
			}
		}
	}
}

// send sends the next packet and returns its sequence number.
func (p *testPublisher) send() uint16 {
	seq := p.next()
	p.write(seq)
	return seq
}

// skip takes the next sequence number without sending it: a packet lost on the way.
func (p *testPublisher) skip() uint16 { return p.next() }

// frame makes the next n packets one frame (one timestamp, the marker on the last) and
// sends those send says to; it returns their sequence numbers.
func (p *testPublisher) frame(n int, send func(i int) bool) []uint16 {
	seqs := make([]uint16, n)
	for i := range seqs {
		seqs[i] = p.next()
		p.mu.Lock()
		h := &p.sent[seqs[i]].Header
		h.Timestamp = uint32(seqs[0]) * 3000
		h.Marker = i == n-1
		p.mu.Unlock()
		if send(i) {
			p.write(seqs[i])
		}
	}
	return seqs
}

func (p *testPublisher) next() uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	seq := p.seq
	// Delta frames, so that a subscriber's stream starts with the live packets: a
	// cached keyframe would be replayed to it first (replay.go).
	p.sent[seq] = &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true},
		Payload: []byte{0x10, 0x01, 0x00, 0x9d, 0x01, 0x2a, byte(seq)},
	}
	return seq
}

func (p *testPublisher) write(seq uint16) {
	p.mu.Lock()
	pkt := p.sent[seq]
	p.mu.Unlock()
	if err := p.track.WriteRTP(pkt); err != nil {
		p.t.Errorf("write: %v", err)
	}
}

func (p *testPublisher) readRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication:
				p.mu.Lock()
				p.plis++
				p.mu.Unlock()
			case *rtcp.TransportLayerNack:
				for _, pair := range pkt.Nacks {
					for _, seq := range pair.PacketList() {
						p.mu.Lock()
						p.nacks[seq]++
						resend := p.sent[seq] != nil && p.answer(seq)
						p.mu.Unlock()
						if resend {
							p.write(seq)
						}
					}
				}
			}
		}
	}
}

func (p *testPublisher) nacksFor(seq uint16) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nacks[seq]
}

func (p *testPublisher) pliCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.plis
}
