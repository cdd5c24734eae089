package sfu

import "time"

// Each layer's bitrate is measured for the bandwidth allocation (bwe.go): the reader
// adds every packet's size to the layer's byte count (one atomic add, no clock read),
// and the liveness ticker (live.go), on the engine's clock, keeps the count at its
// latest ticks and divides what arrived over the last rateWindow by the time it took.
// A layer that stops keeps a falling rate until the window has passed (one paused by
// the SFU keeps its last); the first window's rate is known one tick after the layer
// starts.
const (
	rateSlots  = 9 // readings kept: rateSlots-1 ticks of liveTick make the window
	rateWindow = (rateSlots - 1) * liveTick
)

// rateMeter is a layer's readings; only the ticker touches it (under liveness.mu).
type rateMeter struct {
	total [rateSlots]uint64
	at    [rateSlots]int64 // Unix nanoseconds of the engine's clock
	next  int              // the slot the next reading goes to
	n     int              // readings held
}

// add keeps the reading (total bytes at now) and returns the bitrate over the readings
// held, bits per second; 0 before two readings.
func (m *rateMeter) add(total uint64, now int64) int64 {
	m.total[m.next], m.at[m.next] = total, now
	m.next = (m.next + 1) % rateSlots
	if m.n < rateSlots {
		m.n++
	}
	if m.n < 2 {
		return 0
	}
	oldest := (m.next - m.n + rateSlots) % rateSlots
	dt := now - m.at[oldest]
	if dt <= 0 {
		return 0
	}
	return int64(float64(total-m.total[oldest]) * 8 * float64(time.Second) / float64(dt))
}

// measureRates is the ticker's part: each layer's bitrate as of now. A layer the
// publisher was asked to pause keeps the rate it had, so the allocation knows what
// asking for it again would cost.
func (u *upTrack) measureRates(now int64) {
	paused := u.enc.paused.Load()
	for i := range u.layers {
		if l := u.layers[i].Load(); l != nil {
			r := l.rate.add(l.bytes.Load(), now)
			if paused&(1<<i) == 0 {
				l.bitrate.Store(r)
			}
			if l.rate.n >= 2 && !l.rated.Load() {
				l.rated.Store(true)
			}
		}
	}
}
