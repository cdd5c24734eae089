package sfu

import (
	"fmt"
	"testing"

	"github.com/pion/webrtc/v4"
)

// BenchmarkEndingMeetingsSectionRemovals is what a meeting's end costs the subscribe
// connections the server runs itself: n members, each subscribed to the camera of
// every other, leave one after another (as each session lets go of its media after
// its bye), and each departure takes its camera out of every connection still open.
// That is n²/2 removals; each looked through its connection's sections for the track,
// n of them, so the end was n³ in the members. Reported per removal, which stays flat
// in n when a removal finds its section at once.
func BenchmarkEndingMeetingsSectionRemovals(b *testing.B) {
	for _, n := range []int{10, 50, 100} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			var removals int
			for range b.N {
				b.StopTimer()
				subs, downs := subscribedSections(n)
				b.StartTimer()
				for i := range n { // member i leaves
					for j := i + 1; j < n; j++ {
						subs[j].removeTrack(downs[j][i])
						removals++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(removals), "ns/removal")
		})
	}
}

// subscribedSections makes n subscribe connections of the server's own, each with a
// section for the camera of every other member: downs[j][i] is member i's camera at
// member j (nil for j == i).
func subscribedSections(n int) ([]*ownSub, [][]*downTrack) {
	cams := make([]*upTrack, n)
	for i := range cams {
		cams[i] = &upTrack{kind: webrtc.RTPCodecTypeVideo}
	}
	subs := make([]*ownSub, n)
	downs := make([][]*downTrack, n)
	for j := range subs {
		subs[j] = &ownSub{}
		downs[j] = make([]*downTrack, n)
		for i, up := range cams {
			if i == j {
				continue
			}
			d := &downTrack{up: up}
			subs[j].addTrack(d)
			downs[j][i] = d
		}
	}
	return subs, downs
}
