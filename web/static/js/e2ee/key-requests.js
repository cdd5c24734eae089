// Key requests (e2ee/FORMAT.md, "Key requests"): both sides of asking a sender for
// the key its frames need, and the "waiting for keys" state of its tiles. No DOM and
// no globals: the clock and timers are injected, so Node tests drive them.
//
//   KeyRequests  the receiver: the worker says frames of a sender fail for want of a
//                key (at most once a second while they do); it asks that sender at
//                most once per 2 s, doubling the wait up to 16 s while frames keep
//                failing, and after a second of failing says the sender is waiting
//                for keys, until its frames decode again.
//   AnswerLimit  the sender: at most one answer per requester a second.
//   MissingReports  the media worker: "missing key" for a sender at most once a
//                second while its frames fail, "key ok" once they decode again;
//                forgotten with the sender's keys.
//
// Who may be asked and what an answer holds (members of the roster; the key only for
// verified ones) is the caller's rule (member-keys.js); these classes only count time.

/** FIRST_WAIT_MS is the shortest time between two requests to one sender. */
export const FIRST_WAIT_MS = 2000;
/** MAX_WAIT_MS is the longest: the wait doubles up to it while frames keep failing. */
export const MAX_WAIT_MS = 16000;
/** WAITING_AFTER_MS: frames failing this long make the sender's tiles say "Waiting for keys…". */
export const WAITING_AFTER_MS = 1000;
/** ANSWER_INTERVAL_MS is the shortest time between two answers to one requester. */
export const ANSWER_INTERVAL_MS = 1000;

/**
 * systemClock is the real clock and timers (the page, the worker); tests pass their own.
 * now is monotonic, as the page's other spans (../monotonic.js): on Date.now(), a wall
 * clock set back an hour asked a sender for no key for the hour, its tiles "Waiting for
 * keys…", and kept past chat keys and the answers' limits for as long. wall is the time
 * in milliseconds since 1970, for the own chat counter only (session-chat.js).
 */
export const systemClock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

export class KeyRequests {
  /**
   * @param {{ask: (pid: string) => boolean, onWaiting?: (pid: string, waiting: boolean) => void,
   *          clock?: {now: () => number, setTimeout: Function, clearTimeout: Function}}} opts
   * ask sends a request to pid and says whether it did (false: pid may not be asked,
   * e.g. not verified yet; then no wait is counted).
   */
  constructor({ ask, onWaiting = () => {}, clock = systemClock }) {
    this.ask = ask;
    this.onWaiting = onWaiting;
    this.clock = clock;
    this.senders = new Map(); // pid -> {failing, waiting, timer, nextAt, wait}
  }

  /** missing: frames of pid fail for want of a key (the worker's report). */
  missing(pid) {
    let s = this.senders.get(pid);
    if (!s) {
      s = { failing: false, waiting: false, timer: null, nextAt: 0, lastAt: null, wait: FIRST_WAIT_MS };
      this.senders.set(pid, s);
    }
    if (!s.failing) {
      s.failing = true;
      s.timer = this.clock.setTimeout(() => {
        s.timer = null;
        if (this.senders.get(pid) !== s || !s.failing || s.waiting) return;
        s.waiting = true;
        this.onWaiting(pid, true);
      }, WAITING_AFTER_MS);
    }
    const now = this.clock.now();
    if (now < s.nextAt) return;
    if (!this.ask(pid)) return;
    s.lastAt = now;
    s.nextAt = now + s.wait;
    s.wait = Math.min(s.wait * 2, MAX_WAIT_MS);
  }

  /** decoded: frames of pid decode again; the wait starts from 2 s next time. */
  decoded(pid) {
    const s = this.senders.get(pid);
    if (!s || !s.failing) return;
    s.failing = false;
    if (s.timer !== null) this.clock.clearTimeout(s.timer);
    s.timer = null;
    // The last request still counts: never two within FIRST_WAIT_MS.
    s.nextAt = s.lastAt === null ? 0 : s.lastAt + FIRST_WAIT_MS;
    s.wait = FIRST_WAIT_MS;
    if (s.waiting) {
      s.waiting = false;
      this.onWaiting(pid, false);
    }
  }

  /** waiting reports whether pid's tiles say "Waiting for keys…". */
  waiting(pid) {
    const s = this.senders.get(pid);
    return !!s && s.waiting;
  }

  /** forget drops pid (it left, or resumed with new keys). */
  forget(pid) {
    const s = this.senders.get(pid);
    if (!s) return;
    if (s.timer !== null) this.clock.clearTimeout(s.timer);
    this.senders.delete(pid);
    if (s.waiting) this.onWaiting(pid, false);
  }

  /** close stops every timer. */
  close() {
    for (const s of this.senders.values()) if (s.timer !== null) this.clock.clearTimeout(s.timer);
    this.senders.clear();
  }
}

export class AnswerLimit {
  constructor(clock = systemClock) {
    this.clock = clock;
    this.last = new Map(); // requester -> time of the last answer
  }

  /** allow says whether a request of `from` may be answered now, and counts it if so. */
  allow(from) {
    const now = this.clock.now();
    const last = this.last.get(from);
    if (last !== undefined && now - last < ANSWER_INTERVAL_MS) return false;
    this.last.set(from, now);
    return true;
  }

  forget(from) {
    this.last.delete(from);
  }
}

/** REPORT_INTERVAL_MS: the worker reports a sender's missing key at most this often. */
export const REPORT_INTERVAL_MS = 1000;

export class MissingReports {
  /** post(msg) sends {t: 'missing-key', pid} or {t: 'key-ok', pid} to the page. */
  constructor(post, clock = systemClock) {
    this.post = post;
    this.clock = clock;
    this.failing = new Map(); // pid -> time of the last report
  }

  /** failed: a frame of pid failed for want of a key. */
  failed(pid) {
    const now = this.clock.now();
    const last = this.failing.get(pid);
    if (last !== undefined && now - last < REPORT_INTERVAL_MS) return;
    if (this.failing.size > 1000) this.failing.clear(); // only ever a few senders: forget drops those that left
    this.failing.set(pid, now);
    this.post({ t: 'missing-key', pid });
  }

  /** decoded: a frame of pid decoded (called per frame: cheap when nothing failed). */
  decoded(pid) {
    if (this.failing.size === 0 || !this.failing.delete(pid)) return;
    this.post({ t: 'key-ok', pid });
  }

  /**
   * forget drops pid's report (its keys were forgotten: it left, or resumed with new
   * keys). Nothing is posted: the page has forgotten its requests to pid already. A
   * resumed pid whose frames fail again is reported at once.
   */
  forget(pid) {
    this.failing.delete(pid);
  }
}
