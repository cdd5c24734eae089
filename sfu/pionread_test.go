package sfu

import (
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

// payloadTypeChanger is a publisher's interceptor that sends the packet numbered seq
// (when set: seq+1, 0 for none) under payload type pt, as a modified client may:
// Pion's track writer puts the negotiated one on every packet.
type payloadTypeChanger struct {
	interceptor.NoOp
	seq atomic.Uint32
	pt  uint8
}

func (c *payloadTypeChanger) NewInterceptor(string) (interceptor.Interceptor, error) { return c, nil }

func (c *payloadTypeChanger) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if s := c.seq.Load(); s != 0 && uint16(s-1) == h.SequenceNumber {
			h.PayloadType = c.pt
		}
		return w.Write(h, payload, a)
	})
}

// TestUnknownPayloadTypeOnPionsPathEndsNoTrack: a publish connection whose SRTP stays on
// Pion's path (its handshake's keys not seen: the socket reader does not read it)
// sends one packet under a payload type it did not negotiate. Pion's track reader
// reports that packet as an error (ErrCodecNotFound); the layer's reader drops it,
// counts it, and reads on, so the packets after it still reach the subscriber and
// the track stays published. A reader that stopped at it ended the track for everyone.
func TestUnknownPayloadTypeOnPionsPathEndsNoTrack(t *testing.T) {
	changer := &payloadTypeChanger{pt: 100} // the server negotiates 96 and 111 only
	r := newChangerRig(t, changer)
	r.onPionsPathOnly()
	r.unnegotiatedIsDropped(changer)
}

// newChangerRig is a media rig whose publisher sends through changer.
func newChangerRig(t *testing.T, changer *payloadTypeChanger) *mediaRig {
	t.Helper()
	m := defaultMediaEngine(t)
	reg := &interceptor.Registry{}
	reg.Add(changer)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(testPeerSettings()))
	return newMediaRigAPIs(t, api, testPeerAPI(t))
}

// onPionsPathOnly lets the publish connection go from the socket reader, as one whose
// keys were not seen (startPublishSRTP gave up): nothing registered for the socket
// reader, every packet on Pion's path; it returns once such a packet reached the
// subscriber.
func (r *mediaRig) onPionsPathOnly() {
	t := r.t
	t.Helper()
	p := r.pubP
	p.routeMu.Lock()
	from := p.pubFrom
	r.eng.pubRTP.move(&p.pubFrom, netip.AddrPort{}, p.pubIn)
	r.eng.pubTCP.move(&p.pubTCPFrom, netip.AddrPort{}, p.pubIn)
	p.pubIn = nil
	p.routeMu.Unlock()
	if !from.IsValid() || r.eng.pubRTP.lookup(from) != nil {
		t.Fatalf("the publish connection's address %v is still the socket reader's", from)
	}
	var pion uint16
	sent := false
	conntest.Eventually(t, "a packet on Pion's path at the subscriber", func() bool {
		if sent && r.sub.has(pion) {
			return true
		}
		pion, sent = r.pub.send(), true
		return false
	})
}

// unnegotiatedIsDropped has the publisher send one packet under changer's payload
// type and a genuine one after it: the genuine one reaches the subscriber, the other
// does not and is counted once (PacketsUnnegotiatedType), and the track stays
// published.
func (r *mediaRig) unnegotiatedIsDropped(changer *payloadTypeChanger) {
	t := r.t
	t.Helper()
	before := r.eng.Stats().PacketsUnnegotiatedType
	bad := r.pub.next()
	changer.seq.Store(uint32(bad) + 1)
	r.pub.write(bad)
	after := r.pub.send()
	conntest.Eventually(t, "the packet after the one of an unknown payload type at the subscriber", func() bool {
		return r.sub.has(after)
	})
	if r.sub.has(bad) {
		t.Errorf("the packet of payload type %d, not negotiated for the stream, reached the subscriber", changer.pt)
	}
	// The layer's one reader (either path) took the packet before the one after it.
	if got := r.eng.Stats().PacketsUnnegotiatedType - before; got != 1 {
		t.Errorf("PacketsUnnegotiatedType grew by %d, want 1", got)
	}
	p := r.pubP
	p.mu.Lock()
	var up *upTrack
	for _, u := range p.ups {
		up = u
	}
	p.mu.Unlock()
	if up == nil || up.ended() {
		t.Error("the track ended")
	}
}
