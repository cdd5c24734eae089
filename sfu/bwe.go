package sfu

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/sdp/v3"
)

// Each subscriber's downlink bandwidth is estimated from the transport-cc feedback
// its subscribe connection returns (estimator.go), and allocated across what it shows
// (alloc.go). The estimate is read on a ticker of the engine's clock, every bweTick
// (at its multiples, as all the engine's tickers: untilNext).
// The allocation starts once the client's answer accepts transport-cc, at bweInitial:
// a link far slower than that must not first be flooded with the top layers, whose
// queueing delay would outlast the estimator's record of the packets sent and leave it
// blind. A client without transport-cc, or a test peer without it, is never limited.
const (
	bweTick = 500 * time.Millisecond
	// bweInitial is where the estimate starts: a camera's smallest layer and audio,
	// where browsers start their own (300 kbit/s). A start at the top layer (1.5 Mbit/s,
	// before the trains) overran every slow link for its first second, and its queue,
	// full by then, dropped audio for another; a start at the middle layer (600 kbit/s)
	// still overran a 300 kbit/s link for as long as the estimate took to see the queue
	// and the switch down to happen, and under load that filled the link's queue
	// (TestSubscriberBandwidth lost audio 2.3–3 s in). A fast link gets the rest from
	// the first trains (train.go): one may treble the estimate.
	bweInitial = 300_000
	// bweMin keeps a burst of loss (a Wi-Fi hiccup) from taking a subscriber that is
	// sent little below what audio and a small layer need: the estimate, once down,
	// grows back no faster than what arrives allows.
	bweMin = 100_000
	bweMax = 20_000_000
)

// bandwidth is a subscriber's estimate and its allocation.
type bandwidth struct {
	est       cc.BandwidthEstimator // nil: no congestion control (never limited)
	enabled   atomic.Bool           // the client's answer accepted transport-cc
	estimated atomic.Bool           // the estimator has moved: feedback arrives
	budget    atomic.Int64          // bits per second, as of the latest tick; 0: none yet
	alloc     atomic.Pointer[allocation]
	changed   chan struct{} // the downlink state changed (Downlink)

	mu         sync.Mutex
	stop       func() bool // the pending tick
	stopped    bool
	climb      climbGate
	train      trainSchedule
	lastBudget int64 // the budget of the latest allocation
	// starvedSince: since when the first tile's lowest layer has not fitted (alloc.go);
	// zero while it fits.
	starvedSince time.Time
	starveFell   bool     // the estimate fell since starvedSince (alloc.go)
	downlink     Downlink // the latest state
}

// startBWE takes the estimator made with the subscribe connection.
func (p *Participant) startBWE(est cc.BandwidthEstimator) {
	p.bw.changed = make(chan struct{}, 1)
	if est == nil {
		return
	}
	p.bw.est = est
	// Set before the connection exists, so before any feedback could call it.
	est.OnTargetBitrateChange(func(target int) {
		p.bw.estimated.Store(true)
		if b := p.bw.budget.Load(); b > 0 && int64(target) < b {
			p.tickNow()
		}
	})
}

// tickNow brings the next tick forward to now: a cut of the estimate is acted on at
// once rather than up to bweTick later, since every moment of sending more than the
// link carries loses packets, audio among them. (A tick, not the allocation itself:
// the estimator calls from the connection's RTCP goroutine, which must not wait for
// the allocation's locks.) A rise waits for its tick.
func (p *Participant) tickNow() {
	p.bw.mu.Lock()
	defer p.bw.mu.Unlock()
	if p.bw.stopped || p.bw.stop == nil || !p.bw.stop() {
		return // closed, not started, or the tick is running already
	}
	p.bw.stop = p.room.engine.after(0, p.onBWETick)
}

// bweNegotiated starts the ticker once an answer accepts transport-cc: a subscriber
// whose client sends no feedback costs no timer.
func (p *Participant) bweNegotiated(answer string) {
	if p.bw.est == nil || !strings.Contains(answer, sdp.TransportCCURI) || p.bw.enabled.Swap(true) {
		return
	}
	p.bw.mu.Lock()
	defer p.bw.mu.Unlock()
	if !p.bw.stopped {
		p.bw.stop = p.room.engine.after(0, p.onBWETick)
	}
}

// stopBWE ends the ticker.
func (p *Participant) stopBWE() {
	p.bw.mu.Lock()
	defer p.bw.mu.Unlock()
	p.bw.setLimited(&p.room.engine.stats, false)
	p.bw.stopped = true
	if p.bw.stop != nil {
		p.bw.stop()
		p.bw.stop = nil
	}
}

// onBWETick reads the estimate and allocates it.
func (p *Participant) onBWETick() {
	p.bw.mu.Lock()
	if p.bw.stopped {
		p.bw.mu.Unlock()
		return
	}
	p.bw.stop = p.room.engine.after(untilNext(p.room.engine.now(), bweTick), p.onBWETick)
	p.bw.mu.Unlock()
	p.bw.budget.Store(int64(p.bw.est.GetTargetBitrate()))
	p.reallocate()
}

// setLimited keeps the engine's gauge of limited subscribers; under mu.
func (b *bandwidth) setLimited(c *counters, limited bool) {
	switch {
	case limited && !b.downlink.Limited:
		c.bandwidthLimited.Add(1)
	case !limited && b.downlink.Limited:
		c.bandwidthLimited.Add(-1)
	}
	b.downlink.Limited = limited
}

// BandwidthLimited reports whether the subscriber's estimated bandwidth does not cover
// the video it shows (monitoring).
func (p *Participant) BandwidthLimited() bool {
	p.bw.mu.Lock()
	defer p.bw.mu.Unlock()
	return p.bw.downlink.Limited
}

// DownlinkTrack is one shown tile the subscriber's bandwidth affects.
type DownlinkTrack struct {
	ParticipantID string
	Source        Source
	State         string // DownlinkReduced or DownlinkPaused
}

// The states of a tile that bandwidth affects (PROTOCOL.md, "downlink").
const (
	DownlinkReduced = "reduced"
	DownlinkPaused  = "paused"
)

// Downlink is what the subscriber's bandwidth does to the video it shows.
type Downlink struct {
	Limited bool
	Tracks  []DownlinkTrack // sorted by participant and source
}

func (a Downlink) equal(b Downlink) bool {
	if a.Limited != b.Limited || len(a.Tracks) != len(b.Tracks) {
		return false
	}
	for i := range a.Tracks {
		if a.Tracks[i] != b.Tracks[i] {
			return false
		}
	}
	return true
}

// DownlinkChanged fires when Downlink changed; it starts as not limited, so nothing
// fires before the first estimate that limits the subscriber.
func (p *Participant) DownlinkChanged() <-chan struct{} { return p.bw.changed }

// Downlink is the latest state.
func (p *Participant) Downlink() Downlink {
	p.bw.mu.Lock()
	defer p.bw.mu.Unlock()
	d := p.bw.downlink
	d.Tracks = append([]DownlinkTrack(nil), d.Tracks...)
	return d
}

// tilePriority orders tiles of the same size in the allocation: higher first. The
// video of the dominant speaker comes first, then the last few dominant speakers, most
// recent first (speakers.go); everyone else after them, equal. With speaker detection
// off every tile is equal.
func (p *Participant) tilePriority(up *upTrack) int {
	if p.room == nil {
		return 0
	}
	if rank := p.room.speakerRank(up.owner.id); rank >= 0 {
		return recentSpeakers + 1 - rank
	}
	return 0
}
