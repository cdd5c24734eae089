// Knocking again after a waiting person's connection dropped. A knock lives as long as
// its websocket (signaling/PROTOCOL.md, "Waiting room"): when the link dies (a Wi-Fi
// blip, a mobile handover, the server restarting, or the page's heartbeat giving a
// silent path up) the server forgets the knock and the moderators see it go. A member
// resumes by itself (reconnect.js); a waiting person was left at "Disconnected" with a
// Rejoin button, and a pupil who did not notice waited for nothing. The page now knocks
// again by itself, with the name and password it already has, with the backoff of a
// member's resume and for as long (90 s), while the waiting screen says so; then it
// gives up and shows "Disconnected" as before. The new knock presents the old one's
// secret (meeting.js): if the server still holds that knock (a path that died without a
// close, which it notices only at its own timeout) the new one takes its place and time;
// otherwise it is a new request, and the moderators see it arrive again (the server
// keeps nothing about a person once its knock is over).
//
// TEST HOOKS: body[data-reknocking="true"] while a knock again is pending or under way.

import { backoffMs, reachable } from './reconnect-core.js';
import { monotonicNow } from './monotonic.js';

/** How long attempts go on from the first drop (as reconnect.js's GIVE_UP_MS). */
export const REKNOCK_GIVE_UP_MS = 90000;
/** How long a knock must have lasted for its drop to start the backoff and the 90 s afresh. */
export const REKNOCK_STABLE_MS = 30000;
/** The failures worth knocking again after (reconnect.js's RETRY_KINDS). */
const RETRY_KINDS = new Set(['unreachable', 'disconnected', 'shutdown', 'too_many_errors']);

export class Reknock {
  /**
   * @param {{knock: () => void, giveUp: () => void, showing?: (on: boolean) => void,
   *          probe?: () => Promise<boolean>,
   *          clock?: {now: () => number, setTimeout: Function, clearTimeout: Function},
   *          random?: () => number}} opts
   * knock starts a new Session that knocks again from the waiting screen; giveUp is
   * told when the server stayed away for the whole time (after a probe: a failed
   * knock's own end comes through dropped, which says false then); showing is
   * told when knocking again starts and ends; probe says whether the server answers
   * at all (reconnect-core.js reachable: a websocket that fails makes Firefox wait
   * longer before the next one).
   */
  constructor({ knock, giveUp, showing = () => {}, probe = null, clock = null, random = Math.random }) {
    this.knock = knock;
    this.giveUp = giveUp;
    this.showing = showing;
    this.probe = probe || (() => reachable((...a) => window.fetch(...a), import.meta.url));
    this.clock = clock || { now: monotonicNow, setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (id) => clearTimeout(id) };
    this.random = random;
    this.active = false;
    this.tries = 0;
    this.since = 0;
    this.backAt = 0; // when the last knock (or knock again) reached the waiting room
    this.timer = 0;
    this.run = 0; // a generation: a probe answered after stop() or a later drop is stale
  }

  /**
   * dropped is told how a waiting person's session ended; true when it knocks again
   * (the page keeps the waiting screen and the camera), false when the page should
   * show the failure as usual: a kind not worth another knock (denied, ended, a wrong
   * password …), or the 90 s are over.
   */
  dropped(kind) {
    const now = this.clock.now();
    if (!RETRY_KINDS.has(kind)) {
      this.stop();
      return false;
    }
    if (!this.active) {
      if (this.since && this.backAt && now - this.backAt < REKNOCK_STABLE_MS) {
        // A knock again that dropped soon after it came back goes on with the backoff
        // and the 90 s of the drops before it: the clock started afresh at each such
        // drop, and a server that takes every knock and drops it at once was knocked
        // at without end (the moderators chimed at each, a screen reader said both texts).
        if (now - this.since >= REKNOCK_GIVE_UP_MS) {
          this.stop();
          return false;
        }
      } else {
        this.tries = 0;
        this.since = now;
      }
      this.active = true;
      this.showing(true);
    } else if (now - this.since >= REKNOCK_GIVE_UP_MS) {
      this.stop();
      return false;
    }
    this._schedule();
    return true;
  }

  /** knocked: a knock (the first or one again) reached the waiting room. */
  knocked() {
    const was = this.active;
    if (!was) this.since = 0; // a knock of its own (the first, or sent back): a drop starts afresh
    this.backAt = this.clock.now();
    this._end();
    return was;
  }

  /** stop: the person left, was let in, or the page gave up; nothing more is tried. */
  stop() {
    this.backAt = 0;
    this.since = 0;
    this._end();
  }

  _end() {
    const was = this.active;
    this.active = false;
    this.run++;
    this.clock.clearTimeout(this.timer);
    this.timer = 0;
    if (was) this.showing(false);
  }

  _schedule() {
    this.clock.clearTimeout(this.timer);
    const run = ++this.run;
    this.timer = this.clock.setTimeout(async () => {
      this.timer = 0;
      const up = await this.probe();
      if (run !== this.run || !this.active) return;
      if (up) this.knock();
      else if (!this.dropped('unreachable')) this.giveUp();
    }, backoffMs(this.tries++, this.random));
  }
}
