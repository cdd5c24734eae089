package sfu

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

const (
	vnetCap     = 300_000
	vnetLifted  = 3_000_000
	vnetFPS     = 25
	vnetKeyGap  = 3 * vnetFPS // frames between keyframes
	vnetPayload = 1000        // bytes per video packet at most
)

// vnetRates are the layers' rates in bits per second, q h f: what Chromium sends of a
// 1280×720 camera (TESTING.md).
var vnetRates = [maxLayers]int{150_000, 350_000, 700_000}

func newVnetNet(t testing.TB, ip string) *vnet.Net {
	t.Helper()
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func vnetSettings(n *vnet.Net) webrtc.SettingEngine {
	var s webrtc.SettingEngine
	s.SetNet(n)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return s
}

type vnetRig struct {
	t      testing.TB
	eng    *Engine
	room   *Room
	pub    *vnetPublisher
	subs   []*vnetSubscriber
	tbfs   []*vnet.TBFQueue // each subscriber's link; nil: not limited
	links  []idealLink      // each link as configured, for idealDrops; rate 0: not limited
	logs   []*linkLog       // what the server offered each limited or logged link; nil: neither
	capped *vnetSubscriber  // of newVnetRig: subs[0], behind tbf
	free   *vnetSubscriber  // of newVnetRig: subs[1]
	tbf    *vnet.TBFQueue
	link   idealLink // the capped subscriber's, as configured
	log    *linkLog  // what the server offered the capped subscriber's link
	sends  bool      // the publisher runs (and must be halted)
}

// vnetLink is a subscriber of the rig: its id and the rate of its link in bits per
// second, 0 for no limit. What the server offers a limited link is recorded, and what
// it offers one without a limit when logged.
type vnetLink struct {
	id     string
	rate   int
	logged bool
}

// newVnetRig starts the engine, the publisher and two subscribers, the first behind a
// link of vnetCap, and waits until both receive video and audio.
func newVnetRig(t testing.TB) *vnetRig {
	t.Helper()
	r := newVnetRigLinks(t, []vnetLink{{id: "capped", rate: vnetCap}, {id: "free", logged: true}})
	r.capped, r.free, r.tbf, r.link, r.log = r.subs[0], r.subs[1], r.tbfs[0], r.links[0], r.logs[0]
	return r
}

// newVnetRigLinks starts the engine, the publisher and a subscriber for each link,
// all showing the camera in a large tile, and waits until each receives video and
// audio. The rig has room for 250 subscribers (one /24).
func newVnetRigLinks(t testing.TB, links []vnetLink) *vnetRig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: newPionLoggerFactory(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	srvNet, pubNet := newVnetNet(t, "10.0.0.1"), newVnetNet(t, "10.0.0.2")
	nics := []vnet.NIC{srvNet, pubNet}
	subNets := make([]*vnet.Net, len(links))
	var shaped []*vnet.Queue
	r := &vnetRig{t: t, tbfs: make([]*vnet.TBFQueue, len(links)), links: make([]idealLink, len(links)), logs: make([]*linkLog, len(links))}
	for i, l := range links {
		subNets[i] = newVnetNet(t, fmt.Sprintf("10.0.0.%d", 3+i))
		if l.rate == 0 {
			if l.logged {
				r.logs[i] = &linkLog{ip: net.ParseIP(fmt.Sprintf("10.0.0.%d", 3+i))}
				wan.AddChunkFilter(r.logs[i].filter)
			}
			nics = append(nics, subNets[i])
			continue
		}
		// A queue of about 0.85 s at the rate, which turns overuse into delay first,
		// as GCC expects, rather than into loss at once.
		r.links[i] = idealLink{rate: l.rate, burst: 4000, queue: l.rate * 32_000 / vnetCap}
		r.tbfs[i] = vnet.NewTBFQueue(l.rate, r.links[i].burst, int64(r.links[i].queue))
		r.logs[i] = &linkLog{ip: net.ParseIP(fmt.Sprintf("10.0.0.%d", 3+i))}
		wan.AddChunkFilter(r.logs[i].filter)
		q, err := vnet.NewQueue(subNets[i], r.tbfs[i])
		if err != nil {
			t.Fatal(err)
		}
		shaped = append(shaped, q)
		nics = append(nics, q)
	}
	for _, nic := range nics {
		if err := wan.AddNet(nic); err != nil {
			t.Fatal(err)
		}
	}
	if err := wan.Start(); err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(Config{UDPAddr: "10.0.0.1:10000", Net: srvNet})
	if err != nil {
		t.Fatal(err)
	}
	room := eng.NewRoom()
	r.eng, r.room = eng, room
	t.Cleanup(func() {
		if r.sends {
			r.pub.halt()
		}
		room.Close()
		_ = eng.Close()
		for _, q := range shaped {
			_ = q.Close()
		}
		_ = wan.Stop()
	})
	pubP, err := room.Join("pub")
	if err != nil {
		t.Fatal(err)
	}
	r.pub = newVnetPublisher(ctx, t, pubP, pubNet)
	for i, l := range links {
		r.subs = append(r.subs, newVnetSubscriber(ctx, t, room, l.id, subNets[i]))
	}
	r.sends = true
	go r.pub.run()
	tiles := []Tile{{ParticipantID: "pub", Source: SourceCamera, Width: 1280, Height: 720}}
	for _, s := range r.subs {
		s.p.SetView(tiles)
	}
	for _, s := range r.subs {
		conntest.Eventually(t, "video and audio at "+s.p.ID(), func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return len(s.video) > 0 && len(s.audio) > 0
		})
	}
	return r
}
