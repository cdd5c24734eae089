// The page measures durations (a link's silence, a lock's seconds, the meeting's running
// time, the gap between two alerts) on the monotonic clock, performance.now(), not on
// Date.now(). Date.now() is the wall clock, which steps when the machine sets its time
// (NTP after a laptop wakes, a person changing it): a step forward made a span end at
// once (a reconnect given up at its first failure), a step back kept it for as long as
// the step (a password lock of an hour). Date stays for what is a time of day shown to a
// person (a chat message's time, a room's expiry).
//
// On some systems (Linux, macOS) the monotonic clock does not advance while the machine
// sleeps: a span then counts the time the page was awake. What each use makes of that is
// said where it is used; none of them needs the time asleep.

/** monotonicNow is the page's monotonic reading in milliseconds (performance.now). */
export function monotonicNow() {
  return performance.now();
}
