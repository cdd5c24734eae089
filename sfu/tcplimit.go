package sfu

import "conclave/connlimit"

// The ICE-TCP port is open to anyone, with a meeting link or without, and every
// connection on it costs the server a goroutine and a read buffer for as long as it is
// held (tcpCheckWait before its first passed check, tcpIdle between frames after). So
// the connections are bounded as the websockets are: so many on the server and so many
// from one address (connlimit); beyond either bound a new connection is closed as soon
// as it is accepted. A browser that cannot use UDP holds two (its publish and its
// subscribe connection, briefly more across an ICE restart), so the defaults are twice
// the websockets'.
const (
	// DefaultMaxTCPConns bounds the ICE-TCP connections held at once.
	DefaultMaxTCPConns = 20_000
	// DefaultMaxTCPConnsPerAddr bounds those from one address: a school's or an
	// office's network behind one address must still fit a few classes.
	DefaultMaxTCPConnsPerAddr = 400
)

// tcpRefused is Stats.ICETCPRefused: 0 without ICE-TCP.
func (e *Engine) tcpRefused() uint64 {
	if e.tcpLimits == nil {
		return 0
	}
	return e.tcpLimits.Refused()
}

// tcpAcceptFailed is Stats.ICETCPAcceptFailed: 0 without ICE-TCP.
func (e *Engine) tcpAcceptFailed() uint64 {
	if e.tcpLimits == nil {
		return 0
	}
	return e.tcpLimits.AcceptFailed()
}

// newTCPLimits is connlimit.New with the defaults for bounds not set.
func newTCPLimits(max, maxPerAddr int) *connlimit.Limits {
	if max <= 0 {
		max = DefaultMaxTCPConns
	}
	if maxPerAddr <= 0 {
		maxPerAddr = DefaultMaxTCPConnsPerAddr
	}
	return connlimit.New(max, maxPerAddr)
}
