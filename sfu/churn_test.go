package sfu

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
)

// held is what the engine keeps per connection, counted: none of it may outlive the
// connections it was made for.
func (e *Engine) held() map[string]int {
	n := map[string]int{}
	count := func(name string, f func() int) { n[name] = f() }
	count("subRTCP", func() int { e.subRTCP.mu.RLock(); defer e.subRTCP.mu.RUnlock(); return len(e.subRTCP.m) })
	count("pubRTP", func() int { e.pubRTP.mu.RLock(); defer e.pubRTP.mu.RUnlock(); return len(e.pubRTP.m) })
	count("pubTCP", func() int { e.pubTCP.mu.RLock(); defer e.pubTCP.mu.RUnlock(); return len(e.pubTCP.m) })
	count("lites", func() int { e.lites.mu.RLock(); defer e.lites.mu.RUnlock(); return len(e.lites.m) })
	count("litesByAddr", func() int { e.lites.mu.RLock(); defer e.lites.mu.RUnlock(); return len(e.lites.byAddr) })
	count("pubUfrags", func() int { e.pubUfrags.mu.Lock(); defer e.pubUfrags.mu.Unlock(); return len(e.pubUfrags.m) })
	count("queues", func() int { e.queues.mu.Lock(); defer e.queues.mu.Unlock(); return len(e.queues.live) })
	if e.tcpLimits != nil {
		n["tcpConns"], n["tcpGroups"] = e.tcpLimits.Held()
	}
	count("relays", e.relays.registered)
	return n
}

func heldNothing(n map[string]int) bool {
	for _, v := range n {
		if v != 0 {
			return false
		}
	}
	return true
}

// TestEngineForgetsClosedConnections: an engine that served many rooms — each ended
// another way: the room closed with everyone in it, its participants closing one by
// one, a subscriber that never answered, a publisher gone before ICE completed — holds
// no route, ICE agent, ufrag or queue of theirs, and no goroutine more than before.
func TestEngineForgetsClosedConnections(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run(map[bool]string{false: "udp", true: "tcp"}[tcp], func(t *testing.T) { engineForgets(t, tcp) })
	}
}

func engineForgets(t *testing.T, tcp bool) {
	var options []engineOption
	api := testPeerAPI(t)
	if tcp {
		options = append(options, func(_ *fakeclock.Clock, cfg *Config) { cfg.TCPAddr = "127.0.0.1:0" })
		m := &webrtc.MediaEngine{}
		if err := m.RegisterDefaultCodecs(); err != nil {
			t.Fatal(err)
		}
		se := testPeerSettings()
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
		api = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(se))
	}
	_, eng, warm := newClockedRoom(t, false, options...)
	warm.Close()
	baseline := goleak.IgnoreCurrent()

	const rounds = 8
	for i := range rounds {
		func() {
			ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
			defer cancel()
			room := eng.NewRoom()
			subP, err := room.Join("sub")
			if err != nil {
				t.Fatal(err)
			}
			pubP, err := room.Join("pub")
			if err != nil {
				t.Fatal(err)
			}
			pc, track, tr := newCameraSender(t, api)
			publishTo(ctx, t, pubP, pc, func() map[string]Source { return map[string]Source{tr.Mid(): SourceCamera} })
			if i%4 == 3 {
				// The publisher goes before its connection is up.
				_ = pc.Close()
				pubP.Close()
				subP.Close()
				room.Close()
				return
			}
			spc, err := api.NewPeerConnection(webrtc.Configuration{})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = spc.Close() }()
			got := make(chan struct{}, 1)
			spc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
				for {
					if _, _, err := tr.ReadRTP(); err != nil {
						return
					}
					select {
					case got <- struct{}{}:
					default:
					}
				}
			})
			answer := i%4 != 2 // else the subscriber never answers
			go func() {
				select {
				case <-subP.NegotiationNeeded():
				case <-ctx.Done():
					return
				}
				o, err := subP.NextSubscribeOffer(ctx)
				if err != nil || o == nil || !answer {
					return
				}
				if spc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP}) != nil {
					return
				}
				a, err := spc.CreateAnswer(nil)
				if err != nil {
					return
				}
				g := webrtc.GatheringCompletePromise(spc)
				if spc.SetLocalDescription(a) != nil {
					return
				}
				<-g
				_ = subP.AcceptSubscribeAnswer(spc.LocalDescription().SDP)
			}()
			seq := uint16(1)
			for answer {
				_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true},
					Payload: []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a}})
				seq++
				select {
				case <-got:
					answer = false
				case <-ctx.Done():
					t.Fatal("the subscriber never received the publisher's packets")
				case <-time.After(10 * time.Millisecond):
				}
			}
			t.Logf("round %d, connected: %v", i, eng.held())
			switch i % 2 {
			case 0:
				room.Close()
			case 1:
				pubP.Close()
				subP.Close()
				room.Close()
			}
			_ = pc.Close()
		}()
	}
	conntest.Eventually(t, "the engine to forget every connection", func() bool { return heldNothing(eng.held()) })
	// A publisher's check that reaches Pion's TCP mux just as its connection closes
	// (handed over while its ufrag was registered, taken by the mux after the agent
	// let go of its ufrag) leaves the mux a connection of its own for that ufrag, which
	// it closes after the agents' disconnect timeout (5 s, engine.go) on the system's
	// clock, well within the wait.
	conntest.GoroutinesEnd(t, baseline)
	if n := eng.held(); !heldNothing(n) {
		t.Fatal(fmt.Sprint(n))
	}
}
