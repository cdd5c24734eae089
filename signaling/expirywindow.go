package signaling

import "time"

// expiredRoomRounds is how many janitor rounds in a row a room must have been past its
// expiry before the janitor deletes it: ten minutes of the server's timers.
const expiredRoomRounds = int(10 * time.Minute / janitorInterval)

// wallWindow holds the wall clock's readings at the janitor's last expiredRoomRounds
// rounds, so that a room is deleted only once it has been past its expiry at each of
// them. An expiry is a date, read against the wall clock, and the wall clock can step:
// a machine that starts with its clock years ahead until NTP sets it, a clock set by
// hand, a virtual machine restored with a wrong one. Deleting a room is for good (its
// record goes, its id is retired), so one reading past its expiry, the janitor's next
// round after such a step, deleted every room with an expiry, whose links then never
// worked again once the clock was right. The rounds are timers, which do not step: a
// room is deleted only when the wall clock has said it expired for ten minutes on
// end. Until then an expired room lets nobody in and ends its meeting as before
// (Registry.open, roomOver): those follow the clock as it reads now, and come back
// with the room when the clock is set right. Used by the janitor's round only.
type wallWindow struct {
	seen []time.Time // the wall readings, oldest overwritten first
	next int
}

// settled records the round's reading now and returns the earliest wall reading of the
// last expiredRoomRounds rounds: a room expired at it was expired at each. Before that
// many rounds (after a start) it returns the zero time, at which no room has expired.
func (w *wallWindow) settled(now time.Time) time.Time {
	now = now.Round(0) // the wall reading alone: a real one also carries the monotonic clock, which Before compares
	if len(w.seen) < expiredRoomRounds {
		w.seen = append(w.seen, now)
		if len(w.seen) < expiredRoomRounds {
			return time.Time{}
		}
	} else {
		w.seen[w.next] = now
		w.next = (w.next + 1) % expiredRoomRounds
	}
	earliest := w.seen[0]
	for _, t := range w.seen[1:] {
		if t.Before(earliest) {
			earliest = t
		}
	}
	return earliest
}
