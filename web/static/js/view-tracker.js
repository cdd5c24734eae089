// Which remote video tiles this page shows, and how large: the input of `view`
// (view-report.js decides when it goes out). A remote tile counts as shown when the tab
// is visible, the layout has not put it out of sight (layout.js: a hidden tile), and
// some of it is inside the viewport (IntersectionObserver: a tile scrolled out of the
// filmstrip is not shown). Its size is the tile's box (ResizeObserver) in device
// pixels, so a filmstrip thumbnail gets a small layer and the speaker a large one.
//
// A tile whose person has the camera off still counts while it is on screen: when the
// camera comes on, its video is forwarded at once instead of after another `view`.

import { ViewReporter, deviceSize, realClock } from './view-report.js';

// The first report waits for the observers' first look at every remote tile (their
// callbacks come with the next rendered frame; a hidden tab renders none), but not
// longer than this. Without remote tiles it goes at once.
const FIRST_LOOK_MS = 250;

export class ViewTracker {
  /**
   * @param {Grid} grid
   * @param {(tracks: object[]) => void} send sends a `view` with these tracks
   * @param {{clock?: {now, setTimeout, clearTimeout}}} opts (tests: a fake clock)
   */
  constructor(grid, send, { clock = realClock } = {}) {
    this.grid = grid;
    this.clock = clock;
    this.reporter = new ViewReporter({ send, clock });
    this.inView = new WeakMap(); // tile node -> intersects the viewport
    this.sizes = new WeakMap(); // tile node -> {width, height} in CSS pixels
    this.observed = new Set(); // tile nodes being observed
    this.closed = false;
    this.started = false;

    this.io = new IntersectionObserver((entries) => {
      for (const e of entries) this.inView.set(e.target, e.isIntersecting);
      this._changed();
    });
    this.ro = new ResizeObserver((entries) => {
      for (const e of entries) this.sizes.set(e.target, { width: e.contentRect.width, height: e.contentRect.height });
      this._changed();
    });
    this._onVisibility = () => this._changed();
    document.addEventListener('visibilitychange', this._onVisibility);
    // Zooming changes devicePixelRatio, and fires resize.
    window.addEventListener('resize', this._onVisibility);
    this._unlisten = grid.onChange(() => this._tiles());
    this._tiles();
    this._firstLook = clock.setTimeout(() => {
      this._start();
      this._changed();
    }, FIRST_LOOK_MS);
  }

  /** resend sends the current set again at once (the server's side was replaced). */
  resend() {
    this.reporter.resend();
  }

  /** shown lists what is reported now (test hooks and debugging). */
  shown() {
    return this._entries();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this._firstLook);
    this.io.disconnect();
    this.ro.disconnect();
    this.observed.clear();
    document.removeEventListener('visibilitychange', this._onVisibility);
    window.removeEventListener('resize', this._onVisibility);
    this._unlisten();
    this.reporter.close();
  }

  _start() {
    if (this.started) return;
    this.started = true;
    this.clock.clearTimeout(this._firstLook);
  }

  /** _tiles observes the grid's remote tiles and forgets removed ones. */
  _tiles() {
    if (this.closed) return;
    const now = new Set();
    for (const tile of this.grid.tiles.values()) {
      if (tile.self) continue;
      now.add(tile.node);
      if (!this.observed.has(tile.node)) {
        this.observed.add(tile.node);
        this.io.observe(tile.node);
        this.ro.observe(tile.node);
      }
    }
    for (const node of this.observed) {
      if (now.has(node)) continue;
      this.observed.delete(node);
      this.io.unobserve(node);
      this.ro.unobserve(node);
    }
    this._changed();
  }

  _entries() {
    if (document.visibilityState === 'hidden') return [];
    const out = [];
    const dpr = window.devicePixelRatio || 1;
    for (const tile of this.grid.tiles.values()) {
      if (tile.self || !tile.node.isConnected || this.grid.isHidden(tile)) continue;
      if (!this.inView.get(tile.node)) continue;
      const css = this.sizes.get(tile.node);
      const size = css && deviceSize(css.width, css.height, dpr);
      if (!size) continue;
      out.push({ participantId: tile.participantId, source: tile.source, ...size });
    }
    return out;
  }

  _changed() {
    if (this.closed) return;
    // The first report waits until both observers have looked at every tile.
    if (!this.started && [...this.observed].every((n) => this.inView.has(n) && this.sizes.has(n))) this._start();
    if (!this.started) return;
    this.reporter.update(this._entries());
  }
}
