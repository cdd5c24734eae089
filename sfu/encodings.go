package sfu

// encodingState is what a simulcast publisher is asked to send.
type encodingState struct{}

func (e *encodingState) init(p *Participant, u *upTrack) {}

func (u *upTrack) updateEncodings() {}

func (e *encodingState) stop() {}
