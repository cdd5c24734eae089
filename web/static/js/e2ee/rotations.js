// The rotations in flight (e2ee/FORMAT.md, "Key messages"): a key made fresh for a
// leave goes to the members at once but is used for outgoing frames only once its
// receivers had ROTATE_DELAY_MS to get it. SessionKeys._flush adds each rotation here;
// `use` (the caller's rule: not after close, never an older key than the one in use)
// puts it in use when its time comes. No globals: the clock is injected, so Node tests
// move a rotation's time on themselves.

import { systemClock } from './key-requests.js';

/** How long a rotated key is announced before frames use it (receivers get it first). */
export const ROTATE_DELAY_MS = 300;
/**
 * How many rotations may wait for their ROTATE_DELAY_MS at once. A receiver keeps the
 * keys of a sender's last RING_SIZE (16) installs and makes the newest current: the key
 * frames go under must stay among them, so with more waiting (leaves a few ms apart) the
 * oldest waiting one is used at once.
 */
const MAX_WAITING_ROTATIONS = 8;

export class Rotations {
  /**
   * @param {(key: object) => void} use puts an own key in use if it still should be.
   * @param {{setTimeout: Function, clearTimeout: Function}} clock
   */
  constructor(use, clock = systemClock) {
    this.use = use;
    this.clock = clock;
    // The rotations waiting for their ROTATE_DELAY_MS, timer -> key, oldest first: each
    // is used when its own time comes, unless a newer key is in use by then (use).
    this.timers = new Map();
  }

  /**
   * add waits ROTATE_DELAY_MS before using key. A later rotation does not put this one
   * off: leaves less than that apart (a meeting emptying) would keep the frames under
   * the key the first one left with for as long as they go on.
   */
  add(key) {
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      this.use(key);
    }, ROTATE_DELAY_MS);
    this.timers.set(timer, key);
    for (const [t, k] of this.timers) {
      if (this.timers.size <= MAX_WAITING_ROTATIONS) break;
      this.clock.clearTimeout(t);
      this.timers.delete(t);
      this.use(k);
    }
  }

  /** clear drops every waiting rotation: a newer key is in use, or the session closed. */
  clear() {
    for (const timer of this.timers.keys()) this.clock.clearTimeout(timer);
    this.timers.clear();
  }

  get size() {
    return this.timers.size;
  }
}
