package sfu

import "time"

// steadyClock is the engine's clock when none is given: the wall clock's reading at
// the start, advanced since by the monotonic clock alone. The media path keeps its
// times as Unix nanoseconds (ICE consent and liveness, the packet cache's keyframe,
// budgets, a packet's arrival) and compares them with readings taken later, so a step
// of the wall clock (NTP correcting a machine's clock at boot, a virtual machine
// resumed after days) would otherwise end every peer's consent at once when it goes
// forward, and keep a peer that stopped answering for the length of the step when it
// goes back. The readings drift from the wall clock by the steps since the start,
// which nothing on the media path needs to know (certificates are checked by their
// fingerprints, sender reports' wall times only relate a stream's own clocks).
func steadyClock() func() time.Time { return steadyClockFrom(time.Now()) }

// steadyClockFrom is steadyClock from a given start; base must carry a monotonic
// reading (time.Now's does).
func steadyClockFrom(base time.Time) func() time.Time {
	return func() time.Time { return base.Add(time.Since(base)) }
}
