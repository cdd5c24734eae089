package sfu

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// readerStopBound is how long Close waits for the goroutines that read published
// tracks once their connection is closed and their reads are past a deadline.
const readerStopBound = 10 * time.Second

// trackReader is a published track (one simulcast layer) and its receiver, read by two
// goroutines that p.wg counts.
type trackReader struct {
	remote *webrtc.TrackRemote
	recv   *webrtc.RTPReceiver
}

// stopReaders ends the reading of every published track and waits for its goroutines.
// Closing the peer connection should end each read, but a simulcast layer whose stream
// Pion set up while the connection closed was once left blocked in its read for good
// (CI: a participant's Close, and the server's Shutdown with it, hung 15 minutes), so
// every read is also put past a deadline. Should a reader still not return, Close gives
// up waiting after readerStopBound (wall time: a safety net no test judges) rather than
// hang the session that leaves; the goroutine is then left behind, blocked.
func (p *Participant) stopReaders() {
	p.mu.Lock()
	readers := p.readers
	p.readers = nil
	p.mu.Unlock()
	p.stopping.Store(true)
	past := time.Unix(0, 1)
	for _, r := range readers {
		_ = r.remote.SetReadDeadline(past)
		if rid := r.remote.RID(); rid != "" {
			_ = r.recv.SetReadDeadlineSimulcast(past, rid)
		} else {
			_ = r.recv.SetReadDeadline(past)
		}
	}
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(readerStopBound)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		p.room.engine.log.Warn("sfu: a published track's reader did not stop; left behind")
	}
}
