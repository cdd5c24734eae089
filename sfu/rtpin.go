package sfu

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// rtpIn reads a publish connection's SRTP itself, in the media socket's reader, and
// hands each packet to its layer (layer.receive) there: the packets that every
// subscriber's copy comes from no longer climb Pion's receive path (the UDP mux's
// connection, the ICE candidate's read loop, the DTLS/SRTP demux, the SRTP session's
// read loop and the track's buffer: four goroutines woken per packet before the
// fan-out starts). The profile of a ten-person meeting put the publishers' read
// loops at an eighth of the server's time and the scheduler at a fifth.
//
// Pion keeps what it is needed for: the first packets of a stream, by which it tells
// the track and simulcast layer a new SSRC belongs to (the RID header extension), go
// its way until the layer's Pion reader has read one and indexed the SSRC (layer.run);
// the publisher's RTCP (sender reports) stays on its path, as does a connection
// whose handshake was not seen. Over ICE-TCP the connection's reader serves the
// packets instead of the socket's (pubtcp.go).
//
// The keys are the remote half of what dtlsKeys derives, which needs the server to be
// the DTLS server: publish connections answer as such (newPublishConnection). Pion's
// SRTP session and the reader here count each stream's rollovers separately; the one
// here starts from the sequence number of the first packet the layer's Pion reader had
// (layer.takenAt), so it knows whether the stream wrapped since, unless it read the
// stream before (a layer taken up again: openFirst). The AES-GCM profiles,
// the ones browsers negotiate, are opened by the SFU's own gcmOpener (srtpopen.go);
// the others, and cryptex, by a Pion context of the same keys.
type rtpIn struct {
	p   *Participant
	mu  sync.Mutex    // what follows, should the socket be read by two goroutines
	ctx *srtp.Context // the publisher's (remote) keys
	// gcm opens the AES-GCM profiles (srtpopen.go) until cryptex is set: the
	// publisher's first packet in cryptex's form (RFC 9335) hands every stream to
	// ctx, which opens both forms.
	gcm     *gcmOpener
	cryptex bool
	hdr     rtp.Header
	// spare holds a re-taken stream's first packet while it is opened with the
	// counter this reader knew (openFirst): a failed AES-GCM open overwrites it.
	spare []byte
	// strangers are the SSRCs of this connection's packets that no layer had when
	// they came and that went to Pion (admit): at most maxStrangerSSRCs.
	strangers []uint32
}

// maxStrangerSSRCs bounds the streams a publish connection hands to Pion that are not
// (yet) a layer's. A stream's first packets go to Pion, which tells the track and layer
// by them; a publisher has a few at a time (a camera's three layers, a microphone, a
// screen), each a stranger only until its layer reads it. Pion keeps state for every
// SSRC it is shown (an SRTP read stream, and for an SSRC of a RID it already has it
// points the track at the new stream and keeps the old), about 5 KB, for the
// connection's life: a publisher sending under ever new SSRCs, one packet each, would
// grow the server without bound. Beyond the bound, packets of yet another SSRC are
// dropped and counted (PublisherRTPStrangers).
const maxStrangerSSRCs = 16

// srtpReplayWindow is the replay window of Pion's SRTP session.
const srtpReplayWindow = replayBits

func newRTPIn(p *Participant, keys srtp.SessionKeys, profile srtp.ProtectionProfile) (*rtpIn, error) {
	// Cryptex (RFC 9335, encrypted header extensions) is taken when the publisher
	// uses it: Pion negotiates it, and browsers may.
	ctx, err := srtp.CreateContext(keys.RemoteMasterKey, keys.RemoteMasterSalt, profile,
		srtp.SRTPReplayProtection(srtpReplayWindow), srtp.Cryptex(srtp.CryptexModeEnabled))
	if err != nil {
		return nil, errors.Join(errSRTPProfile, err)
	}
	in := &rtpIn{p: p, ctx: ctx}
	if gcmProfile(profile) {
		if in.gcm, err = newGCMOpener(keys.RemoteMasterKey, keys.RemoteMasterSalt); err != nil {
			return nil, errors.Join(errSRTPProfile, err)
		}
	}
	return in, nil
}

// rtpRoutes are the publish connections whose SRTP the SFU reads itself.
type rtpRoutes struct {
	addrRoutes[rtpIn]
	tails     tailList      // the media socket reader's
	strangers atomic.Uint64 // packets dropped by admit: a layer moved, or SSRCs beyond maxStrangerSSRCs
}

// tailList is a reader's layers whose tail watch a packet of its current read batch
// armed (tailloss.go): their timer is set when the batch is done, if the frame's
// last packet did not come in it.
type tailList struct {
	mu sync.Mutex
	ls []*layer
}

func (t *tailList) add(l *layer) {
	t.mu.Lock()
	t.ls = append(t.ls, l)
	t.mu.Unlock()
}

// isRTP tells RTP from RTCP, DTLS and STUN on one socket (RFC 7983): version 2, not a
// packet type of RTCP, and a whole fixed header.
func isRTP(b []byte) bool {
	return len(b) >= 12 && b[0]>>6 == 2 && !isRTCP(b)
}

// take serves b if it is the SRTP of a stream read here, and reports whether it did;
// it may decrypt b in place. A datagram of such a stream that fails to decrypt is
// dropped and counted, as Pion's session would drop it. A stream not (yet) registered
// goes to Pion. at is when the kernel received it (0: not known).
func (r *rtpRoutes) take(b []byte, ap netip.AddrPort, at int64) bool {
	return r.takeFor(b, ap, at, &r.tails)
}

// takeFor is take for a reader whose read batches tails lists.
func (r *rtpRoutes) takeFor(b []byte, ap netip.AddrPort, at int64, tails *tailList) bool {
	if !isRTP(b) {
		return false
	}
	in := r.lookup(ap)
	if in == nil {
		return false
	}
	ssrc := binary.BigEndian.Uint32(b[8:12])
	l := in.p.layerBySSRC(ssrc)
	if l == nil {
		if in.admit(b, ssrc) {
			return false
		}
		r.strangers.Add(1)
		return true
	}
	wait, err := in.serve(b, l, at)
	switch err {
	case nil:
		r.read.Add(1)
		if wait {
			tails.add(l)
		}
	case errNotYet:
		return false
	default:
		r.refused.Add(1)
	}
	return true
}

// rebindsLayer is the simulcast layer read under another SSRC whose mid and RID b, a
// packet under an SSRC no layer of p reads (its header in the clear), names; nil if
// none. That is the publisher moving a layer to a new SSRC, which browsers never do (a
// layer's SSRC is its transceiver's for life). Pion would point the layer's track at
// the new stream (pion/webrtc v4.2.26's RTPReceiver.receiveForRid, racing with the
// track's reader) and keep the old one's state; so such a packet never reaches it. It
// takes no lock and allocates nothing.
func (p *Participant) rebindsLayer(b []byte) *layer {
	m := p.pubBySSRC.Load()
	if m == nil {
		return nil
	}
	for _, l := range *m {
		if l.rid == "" || l.ridID == 0 || l.midID == 0 {
			continue
		}
		if rid, ok := findExtension(b, l.ridID); !ok || string(rid) != l.rid {
			continue
		}
		if mid, ok := findExtension(b, l.midID); ok && string(mid) == l.mid {
			return l
		}
	}
	return nil
}

// admit reports whether b, a packet under ssrc, which no layer of the connection
// reads, may go to Pion: not if it names a layer read under another SSRC (rebindsLayer,
// every packet: Pion looks for the mid and RID in a stream's first packets, and in its
// padding for as long as it lasts), and while fewer than maxStrangerSSRCs other SSRCs
// went to Pion; one that was ever a layer's gives up its place (also once that layer
// has ended). With cryptex (RFC 9335) the mid and RID are sealed, and the bound alone
// holds such packets.
func (in *rtpIn) admit(b []byte, ssrc uint32) bool {
	if in.p.rebindsLayer(b) != nil {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if slices.Contains(in.strangers, ssrc) {
		return true
	}
	if len(in.strangers) == maxStrangerSSRCs {
		in.strangers = slices.DeleteFunc(in.strangers, in.p.wasIndexed)
	}
	if len(in.strangers) == maxStrangerSSRCs {
		return false
	}
	in.strangers = append(in.strangers, ssrc)
	return true
}

// errNotYet: the packet is older than the one the stream's takeover started from;
// Pion's context decrypts it.
var errNotYet = errors.New("sfu: packet from before the takeover")

// batchDone sets the timer of every tail watch that a packet of the batch armed and
// none disarmed. A frame that came whole in one batch (a burst, or packets that queued
// while the server was busy) so never sets one: a timer set and stopped again stayed
// in Go's heap and woke the idle server twice at the time it would have passed.
func (r *rtpRoutes) batchDone() { r.tails.batchDone() }

func (t *tailList) batchDone() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, l := range t.ls {
		l.rx.Lock()
		l.tailBatchEnded()
		l.rx.Unlock()
		t.ls[i] = nil
	}
	t.ls = t.ls[:0]
}

// serve decrypts b in place and hands the packet to l. wait reports that the packet
// armed l's tail watch, whose timer is for the batch's end (batchDone). at is when
// the kernel received it (0: not known).
func (in *rtpIn) serve(b []byte, l *layer, at int64) (wait bool, err error) {
	in.mu.Lock()
	var plain []byte
	if l.taken {
		plain, err = in.open(b, l, false, 0)
	} else if plain, err = in.openFirst(b, l); err == nil {
		l.taken = true
	}
	in.mu.Unlock()
	if err != nil {
		return false, err
	}
	l.rx.Lock()
	l.receive(plain, true, at) // copies plain out of the read batch
	wait = l.tailWaitsForBatch()
	l.rx.Unlock()
	return wait, nil
}

// openFirst opens the first packet of l's stream read here. Its rollover counter is
// the one that follows from the sequence number the takeover started at (Pion's
// context had rollover 0 there, having seen the stream from its start a few packets
// earlier), unless this reader has read the connection's stream under that SSRC
// before: a transceiver that sends again after a pause (a screen shared a second
// time) keeps its SSRC, and its sequence numbers and counter go on from where they
// were, past any number of wraps. Then the state kept here is tried first, and its
// replay window kept; the takeover's counter only if that fails (an SSRC taken up
// again from a new start). Under in.mu.
func (in *rtpIn) openFirst(b []byte, l *layer) ([]byte, error) {
	seq := binary.BigEndian.Uint16(b[2:4])
	if int16(seq-l.takenAt) < 0 {
		return nil, errNotYet
	}
	var roc uint32
	if seq < l.takenAt {
		roc = 1
	}
	if in.knows(l.ssrc) {
		in.spare = append(in.spare[:0], b...)
		if plain, err := in.open(b, l, false, 0); err == nil {
			return plain, nil
		}
		copy(b, in.spare)
	}
	if in.gcm == nil || in.cryptex {
		in.ctx.SetROC(l.ssrc, roc)
	}
	return in.open(b, l, true, roc)
}

// knows reports whether the stream under ssrc was opened here before.
func (in *rtpIn) knows(ssrc uint32) bool {
	if in.gcm != nil && !in.cryptex {
		return in.gcm.ids.find(ssrc) >= 0
	}
	_, ok := in.ctx.ROC(ssrc)
	return ok
}

// open decrypts b, a packet of l's stream, in place: by the opener, or by Pion's
// context once the publisher sent cryptex (and for the profiles the opener does not
// handle). first says b is the first packet of the layer read here, opened with the
// takeover's rollover counter roc (openFirst); otherwise the stream's state here
// tells it. Under in.mu.
func (in *rtpIn) open(b []byte, l *layer, first bool, roc uint32) ([]byte, error) {
	if in.gcm == nil || in.cryptex {
		return in.ctx.DecryptRTP(b, b, &in.hdr)
	}
	hdrLen, err := in.hdr.Unmarshal(b)
	if err != nil {
		return nil, err
	}
	if in.hdr.Extension && (in.hdr.ExtensionProfile == rtp.CryptexProfileOneByte || in.hdr.ExtensionProfile == rtp.CryptexProfileTwoByte) {
		return in.openCryptex(b, l, first)
	}
	seq := in.hdr.SequenceNumber
	if first {
		return in.gcm.openFirst(b, hdrLen, l.ssrc, seq, roc)
	}
	plain, err := in.gcm.open(b, hdrLen, l.ssrc, seq)
	if errors.Is(err, errSRTPUnknownStream) {
		// A layer some other reader took over: a publish connection's DTLS, and so its
		// reader, starts once, so never yet; from counter 0, as Pion's context would.
		return in.gcm.openFirst(b, hdrLen, l.ssrc, seq, 0)
	}
	return plain, err
}

// openCryptex opens a packet in cryptex's form (RFC 9335) with Pion's context and, if
// it is authentic, leaves every stream to that context from now on, each starting
// from the rollover counter of its highest packet opened here. Until a packet is
// authentic nothing changes but the context's counter for its stream (which the
// opener's state tells again at the next try): a forged one cannot move the
// connection. Browsers send cryptex from a connection's first packet, so the
// hand-over comes before the opener has a stream; one handed over across a sequence
// number wrap would start a counter behind, and the context's replay window starts
// from the first packet it opens.
func (in *rtpIn) openCryptex(b []byte, l *layer, first bool) ([]byte, error) {
	if i := in.gcm.ids.find(l.ssrc); i >= 0 && !first {
		in.ctx.SetROC(l.ssrc, uint32(in.gcm.streams[i].index>>16))
	}
	plain, err := in.ctx.DecryptRTP(b, b, &in.hdr)
	if err != nil {
		return nil, err
	}
	in.cryptex = true
	for i, ssrc := range in.gcm.ids.ssrcs {
		if ssrc != l.ssrc {
			in.ctx.SetROC(ssrc, uint32(in.gcm.streams[i].index>>16))
		}
	}
	return plain, nil
}

// layerBySSRC is the layer whose stream is read here under ssrc, nil if none. It takes
// no lock: the socket reader calls it.
func (p *Participant) layerBySSRC(ssrc uint32) *layer {
	if m := p.pubBySSRC.Load(); m != nil {
		return (*m)[ssrc]
	}
	return nil
}

// indexLayer adds l under its SSRC, or removes it if it is still there (gone).
func (p *Participant) indexLayer(l *layer, gone bool) {
	p.ssrcMu.Lock()
	defer p.ssrcMu.Unlock()
	var old map[uint32]*layer
	if m := p.pubBySSRC.Load(); m != nil {
		old = *m
	}
	if gone && old[l.ssrc] != l {
		return
	}
	next := make(map[uint32]*layer, len(old)+1)
	for s, x := range old {
		next[s] = x
	}
	if gone {
		delete(next, l.ssrc)
	} else {
		next[l.ssrc] = l
		if p.indexed == nil {
			p.indexed = make(map[uint32]struct{})
		}
		p.indexed[l.ssrc] = struct{}{}
	}
	p.pubBySSRC.Store(&next)
}

// wasIndexed reports whether a layer of p was ever read under ssrc.
func (p *Participant) wasIndexed(ssrc uint32) bool {
	p.ssrcMu.Lock()
	defer p.ssrcMu.Unlock()
	_, ok := p.indexed[ssrc]
	return ok
}
