package sfu

import (
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/pion/transport/v5/vnet"
)

// What a subscriber of the vnet rig loses is decided twice: by the server, which
// chooses what to send and when, and by vnet, whose router and token-bucket queue are
// goroutines like any other: on a machine short of CPU they run late, a bucket that
// waits wastes its tokens and a router that falls behind hands on a backlog at once,
// so the link carries less than its rate and drops what an ideal one would not. A
// verdict on the server therefore judges what it offered the link, recorded where
// the link begins (linkLog, a filter of the router), against an ideal token bucket of
// the link's rate, burst and queue (idealDrops): a packet that one would drop was
// sent beyond what the link carries, whatever the machine's speed.

// offeredPacket is one datagram the server offered a subscriber's link.
type offeredPacket struct {
	at   time.Time
	size int // bytes of UDP payload: what vnet's token bucket counts
	rtp  bool
	ssrc uint32
	seq  uint16
}

// linkLog records what enters a subscriber's link: every datagram the router
// forwards to its address. SRTP leaves the RTP header in the clear, so each media
// packet is known by its SSRC and sequence number.
type linkLog struct {
	ip      net.IP
	mu      sync.Mutex
	offered []offeredPacket
}

// filter is the router's chunk filter: it records and lets everything pass.
func (l *linkLog) filter(c vnet.Chunk) bool {
	if a, ok := c.DestinationAddr().(*net.UDPAddr); !ok || !a.IP.Equal(l.ip) {
		return true // not to the subscriber, or TCP (the rig has none)
	}
	b := c.UserData()
	p := offeredPacket{at: time.Now(), size: len(b)}
	// RTP version 2 with a media payload type (RTCP's types are 192–223, whose
	// second byte masked is 64–95).
	if len(b) >= 12 && b[0]>>6 == 2 && b[1]&0x7f >= 96 && b[1]&0x7f <= 127 {
		p.rtp, p.seq, p.ssrc = true, binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[8:])
	}
	l.mu.Lock()
	l.offered = append(l.offered, p)
	l.mu.Unlock()
	return true
}

// offeredFrom reports whether a packet of the stream ssrc with a sequence number of seq
// or later has entered the link.
func (l *linkLog) offeredFrom(ssrc uint32, seq uint16) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.offered {
		if p.rtp && p.ssrc == ssrc && int16(p.seq-seq) >= 0 {
			return true
		}
	}
	return false
}

func (l *linkLog) snapshot() []offeredPacket {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]offeredPacket(nil), l.offered...)
}

// idealLink is a token bucket as vnet's TBFQueue is configured: rate in bits per
// second, burst and queue in bytes; from liftedAt on (when set) the rate is lifted, as
// TBFQueue.SetRate changes it. A rate of 0 is a link without a limit, which drops
// nothing.
type idealLink struct {
	rate         int
	burst, queue int
	liftedAt     time.Time
	lifted       int
}

// rateAt is the link's rate at t.
func (l idealLink) rateAt(t time.Time) int {
	if !l.liftedAt.IsZero() && !t.Before(l.liftedAt) {
		return l.lifted
	}
	return l.rate
}

// idealDrops says which of the packets offered (in the order offered) the ideal link
// drops: a packet passes at once on the tokens at hand when nothing waits, else waits
// in a drop-tail queue of at most queue bytes that drains at the rate. The queue is
// taken as fluid (it drains between packets by the byte, not packet by packet), which
// lets through at most one packet more than vnet's would: the model errs towards the
// server.
//
// Between two packets across a lift the rate is taken as the later one's, which errs
// towards the server as well (by at most the tokens of one gap between packets).
func (l idealLink) idealDrops(offered []offeredPacket) []bool {
	drops := make([]bool, len(offered))
	if l.rate == 0 {
		return drops
	}
	var backlog, tokens float64 = 0, float64(l.burst)
	var last time.Time
	for i, p := range offered {
		if !last.IsZero() {
			avail := tokens + p.at.Sub(last).Seconds()*float64(l.rateAt(p.at))/8
			sent := min(backlog, avail)
			backlog -= sent
			tokens = min(float64(l.burst), avail-sent)
		}
		last = p.at
		size := float64(p.size)
		switch {
		case backlog == 0 && tokens >= size:
			tokens -= size
		case backlog+size > float64(l.queue):
			drops[i] = true
		default:
			backlog += size
		}
	}
	return drops
}

// overrun counts the packets of the stream ssrc with sequence numbers first to last
// (inclusive, as sent: the same number sent twice, a retransmission, is one packet
// that the link dropped only if it dropped every copy) that the server offered the
// link, and how many of them the ideal link dropped.
func (l idealLink) overrun(offered []offeredPacket, ssrc uint32, first, last uint16) (dropped, sent int) {
	drops := l.idealDrops(offered)
	passed := map[uint16]bool{}
	for i, p := range offered {
		if !p.rtp || p.ssrc != ssrc || int16(p.seq-first) < 0 || int16(last-p.seq) < 0 {
			continue
		}
		passed[p.seq] = passed[p.seq] || !drops[i]
	}
	for _, ok := range passed {
		if !ok {
			dropped++
		}
	}
	return dropped, len(passed)
}

// shortfall judges the stream ssrc by what the server offered the link: of its
// sequence numbers from the lowest offered to the later of the highest offered and
// through (the last one its publisher sent), how many the server never offered or
// the ideal link dropped (missing), and how many that span holds.
func (l idealLink) shortfall(offered []offeredPacket, ssrc uint32, through uint16) (missing, span int) {
	var lo, hi uint16
	found := false
	for _, p := range offered {
		if !p.rtp || p.ssrc != ssrc {
			continue
		}
		if !found || int16(p.seq-lo) < 0 {
			lo = p.seq
		}
		if !found || int16(p.seq-hi) > 0 {
			hi = p.seq
		}
		found = true
	}
	if !found {
		return 0, 0
	}
	if int16(through-hi) > 0 {
		hi = through
	}
	dropped, sent := l.overrun(offered, ssrc, lo, hi)
	span = int(uint16(hi-lo)) + 1
	return span - (sent - dropped), span
}
