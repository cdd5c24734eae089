package sfu

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"
)

// rtcpIn reads a subscribe connection's SRTCP itself, in the media socket's reader,
// instead of letting it climb Pion's receive path (the UDP mux's connection, the ICE
// candidate's read loop, the DTLS/SRTP demux, the SRTCP session's read loop, a read
// stream per SSRC, the congestion control interceptor and the track's RTCP goroutine:
// four goroutines woken per packet). A subscriber sends the server mostly RTCP
// (transport-cc feedback ten times a second, receiver reports, NACKs, keyframe
// requests), and at a hundred subscribers that is nine times as many packets as the
// publisher's media: the profile put Pion's receive path at about a seventh of the
// server's time, plus most of the scheduler's.
//
// The keys are the remote half of what dtlsKeys derived for the connection's own SRTP
// writer (srtpout.go); the replay window is the one Pion's SRTCP session uses. What
// the subscriber's feedback asks for is served exactly as the track's RTCP goroutine
// serves it (downTrack.handleRTCP), each packet given to the subscription it names,
// and transport-cc feedback to the connection's estimator.
type rtcpIn struct {
	p     *Participant
	now   func() time.Time // the engine's clock, for the budget
	mu    sync.Mutex       // the cipher, should the socket be read by two goroutines
	srtcp srtcpCipher      // the subscriber's (remote) keys
	seen  atomic.Bool      // a packet was served: the peer has its keys
	// budget bounds the work the peer's feedback asks of the socket reader in time
	// (feedbackBudget), as maxFeedbackStatuses and maxNackedPerDatagram bound it in
	// one datagram.
	budget feedbackBudget
}

// srtcpReplayWindow is the replay window of Pion's SRTCP session, and srtcpGCM's.
const srtcpReplayWindow = replayBits

func newRTCPIn(p *Participant, keys srtp.SessionKeys, profile srtp.ProtectionProfile, now func() time.Time) (*rtcpIn, error) {
	sc, err := newSRTCPCipher(keys.RemoteMasterKey, keys.RemoteMasterSalt, profile)
	if err != nil {
		return nil, err
	}
	return &rtcpIn{p: p, now: now, srtcp: sc}, nil
}

// addrRoutes maps the remote address of each connection whose packets the media
// socket's reader serves itself to what reads them (T: rtcpIn, rtpIn). Pion's UDP mux
// gives one remote address one connection, so an address names a connection; a
// datagram from an address not in the map goes to Pion as before.
type addrRoutes[T any] struct {
	mu sync.RWMutex
	m  map[netip.AddrPort]*T

	read, refused atomic.Uint64 // packets served; packets that failed to decrypt or parse
}

// set makes in the reader of what arrives from ap.
func (r *addrRoutes[T]) set(ap netip.AddrPort, in *T) {
	r.mu.Lock()
	if r.m == nil {
		r.m = make(map[netip.AddrPort]*T)
	}
	r.m[ap] = in
	r.mu.Unlock()
}

// clear forgets ap if in is still its reader (another connection may have it now).
func (r *addrRoutes[T]) clear(ap netip.AddrPort, in *T) {
	r.mu.Lock()
	if r.m[ap] == in {
		delete(r.m, ap)
	}
	r.mu.Unlock()
}

// move registers in for to instead of *from, which it updates (an invalid address:
// none).
func (r *addrRoutes[T]) move(from *netip.AddrPort, to netip.AddrPort, in *T) {
	if to == *from {
		return
	}
	if from.IsValid() {
		r.clear(*from, in)
	}
	*from = to
	if to.IsValid() {
		r.set(to, in)
	}
}

// lookup is the reader of what arrives from ap, nil if none.
func (r *addrRoutes[T]) lookup(ap netip.AddrPort) *T {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[ap]
}

// rtcpRoutes are the subscribe connections whose SRTCP the SFU reads itself; a
// datagram that is not RTCP goes to Pion.
type rtcpRoutes struct{ addrRoutes[rtcpIn] }

// isRTCP tells RTCP from RTP, DTLS and STUN on one socket (RFC 5761 §4, RFC 7983):
// version 2 and a packet type of 192–223.
func isRTCP(b []byte) bool {
	return len(b) >= 8 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223
}

// take serves b if it is the SRTCP of a subscribe connection read here, and reports
// whether it did; it may decrypt b in place. A datagram from such a connection's
// address that fails to decrypt or parse is dropped (and counted), as Pion's session
// would drop it: nothing else can have sent it from there.
func (r *rtcpRoutes) take(b []byte, ap netip.AddrPort) bool {
	if !isRTCP(b) {
		return false
	}
	in := r.lookup(ap)
	if in == nil {
		return false
	}
	if err := in.serve(b); err != nil {
		r.refused.Add(1)
	} else {
		r.read.Add(1)
	}
	return true
}

// serve decrypts b in place and hands out what it carries.
func (in *rtcpIn) serve(b []byte) error {
	in.mu.Lock()
	plain, err := in.srtcp.open(b)
	in.mu.Unlock()
	if err != nil {
		return err
	}
	if !in.seen.Load() && !in.seen.Swap(true) && in.p.own != nil {
		in.p.own.rtcpSeen()
	}
	statuses, asks := feedbackClaims(plain)
	if statuses > maxFeedbackStatuses {
		return errFeedbackTooLong
	}
	if n := feedbackWork(statuses, asks); n > 0 && !in.budget.take(in.now(), n) {
		return errFeedbackOverBudget
	}
	pkts, err := rtcp.Unmarshal(plain)
	if err != nil {
		return err
	}
	in.p.serveRTCP(pkts)
	return nil
}

// maxFeedbackStatuses bounds the packet statuses the transport-cc feedback of one
// datagram may claim. A browser's feedback reports the packets of tens of
// milliseconds; Pion's parser makes room for every status a packet claims (65535 in 40
// bytes of run-length chunks) before it finds the deltas missing, on the socket reader
// that reads every publisher's media too.
const maxFeedbackStatuses = 4096

var (
	errFeedbackTooLong    = errors.New("sfu: transport-cc feedback claims too many packets")
	errFeedbackOverBudget = errors.New("sfu: a subscriber's feedback asks for more work than its budget")
)

// feedbackClaims reads the headers of the compound RTCP packet b (up to the first
// that does not fit) for the work it asks of the reader: statuses, the packet status
// counts of its transport-cc feedback (RTPFB, FMT 15); asks, the sequence numbers its
// NACKs name (RTPFB, FMT 1; those past maxNackedPerDatagram are not looked at) and
// its keyframe requests (PLIs, and each entry of a FIR).
func feedbackClaims(b []byte) (statuses, asks int) {
	nacked := 0
	for len(b) >= 4 {
		size := 4 * (int(binary.BigEndian.Uint16(b[2:4])) + 1)
		if size > len(b) {
			break
		}
		switch kind := b[0] & 0x1f; {
		case b[1] == 205 && kind == 15 && size >= 16:
			statuses += int(binary.BigEndian.Uint16(b[14:16]))
		case b[1] == 205 && kind == 1:
			for fci := b[min(12, size):size]; len(fci) >= 4; fci = fci[4:] {
				nacked += 1 + bits.OnesCount16(binary.BigEndian.Uint16(fci[2:4]))
			}
		case b[1] == 206 && kind == 1:
			asks++
		case b[1] == 206 && kind == 4 && size > 12:
			asks += (size - 12 + 7) / 8
		}
		b = b[size:]
	}
	return statuses, asks + min(nacked, maxNackedPerDatagram)
}

// A subscriber's feedback costs the socket reader, which reads every publisher's
// media too, work for each transport-cc status, NACKed sequence number and keyframe
// request it names, far more than for its bytes: a datagram of 96 bytes that claims
// 4096 statuses cost 32 µs, one of 136 bytes that NACKs 512 cached packets 66 µs
// (80 and 170 times the 0.4 µs of one that fails to decrypt), and a subscriber may
// send as many as it likes. So each connection has a budget of work in time, on the
// engine's clock: a NACKed number or a keyframe request is one unit of it, and
// statusesPerUnit statuses are one (a status costs some 8 ns, a NACKed number 130).
//
// Statuses are what an honest browser sends most of, and more than once: libwebrtc's
// receiver (Chromium, Firefox; remote_estimator_proxy.cc) reports again from any packet
// that arrives under a transport-wide number older than its last report, and every
// retransmission does, as it keeps the number it first went with (sentlog.go). On a
// lossy link each report then reaches back a round trip: at 2% loss and a 300 ms round
// trip some 6 statuses a packet, at 5% and 400 ms some 9 (TestHonestFeedbackIsServed);
// a member of a 25-person meeting gets some 2,000 to 3,000 packets a second (bweMax,
// 20 Mbit/s, is some 2,000 of video; everyone's audio up to 1,200 more). So 30,000
// statuses a second are honest, some 1,900 units, and the NACKs and keyframe requests
// far fewer: feedbackRate is several times that, and feedbackBurst is sixteen
// datagrams of NACKs at their bound (or 32 of statuses). A datagram beyond it is
// dropped whole, as one too long is. A hostile connection then costs the reader at
// most some 2 ms a second (16,384 NACKed numbers at 130 ns, or 262,144 statuses at 8).
const (
	feedbackRate    = 16384
	feedbackBurst   = 2 * maxFeedbackStatuses
	statusesPerUnit = 16
)

// feedbackWork is the units of the budget that a datagram claiming statuses and asks
// (feedbackClaims) costs.
func feedbackWork(statuses, asks int) int {
	return (statuses+statusesPerUnit-1)/statusesPerUnit + asks
}

// feedbackBudget is a token bucket of feedbackRate a second, feedbackBurst at most.
type feedbackBudget struct{ bucket tokenBucket }

// take spends n if the budget holds it at now.
func (f *feedbackBudget) take(now time.Time, n int) bool {
	return f.bucket.take(now, n, feedbackRate, feedbackBurst)
}

// serveRTCP serves a subscriber's compound RTCP packet: transport-cc feedback to the
// estimator, keyframe requests and NACKs to the subscription whose SSRC they name.
// Reports and anything else change nothing, as on Pion's path.
func (p *Participant) serveRTCP(pkts []rtcp.Packet) {
	if est := p.bw.est; est != nil {
		_ = est.WriteRTCP(pkts, nil)
	}
	budget := maxNackedPerDatagram
	for _, pkt := range pkts {
		switch pkt := pkt.(type) {
		case *rtcp.PictureLossIndication:
			if d := p.downBySSRC(pkt.MediaSSRC); d != nil {
				d.keyframeRequest()
			}
		case *rtcp.FullIntraRequest:
			for _, e := range pkt.FIR {
				if d := p.downBySSRC(e.SSRC); d != nil {
					d.keyframeRequest()
				}
			}
		case *rtcp.TransportLayerNack:
			if d := p.downBySSRC(pkt.MediaSSRC); d != nil {
				d.answerNack(pkt, &budget)
			}
		}
	}
}

// downBySSRC is the subscription sent with ssrc, nil if none. It takes no lock: the
// socket reader calls it.
func (p *Participant) downBySSRC(ssrc uint32) *downTrack {
	if m := p.bySSRC.Load(); m != nil {
		return (*m)[ssrc]
	}
	return nil
}

// indexSSRC adds d under ssrc (bound) or removes it if it is still d's (unbound).
func (p *Participant) indexSSRC(ssrc uint32, d *downTrack, bound bool) {
	p.indexSSRCs([]ssrcIndexed{{ssrc: ssrc, d: d, bound: bound}})
}

// ssrcIndexed is one change to the subscriber's RTCP index (indexSSRC's arguments).
type ssrcIndexed struct {
	ssrc  uint32
	d     *downTrack
	bound bool
}

// indexSSRCs makes the changes, in their order, in one copy of the index: an answer
// that binds a hundred tracks (a subscriber joining a meeting of a hundred) copies it
// once, not once a track, a hundred copies of up to a hundred entries under the
// connection's lock (ownSub.accept).
func (p *Participant) indexSSRCs(changes []ssrcIndexed) {
	p.ssrcMu.Lock()
	defer p.ssrcMu.Unlock()
	var old map[uint32]*downTrack
	if m := p.bySSRC.Load(); m != nil {
		old = *m
	}
	added := 0
	for _, c := range changes {
		if c.bound {
			added++
		}
	}
	if added == 0 && !slices.ContainsFunc(changes, func(c ssrcIndexed) bool { return old[c.ssrc] == c.d }) {
		return // nothing to remove: the index stays as it is
	}
	next := make(map[uint32]*downTrack, len(old)+added)
	for s, x := range old {
		next[s] = x
	}
	for _, c := range changes {
		if c.bound {
			next[c.ssrc] = c.d
		} else if next[c.ssrc] == c.d {
			delete(next, c.ssrc)
		}
	}
	p.bySSRC.Store(&next)
}
