// The page's own check of its websocket (signaling/PROTOCOL.md, "Transport"). The
// server's websocket pings are answered by the browser out of the page's sight, so a
// path that died without a close event (a NAT that forgot the mapping, a Wi-Fi change,
// a laptop that moved) leaves the page looking connected: a member that receives no
// media, or one in the waiting room, learns of it only when the server has dropped it
// (40–60 s) and half its grace for a resume is gone. So the page sends `ping` every
// PING_MS, the server answers `pong`, and when nothing at all has arrived for DEAD_MS
// while a ping of the page has gone ANSWER_MS unanswered, the link is given up.
//
// Both conditions, not the first alone: a hidden tab's timers may run once a minute
// (Chromium's intensive throttling of a page without WebRTC, a waiting room), so the
// page may ping only once a minute and hear nothing in between; the ping it just sent
// is then not overdue. A laptop waking from sleep likewise sends a ping first and gives
// the link up only if that goes unanswered, also when a ping from before the sleep is
// still unanswered (its answer may not have been read yet).
//
// No DOM, no globals: time comes from an injected clock (tests: harness.mjs FakeClock).
// The page's is monotonic (monotonic.js): a wall clock stepped ahead an hour no longer
// makes every tick late. Where the monotonic clock stands still while the machine sleeps
// (Linux, macOS), the timers run on it too, so a page that woke counts the link's
// silence in the time it has been awake: nothing arriving, it gives the link up DEAD_MS
// after the last thing it heard before the sleep, counted awake, at worst 35 s after
// waking (the websocket's own close usually comes first); where it advances (Windows),
// the ticks are late on waking and the ping asked again below decides.

import { monotonicNow } from './monotonic.js';

/** How often the page pings: three a minute, far inside the server's limit (5 s). */
export const PING_MS = 15000;
/** How long nothing at all may arrive: two pings' time and a margin for a busy server. */
export const DEAD_MS = 2 * PING_MS + 5000;
/** How long a ping must have gone unanswered, besides, for the link to count as dead. */
export const ANSWER_MS = 10000;
/** The numbers a ping carries count round below this (the server takes 0–65535). */
const PING_NUMBERS = 65536;

/** realClock is the page's own time: the monotonic clock and the browser's timers. */
export const realClock = {
  now: monotonicNow,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

export class Heartbeat {
  /**
   * @param {{send: (n: number) => void, dead: () => void, clock?: {now, setTimeout, clearTimeout}}} opts
   * send sends a ping with n; dead is told once, when the link is given up (the
   * heartbeat has stopped by then).
   */
  constructor({ send, dead, clock = realClock }) {
    this.send = send;
    this.dead = dead;
    this.clock = clock;
    this.running = false;
    this.timer = null;
    this.n = 0;
    this.lastHeard = 0; // when something last arrived
    this.unansweredAt = null; // when the first ping since then went out (null: none)
    this.nextPingAt = 0;
    this.armedFor = null; // when the armed timer was meant to run
    this.askedAgain = false; // a late tick asked again (since something was last heard)
  }

  /** start pings from now on; the moment it starts counts as heard. Idempotent. */
  start() {
    if (this.running) return;
    this.running = true;
    this.lastHeard = this.clock.now();
    this.unansweredAt = null;
    this.askedAgain = false;
    this.nextPingAt = this.lastHeard + PING_MS;
    this._arm();
  }

  /** heard: something arrived from the server (any message: a pong or anything else). */
  heard() {
    if (!this.running) return;
    this.lastHeard = this.clock.now();
    this.unansweredAt = null;
    this.askedAgain = false;
  }

  /** stop ends the pings and the check (a leave, the end of the session). */
  stop() {
    this.running = false;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** overdue: nothing heard for DEAD_MS, and a ping out for ANSWER_MS without an answer. */
  _overdue(now) {
    return this.unansweredAt !== null && now - this.unansweredAt >= ANSWER_MS && now - this.lastHeard >= DEAD_MS;
  }

  _tick() {
    this.timer = null;
    if (!this.running) return;
    const now = this.clock.now();
    // A clock that went back (the wall clock this once read, a correction, a changed
    // system time; an injected one still may) while the timers ran on: what was planned
    // by it is held within its bounds, or the next ping lay as far ahead as the step.
    // (No-ops while the clock only goes forward, as the monotonic one does.)
    this.lastHeard = Math.min(this.lastHeard, now);
    if (this.unansweredAt !== null) this.unansweredAt = Math.min(this.unansweredAt, now);
    this.nextPingAt = Math.min(this.nextPingAt, now + PING_MS);
    // A tick far later than it was armed for (the computer slept, or the tab's timers
    // were held back) with a ping outstanding from before: its answer may simply not
    // have been read yet. Ask once more now and judge by that ping at the next tick
    // (once: timers held back for good, a hidden tab's, are late at every tick).
    const late = this.armedFor !== null && now - this.armedFor > ANSWER_MS;
    if (this._overdue(now) && late && !this.askedAgain) {
      this.askedAgain = true;
      this.unansweredAt = now;
      this.nextPingAt = now;
    } else if (this._overdue(now)) {
      this.stop();
      this.dead();
      return;
    }
    if (now >= this.nextPingAt) {
      if (this.unansweredAt === null) this.unansweredAt = now;
      this.nextPingAt = now + PING_MS;
      this.n = (this.n + 1) % PING_NUMBERS;
      this.send(this.n);
      if (!this.running) return; // send may end the session
    }
    this._arm();
  }

  /** _arm wakes at the next ping, or earlier when an unanswered ping falls overdue first. */
  _arm() {
    let at = this.nextPingAt;
    if (this.unansweredAt !== null) at = Math.min(at, Math.max(this.unansweredAt + ANSWER_MS, this.lastHeard + DEAD_MS));
    this.armedFor = Math.max(at, this.clock.now());
    this.timer = this.clock.setTimeout(() => this._tick(), this.armedFor - this.clock.now());
  }
}
