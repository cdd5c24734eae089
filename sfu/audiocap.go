package sfu

import "time"

// An audio track is forwarded to every subscriber ahead of all video (sendqueue.go),
// and the bandwidth allocation takes what it measures off each subscriber's budget
// before any video (alloc.go: audio is never cut). A publisher whose client sends far
// more under its microphone than any Opus encoder makes would so take every
// subscriber's link: their video paused by the allocation, the other members' audio
// lost behind the flood at the subscribers' bottlenecks, and the server's fan-out
// spent on it. So what an audio stream may have forwarded is bounded by what Opus can
// be: RFC 6716's highest rate is 510 kbit/s, and the SFU's answer asks for at least
// 10 ms a packet (minptime=10), at most 100 packets a second, each with its RTP header,
// its extensions and the end-to-end encryption's 30 bytes (e2ee/FORMAT.md): about
// 71,000 bytes a second. The bound is a token bucket of RTP bytes on the engine's clock, with
// a second of it to spare for packets that a stalled link delivers at once; each
// packet costs at least audioCapMinCost, so that the bound holds the packet rate too
// (the fan-out's cost is per packet). Packets beyond it are neither cached, forwarded
// nor measured for the allocation, and are counted (PacketsOverAudioRate); the
// publisher's feedback still sees them, so its uplink's estimate stays true.
const (
	// audioCapBytes is what an audio stream may have forwarded a second: 640 kbit/s,
	// above Opus's 510 kbit/s at 100 packets a second with all they carry besides.
	audioCapBytes = 80_000
	// audioCapBurst is the bucket's size: a second of audioCapBytes.
	audioCapBurst = audioCapBytes
	// audioCapMinCost is what a packet costs at least: 250 packets a second at most,
	// over twice what the answer lets an honest publisher send.
	audioCapMinCost = 320
)

// audioCap is an audio layer's bound; its zero value is full. It is taken from only
// under the layer's receive lock (layer.rx), so it has no lock of its own: the
// receive path takes no second one per packet.
type audioCap struct{ bucket tokens }

// take reports whether a packet of size bytes, arriving at now, may be forwarded.
// Under the layer's rx.
func (c *audioCap) take(now time.Time, size int) bool {
	return c.bucket.take(now, max(size, audioCapMinCost), audioCapBytes, audioCapBurst)
}
