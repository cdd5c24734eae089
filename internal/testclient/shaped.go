package testclient

import (
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// UseDownlinkLimit puts the client's next subscribe connection behind a link that
// carries at most bitsPerSecond of RTP towards it, as a slow DSL line or a busy Wi-Fi
// would: a token bucket (bursts of a few packets) drops what exceeds it. STUN, DTLS and
// RTCP pass untouched, so the connection itself is not at risk. Call it before Join.
func (c *Client) UseDownlinkLimit(bitsPerSecond int) error {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return err
	}
	raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	conn := &policedConn{PacketConn: raw, rate: float64(bitsPerSecond) / 8, burst: 4000}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	s := loopbackSettings(webrtc.NetworkTypeUDP4)
	s.SetICEUDPMux(mux)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s))
	c.mu.Lock()
	c.api = api
	c.closers = append(c.closers, mux.Close)
	c.mu.Unlock()
	return nil
}

// policedConn drops RTP it reads beyond its token bucket (rate and burst in bytes).
type policedConn struct {
	net.PacketConn
	rate, burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func (c *policedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || n < 2 || b[0]>>6 != 2 || (b[1] >= 192 && b[1] <= 223) {
			return n, addr, err
		}
		if c.take(n) {
			return n, addr, err
		}
	}
}

func (c *policedConn) take(n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.last.IsZero() {
		c.tokens = c.burst
	} else {
		c.tokens = min(c.burst, c.tokens+now.Sub(c.last).Seconds()*c.rate)
	}
	c.last = now
	if c.tokens < float64(n) {
		return false
	}
	c.tokens -= float64(n)
	return true
}
