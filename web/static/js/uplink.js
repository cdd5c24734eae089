// What limits what this member sends: the browser lowers the camera's and the screen
// share's resolution or frame rate when its congestion control (fed by the server's
// transport-cc feedback) finds the uplink too slow, or when the device cannot encode
// fast enough, and says why in the sender's own statistics (outbound-rtp
// `qualityLimitationReason`: 'bandwidth', 'cpu', 'none' or 'other'). The page tells the
// person, as it does for the downlink (downlink.js), or they would never learn that the
// others see them blurred.
//
// Hysteresis: the reason flickers with the encoder's adaptation and a connection's ramp
// at its start, so a reason is shown only once it has held for SHOW_MS (and not within
// START_MS of the hint's start, the congestion control's first climb), and hidden only
// once it has been cleared for HIDE_MS. A browser that reports no reason (Firefox) gets
// no hint, never a wrong one; nothing video being sent, none either.
//
// No DOM, no globals: the stats come from an injected read, time from an injected clock
// (tests: harness.mjs FakeClock), the hint goes to an injected show (uplink-ui.js in the
// page).

import { realClock } from './heartbeat.js';

/** HINT_BANDWIDTH and HINT_CPU (keys) say why the own video is sent in lower quality. */
export const HINT_BANDWIDTH = 'uplink.hint.bandwidth';
export const HINT_CPU = 'uplink.hint.cpu';

/** How often the sender's statistics are read. */
export const POLL_MS = 2000;
/** How long a reason must hold before the hint shows it. */
export const SHOW_MS = 8000;
/** How long no reason must hold before the hint goes. */
export const HIDE_MS = 8000;
/** How long after the start nothing is shown: the congestion control's first climb. */
export const START_MS = 15000;

const HINTS = { bandwidth: HINT_BANDWIDTH, cpu: HINT_CPU };

/**
 * limitationOf reads the stats reports of the video senders (RTCStatsReport, or any
 * iterable of them): 'bandwidth' or 'cpu' when some active outbound video stream is
 * limited by it (bandwidth first), 'none' when they report a reason and it is neither,
 * null when none reports one (Firefox, or nothing sent): nothing to tell.
 */
export function limitationOf(...reports) {
  let out = null;
  for (const report of reports) {
    if (!report || typeof report.forEach !== 'function') continue;
    report.forEach((s) => {
      if (!s || s.type !== 'outbound-rtp' || (s.kind || s.mediaType) !== 'video' || s.active === false) return;
      const r = s.qualityLimitationReason;
      if (typeof r !== 'string') return;
      if (r === 'bandwidth') out = 'bandwidth';
      else if (r === 'cpu') { if (out !== 'bandwidth') out = 'cpu'; }
      else if (out === null) out = 'none';
    });
  }
  return out;
}

/**
 * UplinkHint reads the own senders' limitation every POLL_MS and shows the hint's key
 * (show(key|null)) with hysteresis.
 *
 * read() resolves to 'bandwidth', 'cpu', 'none' or null (limitationOf; null also hides a
 * shown hint at once: no video sent any more, or nothing reported); a read that fails
 * counts as null.
 */
export class UplinkHint {
  constructor({ read, show, clock = realClock, starts = () => 0 }) {
    this.read = read;
    // starts() counts the video sources started so far (Publisher.videoStarts): a
    // screen share or a camera that starts later climbs as the first did, so the
    // START_MS grace counts again from the reading that sees it.
    this.starts = starts;
    this.lastStarts = 0;
    this.show = show;
    this.clock = clock;
    this.timer = null;
    this.running = false;
    this.reading = false;
    this.startedAt = 0;
    this.seen = null; // the latest reason read
    this.seenSince = 0; // since when it has been read
    this.shown = null; // the reason shown, or null
  }

  /** start reads from now on. Idempotent. */
  start() {
    if (this.running) return;
    this.running = true;
    this.startedAt = this.clock.now();
    this.lastStarts = this.starts();
    this.seen = null;
    this.seenSince = this.startedAt;
    this._arm();
  }

  /** stop ends the reads and takes the hint away (a leave, a new connection). */
  stop() {
    this.running = false;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this._set(null);
  }

  _arm() {
    this.timer = this.clock.setTimeout(() => this._tick(), POLL_MS);
  }

  _tick() {
    this.timer = null;
    if (!this.running) return;
    this._arm();
    const starts = this.starts();
    if (starts !== this.lastStarts) {
      this.lastStarts = starts;
      this.startedAt = this.clock.now();
    }
    if (this.reading) return; // a slow getStats: one read at a time
    this.reading = true;
    let p;
    try {
      p = Promise.resolve(this.read());
    } catch {
      p = Promise.resolve(null);
    }
    p.catch(() => null).then((reason) => {
      this.reading = false;
      if (this.running) this.note(reason);
    });
  }

  /** note takes one reading of the reason, at the clock's now. */
  note(reason) {
    const now = this.clock.now();
    if (reason !== 'bandwidth' && reason !== 'cpu' && reason !== 'none') reason = null;
    if (reason !== this.seen) {
      this.seen = reason;
      this.seenSince = now;
    }
    if (reason === null) {
      this._set(null); // nothing to judge: never a hint that may be wrong
      return;
    }
    if (reason === 'none') {
      if (this.shown && now - this.seenSince >= HIDE_MS) this._set(null);
      return;
    }
    const from = Math.max(this.seenSince, this.startedAt + START_MS);
    if (reason !== this.shown && now - from >= SHOW_MS) this._set(reason);
  }

  _set(reason) {
    if (reason === this.shown) return;
    this.shown = reason;
    this.show(reason ? HINTS[reason] : null);
  }
}
