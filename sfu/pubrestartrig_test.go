package sfu

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"
)

// The rig of TestPublisherICERestartThroughBurstyLoss (pubrestartloss_test.go):
// a Pion publisher of a simulcast camera and a microphone behind a bursty link
// (burstyConn, restartloss_test.go), and subscribers that watch.

// watcher is a subscriber that records every track it is given and every packet of
// each, with its payload, by SSRC and sequence number: the same sequence number of a
// stream with another payload is an SRTP nonce used twice.
type watcher struct {
	pc     *webrtc.PeerConnection
	mu     sync.Mutex
	tracks []string          // kind and SSRC of each track given, in order
	video  []simPacket       // the video track's packets, as they came
	audio  []uint32          // the audio packets' numbers (audioPayload), as they came
	seen   map[uint64][]byte // SSRC<<16 | sequence number → payload
	reused []string          // nonces used twice
}

func newWatcher(ctx context.Context, t *testing.T, p *Participant) *watcher {
	t.Helper()
	s := testPeerSettings()
	// Duplicates must reach the test: a repeated nonce shows only in them.
	s.DisableSRTPReplayProtection(true)
	pc := newPlainPeerWith(t, s)
	w := &watcher{pc: pc, seen: map[uint64][]byte{}}
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		w.mu.Lock()
		w.tracks = append(w.tracks, fmt.Sprintf("%s %08x", tr.Kind(), uint32(tr.SSRC())))
		w.mu.Unlock()
		go func() {
			for {
				if _, _, err := recv.ReadRTCP(); err != nil {
					return
				}
			}
		}()
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			w.mu.Lock()
			key := uint64(pkt.SSRC)<<16 | uint64(pkt.SequenceNumber)
			if prev, ok := w.seen[key]; ok && !bytes.Equal(prev, pkt.Payload) {
				w.reused = append(w.reused, fmt.Sprintf("%08x/%d", pkt.SSRC, pkt.SequenceNumber))
			} else if !ok {
				w.seen[key] = append([]byte(nil), pkt.Payload...)
			}
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				w.video = append(w.video, decodeSimPacket(pkt))
			} else if len(pkt.Payload) >= 5 {
				w.audio = append(w.audio, binary.BigEndian.Uint32(pkt.Payload[1:]))
			}
			w.mu.Unlock()
		}
	})
	// It answers every subscribe offer until the test ends.
	go func() {
		for ctx.Err() == nil {
			if err := answerSubscribeOffer(ctx, p, pc); err != nil {
				return
			}
		}
	}()
	return w
}

// state is a copy of what w got.
func (w *watcher) state() (tracks []string, video []simPacket, audio []uint32, reused []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.tracks...), append([]simPacket(nil), w.video...),
		append([]uint32(nil), w.audio...), append([]string(nil), w.reused...)
}

// hasFrame reports whether w got a packet of the publisher's frame.
func (w *watcher) hasFrame(frame uint32) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.video {
		if p.frame == frame {
			return true
		}
	}
	return false
}

func (w *watcher) hasAudio(n uint32) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.audio {
		if a == n {
			return true
		}
	}
	return false
}

// restartPublisher is a simulcast camera (simPublisher's three layers) and a
// microphone on one Pion connection whose socket is conn.
type restartPublisher struct {
	*simPublisher
	mic   *webrtc.TrackLocalStaticRTP
	micN  uint32
	micTS uint32
	micSq uint16
	cam   *webrtc.RTPTransceiver
	micT  *webrtc.RTPTransceiver
}

func newRestartPublisher(t *testing.T, conn net.PacketConn) *restartPublisher {
	t.Helper()
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { _ = mux.Close() })
	s := testPeerSettings()
	s.SetICEUDPMux(mux)
	// A check every 100 ms on the selected pair (a browser's come every 2.5 s or so):
	// the test waits for answers to checks sent after the late ones.
	s.SetICETimeouts(time.Hour, time.Hour, 100*time.Millisecond)
	// Pion gives a pair up after 8 checks without an answer (1.6 s), and with it the
	// restart: through 40 % of loss each way, 8 checks in a row went unanswered in
	// about one run in twenty, and the publisher never checked again. A browser checks
	// a pair for longer (libwebrtc: at least 5 pings and 5 s without an answer); so
	// does the rig's publisher (5 s).
	s.SetICEMaxBindingRequests(25)
	pc := newPlainPeerWith(t, s, webrtc.ConfigureSimulcastExtensionHeaders)
	p := &restartPublisher{simPublisher: &simPublisher{t: t, pc: pc, sent: map[uint32]int{}}, micSq: 3000, micTS: 77_000}
	cam, _ := addSimulcastCamera(t, pc, func(i int, track *webrtc.TrackLocalStaticRTP) {
		p.newLayer(i, track)
		p.keyParts[i] = 3
	})
	var err error
	if p.mic, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "pub"); err != nil {
		t.Fatal(err)
	}
	mic, err := pc.AddTransceiverFromTrack(p.mic, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, _, err := mic.Sender().ReadRTCP(); err != nil {
				return
			}
		}
	}()
	p.cam, p.micT = cam, mic
	return p
}

// sources are the mids the offer gave the camera and the microphone.
func (p *restartPublisher) sources() map[string]Source {
	return map[string]Source{p.cam.Mid(): SourceCamera, p.micT.Mid(): SourceMicrophone}
}

// publish makes the connection's first offer and applies the server's answer; conn
// keeps every check the publisher sends with the server's credentials of it.
func (p *restartPublisher) publish(ctx context.Context, pp *Participant, conn *burstyConn) {
	p.t.Helper()
	answer := publishOffer(ctx, p.t, pp, p.pc, nil, func(o string) string { return o }, p.sources)
	conn.keep(sdpUfrag(answer))
	applyAnswer(p.t, p.pc, answer)
	p.useSender(p.cam, p.cam.Sender())
}

// restart has the publisher offer an ICE restart through Publish, as a browser
// whose connection stalled does, its offer as edit makes it, and applies the answer;
// the server's new ufrag.
func (p *restartPublisher) restart(ctx context.Context, pp *Participant, edit func(string) string) string {
	p.t.Helper()
	answer := publishOffer(ctx, p.t, pp, p.pc, &webrtc.OfferOptions{ICERestart: true},
		func(o string) string { return edit(sendOnlyRIDs(o)) }, p.sources)
	applyAnswer(p.t, p.pc, answer)
	return sdpUfrag(answer)
}

// sendOnlyRIDs is a Pion offer made after the first answer as a browser's is: Pion
// v4.2.26 writes the answer's "a=rid:q recv" lines and "a=simulcast:recv q;h;f" back
// into its next offer, beside the sender's own (send) ones, which checkSimulcast
// refuses ("a layer that is not sent"); a browser's offer names its layers as sent
// only.
func sendOnlyRIDs(offer string) string {
	lines := strings.SplitAfter(offer, "\r\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.HasPrefix(l, "a=rid:") && strings.HasSuffix(strings.TrimSpace(l), " recv") || strings.HasPrefix(l, "a=simulcast:recv ") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

// check sends a check with the current credentials from conn's socket to the
// server at to, past the link's loss, and watches for its answer.
func (p *restartPublisher) check(conn *burstyConn, to net.Addr) {
	t := p.t
	t.Helper()
	remote := p.pc.RemoteDescription().SDP
	_, pwd, _ := strings.Cut(remote, "a=ice-pwd:")
	pwd, _, _ = strings.Cut(pwd, "\r\n")
	user := sdpUfrag(remote) + ":" + sdpUfrag(p.pc.LocalDescription().SDP)
	m, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(user), ice.PriorityAttr(1<<24),
		ice.AttrControlling(1), stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	conn.mu.Lock()
	conn.sentinels[m.TransactionID] = true
	conn.mu.Unlock()
	if _, err := conn.PacketConn.WriteTo(m.Raw, to); err != nil {
		t.Fatal(err)
	}
}

// sendMic sends the microphone's next packet, numbered; its number.
func (p *restartPublisher) sendMic() uint32 {
	p.micN++
	p.micSq++
	p.micTS += 960
	payload := binary.BigEndian.AppendUint32([]byte{0xfc}, p.micN)
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: p.micSq, Timestamp: p.micTS}, Payload: payload}
	if err := p.mic.WriteRTP(pkt); err != nil {
		p.t.Errorf("write: %v", err)
	}
	return p.micN
}

// movingConn is a socket that moves to another port, as a publisher whose network
// changed does (a NAT's new mapping, another interface): it reads from both sockets,
// and writes from the first until move, from the second after, or from the first again
// while fromOld.
type movingConn struct {
	first, second  net.PacketConn
	moved, fromOld atomic.Bool
	in             chan movingDatagram
	done           chan struct{}
	closeOnce      sync.Once
}

type movingDatagram struct {
	b    []byte
	from net.Addr
}

func newMovingConn(t *testing.T) *movingConn {
	t.Helper()
	c := &movingConn{in: make(chan movingDatagram, 256), done: make(chan struct{})}
	for _, s := range []*net.PacketConn{&c.first, &c.second} {
		var err error
		if *s, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		go c.read(*s)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (c *movingConn) read(s net.PacketConn) {
	for {
		b := make([]byte, 1500)
		n, from, err := s.ReadFrom(b)
		if err != nil {
			return
		}
		select {
		case c.in <- movingDatagram{b[:n], from}:
		case <-c.done:
			return
		}
	}
}

func (c *movingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-c.in:
		return copy(b, d.b), d.from, nil
	case <-c.done:
		return 0, nil, net.ErrClosed
	}
}

func (c *movingConn) WriteTo(b []byte, to net.Addr) (int, error) {
	if c.moved.Load() && !c.fromOld.Load() {
		return c.second.WriteTo(b, to)
	}
	return c.first.WriteTo(b, to)
}

func (c *movingConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.first.Close()
		_ = c.second.Close()
	})
	return nil
}

func (c *movingConn) LocalAddr() net.Addr              { return c.first.LocalAddr() }
func (c *movingConn) SetDeadline(time.Time) error      { return nil }
func (c *movingConn) SetReadDeadline(time.Time) error  { return nil }
func (c *movingConn) SetWriteDeadline(time.Time) error { return nil }
