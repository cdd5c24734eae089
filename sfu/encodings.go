package sfu

import (
	"sync"
	"sync/atomic"
	"time"
)

// A simulcast publisher sends every layer until told otherwise. The SFU tells it which
// layers some subscriber needs (PROTOCOL.md, "encodings"), so a layer nobody watches
// costs no uplink: a layer that becomes needed is asked for at once; one that is no
// longer needed is let go only after encodingOffDelay without need, so a tile that
// shrinks and grows again does not make the publisher stop and restart (each restart
// is a keyframe). While anyone shows the track its lowest layer stays on, so a switch
// down never waits for a layer to start.
const encodingOffDelay = 3 * time.Second

// Encodings is what a publisher should send of one source: the RIDs some subscriber
// needs, lowest first. Active is empty only when nobody shows the source.
type Encodings struct {
	Source Source
	Active []string
}

// encodingState is what one simulcast track's publisher was asked to send.
type encodingState struct {
	owner *Participant
	after func(time.Duration, func()) func() bool

	mu       sync.Mutex
	active   uint32               // layers the publisher sends, as far as we know
	unneeded [maxLayers]time.Time // since when an active layer is not needed; zero: needed
	timer    func() bool          // the pending re-check, if any
	stopped  bool

	// paused is the complement of active, for the layer choice (live.go): a layer the
	// publisher was told to stop is not live, whatever packets are still on their way.
	paused atomic.Uint32
}

func (e *encodingState) init(p *Participant, u *upTrack) {
	e.owner = p
	e.after = p.room.engine.after
	e.active = 1<<maxLayers - 1 // a browser starts with every encoding on
}

// updateEncodings works out what the track's subscribers need and tells the publisher
// when that changes. Tracks without simulcast have nothing to tell.
func (u *upTrack) updateEncodings() {
	e := &u.enc
	if e.owner == nil || !u.simulcast() {
		return
	}
	var need, present uint32
	for i := range u.layers {
		if u.layers[i].Load() != nil {
			present |= 1 << i
		}
	}
	if subs := u.subs.Load(); subs != nil {
		for _, d := range *subs {
			// The layer sent, the one the tile calls for and the one the bandwidth
			// allows: while the latter two do not arrive (live.go), the subscriber gets
			// a live one, which must stay on.
			if w := ctlWant(d.ctl.Load()); w >= 0 {
				need |= 1 << w
			}
			if i := d.ideal.Load(); i > 0 {
				need |= 1 << (i - 1)
			}
			if i := d.allotted.Load(); i > 0 {
				need |= 1 << (i - 1) // what the bandwidth allows: it must arrive to be taken
			}
		}
	}
	if need != 0 {
		need |= u.belowUndecodable(need, present)
		need |= present & -present // the lowest layer there is
		// A layer that has not arrived yet stays asked for while anyone watches:
		// browsers start their upper layers only once their own estimate of the
		// uplink allows (Firefox under load took many seconds), and the tiles' choice
		// knows only layers that arrived, so one told to stop before it came would
		// never come.
		need |= ^present & (1<<maxLayers - 1)
	}
	now := u.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return
	}
	active := e.active | need
	var next time.Duration // until the next layer may go; 0: none pending
	for i := 0; i < maxLayers; i++ {
		bit := uint32(1) << i
		if need&bit != 0 || e.active&bit == 0 {
			e.unneeded[i] = time.Time{}
			continue
		}
		if e.unneeded[i].IsZero() {
			e.unneeded[i] = now
		}
		if left := e.unneeded[i].Add(encodingOffDelay).Sub(now); left > 0 {
			if next == 0 || left < next {
				next = left
			}
			continue
		}
		active &^= bit
		e.unneeded[i] = time.Time{}
	}
	if e.timer != nil {
		e.timer()
		e.timer = nil
	}
	if next > 0 {
		e.timer = e.after(next, u.updateEncodings)
	}
	if active == e.active {
		return
	}
	for i := range u.layers {
		if l := u.layers[i].Load(); l != nil && active&^e.active&(1<<i) != 0 {
			l.resumed.Store(true)
		}
	}
	// A choice made while a layer was paused could not take it (not live), and this
	// one may be that choice: the view that calls for the layer resumes it. If no
	// liveness tick ran while it was paused, the next would find it live as at the
	// last and make nobody choose again, and the subscription would keep the layer it
	// has for good. So the next tick sees it come back.
	u.live.unsee(active &^ e.active)
	e.active = active
	e.paused.Store(^active & (1<<maxLayers - 1))
	rids := make([]string, 0, maxLayers)
	for i := 0; i < maxLayers; i++ {
		if active&(1<<i) != 0 {
			rids = append(rids, layerRIDs[i])
		}
	}
	e.owner.queueEncodings(Encodings{Source: u.source, Active: rids})
}

func (e *encodingState) stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopped = true
	if e.timer != nil {
		e.timer()
		e.timer = nil
	}
}

// queueEncodings keeps the latest encodings of a source for the participant's session
// and wakes it (EncodingsChanged).
func (p *Participant) queueEncodings(enc Encodings) {
	p.encMu.Lock()
	if p.encodings == nil {
		p.encodings = make(map[Source]Encodings)
	}
	p.encodings[enc.Source] = enc
	p.encMu.Unlock()
	select {
	case p.encReady <- struct{}{}:
	default:
	}
}

// EncodingsChanged fires when the encodings this participant should publish changed;
// call Encodings then and send them to the client.
func (p *Participant) EncodingsChanged() <-chan struct{} { return p.encReady }

// Encodings returns the changes not yet taken, one per source, and forgets them.
func (p *Participant) Encodings() []Encodings {
	p.encMu.Lock()
	defer p.encMu.Unlock()
	out := make([]Encodings, 0, len(p.encodings))
	for _, s := range []Source{SourceCamera, SourceScreen} {
		if e, ok := p.encodings[s]; ok {
			out = append(out, e)
		}
	}
	p.encodings = nil
	return out
}
