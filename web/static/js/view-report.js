// What this subscriber shows, as the server needs it (PROTOCOL.md, "view"): the complete
// set of remote video tiles on screen with their size in device pixels. The server
// forwards video only for these and picks each track's simulcast layer by the size.
//
// This module is the pure part: sizes, the set, and when to send it. view-tracker.js
// watches the page and feeds it. No DOM here, and time comes from an injected clock,
// so web/jstest/view-report.test.mjs can drive it.

import { monotonicNow } from './monotonic.js';

/** MAX_VIEW_TRACKS is the most entries one `view` may carry (the server refuses more). */
export const MAX_VIEW_TRACKS = 64;
/** MAX_SIDE bounds a width or height in device pixels (8K). */
export const MAX_SIDE = 7680;
/**
 * DEBOUNCE_MS: a change of sizes is sent once the view has been still this long... (a
 * tile newly shown goes at once: the server forwards nothing of it until it is listed,
 * and someone who just joined would wait that long for their picture)
 */
export const DEBOUNCE_MS = 300;
/** MAX_WAIT_MS: ...or once the first unsent change is this old (a window dragged for seconds). */
export const MAX_WAIT_MS = 1000;
/** MIN_INTERVAL_MS keeps it to about three messages a second, below the server's rate limit. */
export const MIN_INTERVAL_MS = 334;

const SOURCES = new Set(['camera', 'screen']);
// The server refuses a whole `view` with an id of more than 64 bytes, counted in UTF-8
// (PROTOCOL.md), not in a string's UTF-16 units; its own ids are far shorter.
const MAX_ID_BYTES = 64;
const utf8 = new TextEncoder();

/** idFits reports whether id is one the server takes in a `view`: 1 to MAX_ID_BYTES bytes. */
function idFits(id) {
  // A UTF-16 unit is at least one byte in UTF-8: a longer string need not be encoded.
  return typeof id === 'string' && id !== '' && id.length <= MAX_ID_BYTES && utf8.encode(id).length <= MAX_ID_BYTES;
}

/**
 * deviceSize turns a tile's CSS size into device pixels (× devicePixelRatio, rounded,
 * at most MAX_SIDE), or null for a tile with no area (display: none, collapsed).
 */
export function deviceSize(cssWidth, cssHeight, dpr) {
  const ratio = Number.isFinite(dpr) && dpr > 0 ? dpr : 1;
  if (!(cssWidth > 0) || !(cssHeight > 0)) return null;
  const side = (v) => Math.min(MAX_SIDE, Math.max(1, Math.round(v * ratio)));
  return { width: side(cssWidth), height: side(cssHeight) };
}

/**
 * normalizeView makes a `view` track list from tile entries {participantId, source,
 * width, height}: valid entries only, each (participant, source) once (its largest
 * size), at most MAX_VIEW_TRACKS (the largest tiles), in a fixed order so that two
 * sets compare by value.
 */
export function normalizeView(entries) {
  const byKey = new Map();
  for (const e of entries || []) {
    if (!e || !idFits(e.participantId)) continue;
    if (!SOURCES.has(e.source)) continue;
    if (!Number.isInteger(e.width) || !Number.isInteger(e.height)) continue;
    if (e.width < 1 || e.height < 1 || e.width > MAX_SIDE || e.height > MAX_SIDE) continue;
    const key = `${e.participantId}/${e.source}`;
    const had = byKey.get(key);
    if (!had || e.width * e.height > had.width * had.height) {
      byKey.set(key, { participantId: e.participantId, source: e.source, width: e.width, height: e.height });
    }
  }
  let list = [...byKey.values()];
  if (list.length > MAX_VIEW_TRACKS) {
    list.sort((a, b) => b.width * b.height - a.width * a.height);
    list = list.slice(0, MAX_VIEW_TRACKS);
  }
  return list.sort((a, b) => (viewKey(a) < viewKey(b) ? -1 : viewKey(a) > viewKey(b) ? 1 : 0));
}

/** viewKey names an entry's tile: one per participant and source. */
function viewKey(e) {
  return `${e.participantId}/${e.source}`;
}

/** sameView: two normalized lists show the same tiles at the same sizes. */
export function sameView(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.participantId !== y.participantId || x.source !== y.source || x.width !== y.width || x.height !== y.height) return false;
  }
  return true;
}

/** realClock is the page's own time, monotonic (tests pass harness.mjs's FakeClock instead). */
export const realClock = {
  now: monotonicNow,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

/**
 * ViewReporter decides when the set goes out. The first report of a session goes at
 * once (the server forwards everything at the highest layer until it has one), and so
 * does a set with a tile the server was not told of (someone joined, a tile scrolled
 * into view); other changes (sizes, tiles gone) wait until the view has been still for
 * DEBOUNCE_MS (at most MAX_WAIT_MS after the first unsent change). None goes closer
 * than MIN_INTERVAL_MS to the previous message, and a set equal to the one the server
 * has is not sent again.
 */
export class ViewReporter {
  /** @param {{send: (tracks: object[]) => void, clock?: {now, setTimeout, clearTimeout}}} opts */
  constructor({ send, clock = realClock }) {
    this.send = send;
    this.clock = clock;
    this.sent = null; // the last list sent, or null before the first
    this.sentAt = -Infinity;
    this.want = null; // the newest list reported
    this.firstChange = 0; // when the oldest unsent change was reported
    this.timer = null;
    this.closed = false;
  }

  /** update reports the current tiles (unnormalized entries); see the class comment. */
  update(entries) {
    if (this.closed) return;
    const list = normalizeView(entries);
    this.want = list;
    if (this.sent === null) {
      this._flush();
      return;
    }
    if (sameView(list, this.sent)) {
      // Back to what the server has (a size that wobbled and returned): nothing to say.
      this._cancel();
      return;
    }
    const now = this.clock.now();
    if (this.timer === null) this.firstChange = now;
    else this.clock.clearTimeout(this.timer);
    const told = new Set(this.sent.map(viewKey));
    const added = list.some((e) => !told.has(viewKey(e)));
    const at = Math.max(
      added ? now : Math.min(now + DEBOUNCE_MS, this.firstChange + MAX_WAIT_MS),
      this.sentAt + MIN_INTERVAL_MS,
    );
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this._flush();
    }, Math.max(0, at - now));
  }

  /** resend sends the newest set again at once (the server forgot it: a new connection). */
  resend() {
    if (this.closed || this.want === null) return;
    this._cancel();
    this._flush();
  }

  close() {
    this.closed = true;
    this._cancel();
  }

  _cancel() {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  _flush() {
    if (this.closed || this.want === null) return;
    this.sent = this.want;
    this.sentAt = this.clock.now();
    this.send(this.sent.map((e) => ({ ...e })));
  }
}
