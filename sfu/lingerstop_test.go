package sfu

import (
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

// TestLingerStopsWithTheHandshakesReading: as the DTLS server of its own subscribe
// connection the server answers the peer's retransmitted last flight until the peer's
// first SRTCP or its connection's close, or for dtlsLinger at most; the wait of
// dtlsLinger on the engine's clock ends with the reading, either way. Its stop was
// thrown away, so every such connection kept a wait of 30 s after its handshake was
// over (on a test's fake clock until the clock was moved, when it stopped a peer long
// stopped). The engine's waits run on a fake clock that is never moved: the
// handshakes' bounds (dtlsHandshakeTimeout, the publish connection's and the
// subscribe connection's) and the linger, of the same length, are counted together.
func TestLingerStopsWithTheHandshakesReading(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(r *mediaRig)
	}{
		{"the peer's first SRTCP", func(r *mediaRig) {
			if err := r.sub.pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1}}); err != nil {
				t.Fatal(err)
			}
		}},
		{"the connection's close", func(r *mediaRig) { r.subP.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testPeerSettings()
			if err := s.SetAnsweringDTLSRole(webrtc.DTLSRoleClient); err != nil {
				t.Fatal(err)
			}
			// No interceptors: the peer sends RTCP only when the test does.
			subAPI := webrtc.NewAPI(webrtc.WithSettingEngine(s), webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
			waits := &handshakeWaits{}
			r := newMediaRigAPIs(t, testPeerAPI(t), subAPI, withOwnSubscribe, waits.option)
			seq := r.pub.send()
			conntest.Eventually(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
			conntest.Eventually(t, "both handshakes over, the linger armed", func() bool {
				armed, stopped := waits.counts()
				return armed == 3 && stopped == 2
			})
			select {
			case <-r.subP.own.dtls.done:
				t.Fatal("the server stopped reading before the peer's SRTCP or the close")
			default:
			}
			tc.end(r)
			// The reading stops with or without the linger's wait; the wait is stopped
			// before it does (dtlsPeer.stop), so it is judged at once, and a wait left
			// armed fails here, not at conntest.Wait.
			conntest.Eventually(t, "the reading stopped", func() bool {
				select {
				case <-r.subP.own.dtls.done:
					return true
				default:
					return false
				}
			})
			if armed, stopped := waits.counts(); armed != 3 || stopped != 3 {
				t.Fatalf("the reading stopped, its linger's wait not: %d armed, %d stopped, want 3 and 3", armed, stopped)
			}
		})
	}
}
