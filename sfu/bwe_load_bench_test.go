package sfu

import (
	"flag"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkBandwidthPerSubscriber is issue 15's 1 → 25 all-watching load: the rig of
// vnetrig_test.go with one publisher (three layers and audio) and many subscribers,
// each behind a link of its own whose rates spread from 200 kbit/s to 3 Mbit/s, some
// without a limit, all showing the camera in a large tile. It lets the estimates
// settle (until every subscriber is on the layer its link fits, at most
// -sfu.load-settle),
// then measures a window of loadWindow and reports what each subscriber received
// against its link. Everything runs on real time (GCC and vnet know no other clock),
// so the figures depend on the machine's load; nothing here is a test verdict.
//
//	go test ./sfu -run '^$' -bench BandwidthPerSubscriber -benchtime 1x -args -sfu.load-subscribers 25
var (
	loadSubscribers = flag.Int("sfu.load-subscribers", 25, "subscribers of BenchmarkBandwidthPerSubscriber")
	loadSettle      = flag.Duration("sfu.load-settle", 20*time.Second, "how long BenchmarkBandwidthPerSubscriber waits at most for the layers to settle")
)

const loadWindow = 10 * time.Second

// loadRates are the links' rates in bits per second, given out in turn; 0: no limit.
var loadRates = []int{200_000, 300_000, 500_000, 700_000, 1_000_000, 2_000_000, 3_000_000, 0}

// fittingLayer is the best layer whose nominal rate and audio's reserve fit a link of
// rate; q when none does (the only tile keeps its lowest layer).
func fittingLayer(rate int) int {
	if rate == 0 {
		return maxLayers - 1
	}
	l := 0
	for i, r := range vnetRates {
		if r+audioReserve <= rate {
			l = i
		}
	}
	return l
}

// loadMark is where a subscriber's record stood when the window opened.
type loadMark struct{ pkts, bytes int }

func (s *vnetSubscriber) mark() loadMark {
	s.mu.Lock()
	defer s.mu.Unlock()
	return loadMark{len(s.video), s.bytes}
}

// loadResult is one subscriber's window.
type loadResult struct {
	rate, want, layer int     // the link, the layer that fits it, the layer most received
	kbps, loss, audio float64 // video received; per cent of video lost; per cent of audio received
	estimate          int64   // the server's estimate at the window's end, bit/s
}

// window sums what s received since m: the video rate over d, the layer most of its
// packets were of, the share of video sequence numbers missing and audio continuity.
func (s *vnetSubscriber) window(m loadMark, d time.Duration) loadResult {
	now := s.mark()
	var res loadResult
	res.kbps = float64(now.bytes-m.bytes) * 8 / d.Seconds() / 1000
	res.loss, res.layer = 100, -1
	if now.pkts > m.pkts {
		lost, expected := s.videoLoss(m.pkts)
		res.loss = 100 * float64(lost) / float64(expected)
		var per [maxLayers]int
		s.mu.Lock()
		for _, p := range s.video[m.pkts:now.pkts] {
			if p.layer >= 0 && p.layer < maxLayers {
				per[p.layer]++
			}
		}
		s.mu.Unlock()
		for i := range per {
			if res.layer < 0 || per[i] > per[res.layer] {
				res.layer = i
			}
		}
	}
	got, span := s.audioContinuity()
	res.audio = 100 * float64(got) / float64(span)
	res.estimate = s.p.bw.budget.Load()
	return res
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

func BenchmarkBandwidthPerSubscriber(b *testing.B) {
	n := *loadSubscribers
	if n < 1 || n > 250 {
		b.Fatalf("-sfu.load-subscribers %d: want 1 to 250", n)
	}
	if *loadSettle < 0 || *loadSettle > 10*time.Minute {
		b.Fatalf("-sfu.load-settle %v: want 0 to 10m", *loadSettle)
	}
	links := make([]vnetLink, n)
	for i := range links {
		rate := loadRates[i%len(loadRates)]
		links[i] = vnetLink{id: fmt.Sprintf("s%02d-%dk", i, rate/1000), rate: rate}
		if rate == 0 {
			links[i].id = fmt.Sprintf("s%02d-free", i)
		}
	}
	for i := 0; i < b.N; i++ {
		r := newVnetRigLinks(b, links)
		settled := func() int {
			k := 0
			for j, s := range r.subs {
				want := fittingLayer(links[j].rate)
				if s.onLayer(want, 40*(want+1)) {
					k++
				}
			}
			return k
		}
		start := time.Now()
		for settled() < n && time.Since(start) < *loadSettle {
			time.Sleep(100 * time.Millisecond)
		}
		settle, settledAt := time.Since(start), settled()

		marks := make([]loadMark, n)
		for j, s := range r.subs {
			marks[j] = s.mark()
		}
		fwd0, opened := r.eng.Stats().BytesForwarded, time.Now()
		time.Sleep(loadWindow)
		d := time.Since(opened)
		fwd := float64(r.eng.Stats().BytesForwarded-fwd0) * 8 / d.Seconds() / 1e6
		res := make([]loadResult, n)
		for j, s := range r.subs {
			res[j] = s.window(marks[j], d)
			res[j].rate, res[j].want = links[j].rate, fittingLayer(links[j].rate)
		}
		r.pub.halt()
		r.sends = false
		reportLoad(b, res, settle, settledAt, fwd)
	}
}

// reportLoad logs each subscriber's window and reports the figures per class of link:
// the median video rate received; for the limited links the median of what was
// received against the link (recv/cap) and against the nominal rate of the layer that
// fits it (recv/fit: 1 is that layer), the share of them that received no more
// than the link (within-cap-%) and of those on the layer that fits (fit-%); loss and
// audio continuity over all.
func reportLoad(b *testing.B, res []loadResult, settle time.Duration, settled int, fwdMbps float64) {
	var ratios, fits, free, losses []float64
	byRate := map[int][]float64{}
	fit, within, capped := 0, 0, 0
	minAudio, maxLoss := 100.0, 0.0
	for _, r := range res {
		b.Logf("link %5d kbit/s: layer %d (fits %d), video %6.0f kbit/s, loss %5.2f %%, audio %6.2f %%, estimate %d kbit/s",
			r.rate/1000, r.layer, r.want, r.kbps, r.loss, r.audio, r.estimate/1000)
		losses = append(losses, r.loss)
		minAudio, maxLoss = min(minAudio, r.audio), max(maxLoss, r.loss)
		if r.rate == 0 {
			free = append(free, r.kbps)
			continue
		}
		capped++
		ratios = append(ratios, r.kbps*1000/float64(r.rate))
		fits = append(fits, r.kbps*1000/float64(vnetRates[r.want]))
		byRate[r.rate] = append(byRate[r.rate], r.kbps)
		if r.kbps*1000 <= float64(r.rate) {
			within++
			if r.layer == r.want {
				fit++
			}
		}
	}
	b.Logf("settled: %d of %d after %v; forwarded %.2f Mbit/s in all", settled, len(res), settle.Round(time.Millisecond), fwdMbps)
	for rate, kbps := range byRate {
		b.ReportMetric(median(kbps), fmt.Sprintf("kbps@%dk", rate/1000))
	}
	if len(free) > 0 {
		b.ReportMetric(median(free), "kbps@free")
	}
	if capped > 0 {
		b.ReportMetric(median(ratios), "recv/cap-median")
		b.ReportMetric(median(fits), "recv/fit-median")
		b.ReportMetric(100*float64(within)/float64(capped), "within-cap-%")
		b.ReportMetric(100*float64(fit)/float64(capped), "fit-%")
	}
	b.ReportMetric(median(losses), "loss-median-%")
	b.ReportMetric(maxLoss, "loss-max-%")
	b.ReportMetric(minAudio, "audio-min-%")
	b.ReportMetric(settle.Seconds(), "settle-s")
	b.ReportMetric(100*float64(settled)/float64(len(res)), "settled-%")
	b.ReportMetric(fwdMbps, "fwd-Mbps")
}
