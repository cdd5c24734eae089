package sfu

// The layer a subscription wants and the one it sends, as other goroutines see them:
// setWant (the allocator's choice) and detach store the control word the writer
// applies (applyCtl, layerswitch.go); the writer records the layer it sends. Both
// keep the monitoring gauge and the readers' skip mask in step, under d.mu.

// setSendingLocked records the layer being sent (for sender reports, keyframe requests
// and the monitoring gauge) and which layers the readers queue. d.mu is held.
func (d *downTrack) setSendingLocked(layer int) {
	if d.detached {
		return
	}
	if old := int(d.sending.Swap(int32(layer))); old != layer {
		d.countSending(old, -1)
		d.countSending(layer, 1)
	}
	d.updateSkipLocked()
}

// countSending moves the gauge of subscriptions sending each simulcast layer.
func (d *downTrack) countSending(layer, delta int) {
	if l := d.up.layer(layer); l != nil && l.rid != "" {
		d.up.stats.sendingLayer[layer].Add(int64(delta))
	}
}

// updateSkipLocked lets the readers queue the layer sent and the one wanted, nothing of
// a hidden track. d.mu is held.
func (d *downTrack) updateSkipLocked() {
	want := ctlWant(d.ctl.Load())
	if want < 0 {
		d.skip.Store(^uint32(0))
		return
	}
	keep := uint32(1) << want
	if s := d.sending.Load(); s >= 0 {
		keep |= 1 << s
	}
	d.skip.Store(^keep)
}

// setWant makes want (-1: hidden) the layer this subscription should send, ideal the
// one its tile calls for and allotted the lower one its bandwidth allows (-1: none;
// both asked of the publisher, encodings.go). A hidden track is cut at once; any other
// change waits for a keyframe of the new layer.
func (d *downTrack) setWant(want, ideal, allotted int) {
	d.mu.Lock()
	if d.detached {
		d.mu.Unlock()
		return
	}
	idealChanged := d.ideal.Swap(int32(ideal+1)) != int32(ideal+1)
	allottedChanged := d.allotted.Swap(int32(allotted+1)) != int32(allotted+1)
	c := d.ctl.Load()
	if old := ctlWant(c); old != want {
		d.countWantChange(old, want, idealChanged)
		epoch := c >> 8
		if want < 0 {
			epoch++
		}
		d.ctl.Store(packCtl(epoch, want))
		if want < 0 {
			d.setSendingLocked(-1)
		}
		d.updateSkipLocked()
	} else if !idealChanged && !allottedChanged {
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	d.up.updateEncodings()
}

// detach ends the subscription's part in the monitoring gauge and its wants; the track
// no longer fans out to it.
func (d *downTrack) detach() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.detached {
		return
	}
	d.countSending(int(d.sending.Load()), -1)
	d.detached = true
	d.ctl.Store(packCtl(0, -1))
	d.ideal.Store(0)
	d.allotted.Store(0)
	d.skip.Store(^uint32(0))
}
