package sfu

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

// sharedLog records every write of several subscriptions in the order the writers made
// them; a subscription's writes can be held until released.
type sharedLog struct {
	mu      sync.Mutex
	writes  []write
	hold    map[uint32]chan struct{} // by SSRC: writes wait for the channel to close
	entered chan uint32              // told when a held write begins
}

type write struct {
	ssrc uint32
	seq  uint16
}

func (l *sharedLog) writer(ssrc uint32) *logWriter { return &logWriter{log: l, ssrc: ssrc} }

func (l *sharedLog) got() []write {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]write(nil), l.writes...)
}

// waitFor waits, bounded, until n writes were made.
func (l *sharedLog) waitFor(t *testing.T, n int) []write {
	t.Helper()
	deadline := time.Now().Add(conntest.Wait)
	for len(l.got()) < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	got := l.got()
	if len(got) < n {
		t.Fatalf("%d writes, want %d", len(got), n)
	}
	return got
}

type logWriter struct {
	log  *sharedLog
	ssrc uint32
}

func (w *logWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.log.mu.Lock()
	hold := w.log.hold[w.ssrc]
	w.log.mu.Unlock()
	if hold != nil {
		select {
		case w.log.entered <- w.ssrc:
		default: // only the first is waited for
		}
		<-hold
	}
	w.log.mu.Lock()
	w.log.writes = append(w.log.writes, write{ssrc: h.SSRC, seq: h.SequenceNumber})
	w.log.mu.Unlock()
	return len(payload), nil
}

func (w *logWriter) Write(b []byte) (int, error) { return len(b), nil }

// poolSub is a subscriber with one subscription (no forwarder: every packet is sent
// as it comes) whose queue pool drains (nil: a writer of its own).
func poolSub(t *testing.T, pool *writerPool, kind webrtc.RTPCodecType, ssrc uint32, log *sharedLog) *downTrack {
	t.Helper()
	p := &Participant{out: newSendQueue(pool)}
	t.Cleanup(p.out.close)
	up := newTestUpTrack()
	up.kind = kind
	d := &downTrack{up: up, sub: p}
	d.binding.Store(&binding{ssrc: ssrc, pt: 96, stream: log.writer(ssrc)})
	return d
}

// newHeldLog is a log whose writes for SSRC held wait until hold is closed.
func newHeldLog(held uint32) (log *sharedLog, hold chan struct{}) {
	hold = make(chan struct{})
	return &sharedLog{hold: map[uint32]chan struct{}{held: hold}, entered: make(chan uint32, 1)}, hold
}

// newTestPool is a pool of n writers, closed after the queues made later (cleanups run
// last first).
func newTestPool(t *testing.T, n int) *writerPool {
	p := newWriterPool(n, nil)
	t.Cleanup(p.close)
	return p
}

func seqPacket(seq uint16) *packet {
	return &packet{header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}, payload: []byte{1}}
}

// TestWriterPoolWritesEveryPacketInOrder: many subscribers on two writers, packets
// fanned out from several goroutines: each subscriber gets each of its packets once,
// in the order they were queued.
func TestWriterPoolWritesEveryPacketInOrder(t *testing.T) {
	pool := newTestPool(t, 2)
	log := &sharedLog{}
	const subs, packets = 40, 200
	var downs []*downTrack
	for i := range subs {
		downs = append(downs, poolSub(t, pool, webrtc.RTPCodecTypeVideo, uint32(i+1), log))
	}
	// Two "readers" fan out their own subscribers' packets, as two tracks would.
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range packets {
				for i := r; i < subs; i += 2 {
					for !downs[i].sub.out.enqueue(sendItem{d: downs[i], p: seqPacket(uint16(s))}, false) {
						time.Sleep(time.Millisecond) // full: let the writer catch up
					}
				}
			}
		}()
	}
	wg.Wait()
	got := log.waitFor(t, subs*packets)
	next := map[uint32]uint16{}
	for _, w := range got {
		if w.seq != next[w.ssrc] {
			t.Fatalf("subscriber %d got %d, want %d next", w.ssrc, w.seq, next[w.ssrc])
		}
		next[w.ssrc]++
	}
	if len(got) != subs*packets {
		t.Fatalf("%d writes, want %d", len(got), subs*packets)
	}
}

// TestWriterPoolTakesTurns: a subscriber with a long queue is drained drainTurn packets
// at a time, so another subscriber on the same writer waits for at most one turn.
func TestWriterPoolTakesTurns(t *testing.T) {
	pool := newTestPool(t, 1)
	log, hold := newHeldLog(1)
	long := poolSub(t, pool, webrtc.RTPCodecTypeVideo, 1, log)
	short := poolSub(t, pool, webrtc.RTPCodecTypeVideo, 2, log)

	long.sub.out.enqueue(sendItem{d: long, p: seqPacket(0)}, false)
	<-log.entered // the writer is in the long queue's first write
	log.mu.Lock()
	delete(log.hold, 1)
	log.mu.Unlock()
	for s := 1; s < 3*drainTurn; s++ {
		long.sub.out.enqueue(sendItem{d: long, p: seqPacket(uint16(s))}, false)
	}
	short.sub.out.enqueue(sendItem{d: short, p: seqPacket(0)}, false)
	close(hold)

	got := log.waitFor(t, 3*drainTurn+1)
	at := -1
	for i, w := range got {
		if w.ssrc == 2 {
			at = i
		}
	}
	if at != drainTurn {
		t.Fatalf("the short queue's packet was write %d, want %d (after the long queue's first turn)", at, drainTurn)
	}
}

// TestWriterPoolAudioFirst: audio queued while video waits goes out before it.
func TestWriterPoolAudioFirst(t *testing.T) {
	log, hold := newHeldLog(1)
	video := poolSub(t, nil, webrtc.RTPCodecTypeVideo, 1, log)
	q := video.sub.out
	audio := &downTrack{up: newTestUpTrack(), sub: video.sub}
	audio.up.kind = webrtc.RTPCodecTypeAudio
	audio.binding.Store(&binding{ssrc: 2, pt: 111, stream: log.writer(2)})

	q.enqueue(sendItem{d: video, p: seqPacket(0)}, false)
	<-log.entered
	for s := 1; s <= 3; s++ {
		q.enqueue(sendItem{d: video, p: seqPacket(uint16(s))}, false)
	}
	q.enqueue(sendItem{d: audio, p: seqPacket(0)}, true)
	close(hold)
	got := log.waitFor(t, 5)
	if fmt.Sprint(got[1]) != fmt.Sprint(write{2, 0}) {
		t.Fatalf("writes %v: audio is not next after the video being written", got)
	}
}

// TestDedicatedWriterDoesNotHoldOthers: a subscriber whose writes wait (a TCP peer that
// reads slowly) holds up only itself once it has a writer of its own.
func TestDedicatedWriterDoesNotHoldOthers(t *testing.T) {
	pool := newTestPool(t, 1)
	log, hold := newHeldLog(1)
	slow := poolSub(t, pool, webrtc.RTPCodecTypeVideo, 1, log)
	fast := poolSub(t, pool, webrtc.RTPCodecTypeVideo, 2, log)
	t.Cleanup(func() { close(hold) }) // before the queues close: close waits for the write
	slow.sub.out.dedicate()

	slow.sub.out.enqueue(sendItem{d: slow, p: seqPacket(0)}, false)
	<-log.entered // the slow subscriber's write waits
	for s := range 10 {
		fast.sub.out.enqueue(sendItem{d: fast, p: seqPacket(uint16(s))}, false)
	}
	got := log.waitFor(t, 10)
	for _, w := range got {
		if w.ssrc != 2 {
			t.Fatalf("writes %v: the slow subscriber's packet went out while its write was held", got)
		}
	}
}

// TestSendQueueCloseWaitsForTheWriter: close returns only after a write in progress
// ended, and nothing queued is written after it. In a synctest bubble: Wait returns
// once the writer and the closing goroutine are both blocked for good, so a close that
// does not wait has returned by then, however slow the machine.
func TestSendQueueCloseWaitsForTheWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool := newTestPool(t, 1)
		log, hold := newHeldLog(1)
		release := sync.OnceFunc(func() { close(hold) })
		defer release() // a failure lets the writer go, so that the bubble can end
		d := poolSub(t, pool, webrtc.RTPCodecTypeVideo, 1, log)
		q := d.sub.out
		for s := range 5 {
			q.enqueue(sendItem{d: d, p: seqPacket(uint16(s))}, false)
		}
		<-log.entered
		closed := make(chan struct{})
		go func() {
			q.close()
			close(closed)
		}()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("close returned while the writer was in a write")
		default:
		}
		release()
		<-closed
		if got := log.got(); len(got) != 1 {
			t.Fatalf("writes %v after close, want only the one in progress", got)
		}
		if q.enqueue(sendItem{d: d, p: seqPacket(9)}, false) {
			t.Fatal("a closed queue took a packet")
		}
	})
}
