// The meeting's running time in the header (#meeting-timer): how long this stay has
// lasted, as m:ss or h:mm:ss. A span, so it is read on the monotonic clock
// (monotonic.js): on the wall clock, one set ahead an hour added the hour to the time
// shown, and one set back showed "-1:-59:-57". Where the monotonic clock stands still
// in sleep, the time asleep is not counted; a stay survives a sleep only within the
// server's grace for a resume, so the time shown is short by that at most.

import { monotonicNow } from './monotonic.js';

/** elapsedText is ms as the header shows it: "04:09", "1:02:03" (0 below zero). */
export function elapsedText(ms) {
  const secs = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(secs / 3600);
  const mm = String(Math.floor((secs % 3600) / 60)).padStart(2, '0');
  const ss = String(secs % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * runningTime starts a stay's time now and returns its tick, which calls show with the
 * text of the time since (now: the clock, tests pass their own).
 */
export function runningTime(show, now = monotonicNow) {
  const startedAt = now();
  return () => show(elapsedText(now() - startedAt));
}

/**
 * startRunningTime shows a new stay's running time in el, ticking each second, in place
 * of the interval previous (0: none); it returns the new interval, which the page clears
 * when the stay stops (meeting-end.js stopped).
 */
export function startRunningTime(el, previous) {
  const tick = runningTime((text) => { el.textContent = text; });
  clearInterval(previous);
  tick();
  return setInterval(tick, 1000);
}
