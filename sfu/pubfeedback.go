package sfu

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

// pubFeedback is what the SFU tells a publisher about the packets that reach it:
// transport-wide congestion control feedback every twccInterval, from which the
// browser's bandwidth estimate (and so its choice of simulcast layers and bitrates)
// follows, and a receiver report per stream every rrInterval (loss, jitter and the
// delay since its last sender report, for its round-trip time).
//
// The feedback's timer runs every twccInterval only while there is something to
// acknowledge: a tick that finds nothing sets the next for the receiver reports'
// cadence, and the next packet numbered for transport-cc brings the short one back
// (received). A publisher that sends nothing (camera off, microphone muted), or whose
// client numbers nothing, wakes the server once a second instead of ten times.
//
// Pion's interceptors did this before, and cost per packet what the SFU does not need
// to pay: the transport-cc interceptor handed every packet to a goroutine of its own
// over a channel, and both parsed the packet's header again. Here the packet's reader
// records it (one short lock, one clock read) and the engine's timers send; with the
// packets read in the media socket's reader (rtpin.go) there is no Pion reader to
// interpose on at all.
//
// One pubFeedback per publish connection: transport-cc sequence numbers count the
// packets of all its streams together.
type pubFeedback struct {
	now   func() time.Time
	after func(time.Duration, func()) func() bool
	write func([]rtcp.Packet) error

	mu      sync.Mutex
	start   time.Time // transport-cc arrival times count from it
	twcc    *twcc.Recorder
	streams map[uint32]*rrStream
	lastRR  time.Time
	ssrc    uint32 // the SFU's, as sender of the feedback
	stop    func() bool
	stopped bool
	slow    bool // the pending tick is a receiver report's, not twccInterval away
}

const (
	// twccInterval is how often transport-cc feedback goes back: Pion's default,
	// and what browsers' estimators are built for (libwebrtc sends every 50–250 ms).
	twccInterval = 100 * time.Millisecond
	// rrInterval is how often receiver reports go back.
	rrInterval = time.Second
)

func newPubFeedback(now func() time.Time, after func(time.Duration, func()) func() bool, write func([]rtcp.Packet) error) *pubFeedback {
	ssrc := rand.Uint32()
	f := &pubFeedback{now: now, after: after, write: write, start: now(), twcc: twcc.NewRecorder(ssrc),
		streams: make(map[uint32]*rrStream), ssrc: ssrc}
	f.lastRR = f.start
	f.mu.Lock()
	f.stop = after(untilNext(f.start, twccInterval), f.tick)
	f.mu.Unlock()
	return f
}

// close stops the timer; nothing is sent after it returns.
func (f *pubFeedback) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	if f.stop != nil {
		f.stop()
	}
}

// addStream starts the report of a stream (a track's layer) that arrives with ssrc.
func (f *pubFeedback) addStream(ssrc, clockRate uint32) *rrStream {
	s := &rrStream{ssrc: ssrc, clockRate: float64(clockRate)}
	f.mu.Lock()
	f.streams[ssrc] = s
	f.mu.Unlock()
	return s
}

// removeStream ends the report of s.
func (f *pubFeedback) removeStream(s *rrStream) {
	f.mu.Lock()
	if f.streams[s.ssrc] == s {
		delete(f.streams, s.ssrc)
	}
	f.mu.Unlock()
}

// received records one packet of s that arrived at now; tcc is its transport-cc
// header extension's payload (nil without one).
func (f *pubFeedback) received(s *rrStream, seq uint16, ts uint32, tcc []byte, now time.Time) {
	since := now.Sub(f.start)
	f.mu.Lock()
	if len(tcc) >= 2 {
		f.twcc.Record(s.ssrc, binary.BigEndian.Uint16(tcc), since.Microseconds())
		if f.slow && !f.stopped && f.stop() { // a tick already running sees the packet
			f.stop, f.slow = f.after(untilNext(now, twccInterval), f.tick), false
		}
	}
	s.received(seq, ts, since)
	f.mu.Unlock()
}

// senderReport notes the arrival of the publisher's sender report for s.
func (f *pubFeedback) senderReport(s *rrStream, ntp uint64, now time.Time) {
	f.mu.Lock()
	s.lsr, s.lsrAt = uint32(ntp>>16), now
	f.mu.Unlock()
}

// tick sends what is due and schedules the next.
func (f *pubFeedback) tick() {
	now := f.now()
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return
	}
	var pkts []rtcp.Packet
	if now.Sub(f.lastRR) >= rrInterval && len(f.streams) > 0 {
		f.lastRR = now
		rr := &rtcp.ReceiverReport{SSRC: f.ssrc}
		for _, s := range f.streams {
			if len(rr.Reports) == 31 { // the most one report carries
				pkts = append(pkts, rr)
				rr = &rtcp.ReceiverReport{SSRC: f.ssrc}
			}
			if s.started {
				rr.Reports = append(rr.Reports, s.report(now))
			}
		}
		if len(rr.Reports) > 0 {
			pkts = append(pkts, rr)
		}
	}
	wait, slow := untilNext(now, twccInterval), false
	if f.twcc.PacketsHeld() > 0 {
		pkts = append(pkts, f.twcc.BuildFeedbackPacket()...)
	} else {
		// Nothing to acknowledge: the next tick is when the next receiver report is
		// due, on the same grid; received brings the short one back.
		due := f.lastRR.Add(rrInterval)
		if len(f.streams) == 0 {
			due = now.Add(rrInterval)
		}
		if d := ceilTo(due, twccInterval).Sub(now); d > wait {
			wait, slow = d, true
		}
	}
	f.stop, f.slow = f.after(wait, f.tick), slow
	f.mu.Unlock()
	if len(pkts) > 0 {
		_ = f.write(pkts)
	}
}

// ceilTo is t, or the first multiple of every (on the Unix clock) after it.
func ceilTo(t time.Time, every time.Duration) time.Time {
	return t.Add((every - time.Duration(t.UnixNano()%int64(every))) % every)
}

// rrStream is one stream's reception statistics, as RFC 3550 §6.4.1 and its
// appendices A.3 and A.8 define them. Guarded by its pubFeedback's mu.
type rrStream struct {
	ssrc      uint32
	clockRate float64

	started  bool
	base     uint32 // the extended sequence number of the first packet
	max      uint16 // the highest sequence number
	cycles   uint32 // wrap-arounds of max, times 65536
	count    uint32 // packets received (retransmissions too, as the RFC counts)
	expPrior uint32 // expected and received at the last report
	recPrior uint32
	arrival  float64 // of the latest in-order packet, in timestamp units
	ts       uint32  // and its timestamp
	jitter   float64 // in timestamp units
	lsr      uint32  // the middle of the latest sender report's NTP time
	lsrAt    time.Time
}

// maxDropout is a forward jump of the sequence number that is taken for a restart of
// the stream rather than for loss (RFC 3550 A.1).
const maxDropout = 3000

func (s *rrStream) received(seq uint16, ts uint32, since time.Duration) {
	arrival := since.Seconds() * s.clockRate
	if !s.started {
		s.started, s.base, s.max, s.cycles, s.count = true, uint32(seq), seq, 0, 1
		s.expPrior, s.recPrior = 0, 0
		s.arrival, s.ts = arrival, ts
		return
	}
	s.count++
	switch d := seq - s.max; {
	case d == 0 || d >= 1<<15:
		return // a duplicate or an older packet (a retransmission): counted, no jitter
	case d > maxDropout:
		// A restart: count from here.
		s.started = false
		s.received(seq, ts, since)
		return
	}
	if seq < s.max {
		s.cycles += 1 << 16
	}
	s.max = seq
	// Jitter only between packets in order: a retransmission's transit says nothing
	// about the network's variation.
	// The difference of two transit times (RFC 3550 A.8), the timestamps' taken as a
	// signed 32-bit difference so that their wrap-around does not count.
	d := arrival - s.arrival - float64(int32(ts-s.ts))
	s.arrival, s.ts = arrival, ts
	if d < 0 {
		d = -d
	}
	s.jitter += (d - s.jitter) / 16
}

// report is the stream's reception report now, and starts the next interval.
func (s *rrStream) report(now time.Time) rtcp.ReceptionReport {
	ext := s.cycles + uint32(s.max)
	expected := ext - s.base + 1
	lost := int64(expected) - int64(s.count)
	lost = min(max(lost, 0), 0x7fffff)
	expInterval := expected - s.expPrior
	lostInterval := int64(expInterval) - int64(s.count-s.recPrior)
	s.expPrior, s.recPrior = expected, s.count
	var fraction uint8
	if expInterval > 0 && lostInterval > 0 {
		fraction = uint8(min(lostInterval<<8/int64(expInterval), 255))
	}
	var delay uint32
	if !s.lsrAt.IsZero() {
		delay = uint32(now.Sub(s.lsrAt).Seconds() * 65536)
	}
	return rtcp.ReceptionReport{
		SSRC:               s.ssrc,
		FractionLost:       fraction,
		TotalLost:          uint32(lost),
		LastSequenceNumber: ext,
		Jitter:             uint32(s.jitter),
		LastSenderReport:   s.lsr,
		Delay:              delay,
	}
}
