// What the server says about this member's downlink (`downlink`, PROTOCOL.md): whether
// the estimated bandwidth covers the video the page shows, and which tiles get a
// smaller layer ("reduced") or no video at all ("paused"). No DOM here: the marks are
// drawn by a painter (downlink-ui.js in the page, a fake in web/jstest/downlink.test.mjs).

/** HINT_REDUCED and HINT_PAUSED (keys) say why some video is worse than its tile calls for. */
export const HINT_REDUCED = 'downlink15.hint.reduced';
export const HINT_PAUSED = 'downlink15.hint.paused';

const STATES = new Set(['reduced', 'paused']);
const SOURCES = new Set(['camera', 'screen']);
// More entries than any meeting has tiles: a message this long is not from a sane server.
const MAX_TRACKS = 512;
const MAX_ID = 128;

/** key names a tile the way the grid does ("participantId/source"). */
export const key = (participantId, source) => `${participantId}/${source}`;

/**
 * parseDownlink reads a `downlink` payload: {limited, tracks: Map key -> state}, or null
 * when it is malformed (then nothing changes). `tracks` may be missing or null (a Go
 * server's empty slice); with `limited: false` it is ignored, since nothing is affected
 * once everything fits. A tile listed twice keeps the worse state.
 */
export function parseDownlink(payload) {
  if (!payload || typeof payload !== 'object') return null;
  const { limited, tracks } = payload;
  if (typeof limited !== 'boolean') return null;
  if (tracks !== undefined && tracks !== null && !Array.isArray(tracks)) return null;
  const list = tracks || [];
  if (list.length > MAX_TRACKS) return null;
  const out = new Map();
  for (const e of list) {
    if (!e || typeof e !== 'object') return null;
    const { participantId, source, state } = e;
    if (typeof participantId !== 'string' || !participantId || participantId.length > MAX_ID) return null;
    if (!SOURCES.has(source) || !STATES.has(state)) return null;
    const k = key(participantId, source);
    if (out.get(k) !== 'paused') out.set(k, state);
  }
  return { limited, tracks: limited ? out : new Map() };
}

/**
 * DownlinkState is the newest `downlink` the page holds, less the tiles that left since
 * (a tile that comes back is not paused by an old message; the server tells again).
 */
export class DownlinkState {
  constructor() {
    this.limited = false;
    this.tracks = new Map(); // key -> 'reduced' | 'paused'
  }

  /** apply takes a raw payload; false (and no change) when it is malformed. */
  apply(payload) {
    const msg = parseDownlink(payload);
    if (!msg) return false;
    this.limited = msg.limited;
    this.tracks = msg.tracks;
    return true;
  }

  /** stateOf is 'reduced', 'paused' or null (the tile gets what its size calls for). */
  stateOf(participantId, source) {
    return this.tracks.get(key(participantId, source)) || null;
  }

  /** keepOnly forgets the tiles for which present(participantId, source) is false. */
  keepOnly(present) {
    for (const k of Array.from(this.tracks.keys())) {
      const cut = k.lastIndexOf('/');
      if (!present(k.slice(0, cut), k.slice(cut + 1))) this.tracks.delete(k);
    }
  }

  /** reset forgets everything (a new connection starts without a hint). */
  reset() {
    this.limited = false;
    this.tracks = new Map();
  }

  /**
   * hint is the key of the text the page shows, or null: while the server says the
   * downlink is limited, "paused" when some shown tile is paused, else "reduced".
   */
  get hint() {
    if (!this.limited) return null;
    for (const s of this.tracks.values()) if (s === 'paused') return HINT_PAUSED;
    return HINT_REDUCED;
  }
}

/**
 * DownlinkView keeps the grid's tiles and the hint in line with the newest `downlink`:
 * painter.markTile(tile, state|null) marks or unmarks one tile, painter.hint(key|null)
 * shows or hides the hint. A tile that leaves the grid drops its mark (and a new tile of
 * the same person starts unmarked); close() takes every mark and the hint away, as a
 * new connection (reconnect, resume) starts without any.
 *
 * grid: {get(participantId, source) -> tile|null, onChange(fn) -> unsubscribe}.
 */
export class DownlinkView {
  constructor(grid, painter) {
    this.grid = grid;
    this.painter = painter;
    this.state = new DownlinkState();
    this.marked = new Map(); // key -> {participantId, source, tile, state}
    this.hintKey = null;
    this.closed = false;
    this.off = grid.onChange(() => this.render());
  }

  /** receive applies a `downlink` payload; false (and nothing changes) when it is malformed. */
  receive(payload) {
    if (this.closed || !this.state.apply(payload)) return false;
    this.render();
    return true;
  }

  render() {
    if (this.closed) return;
    this.state.keepOnly((participantId, source) => !!this.grid.get(participantId, source));
    for (const [k, m] of Array.from(this.marked)) {
      if (this.grid.get(m.participantId, m.source) === m.tile && this.state.tracks.get(k) === m.state) continue;
      this.painter.markTile(m.tile, null);
      this.marked.delete(k);
    }
    for (const [k, state] of this.state.tracks) {
      if (this.marked.has(k)) continue;
      const cut = k.lastIndexOf('/');
      const participantId = k.slice(0, cut);
      const source = k.slice(cut + 1);
      const tile = this.grid.get(participantId, source);
      this.painter.markTile(tile, state);
      this.marked.set(k, { participantId, source, tile, state });
    }
    this._hint(this.state.hint);
  }

  close() {
    if (this.closed) return;
    this.off();
    for (const m of this.marked.values()) this.painter.markTile(m.tile, null);
    this.marked.clear();
    this.state.reset();
    this._hint(null);
    this.closed = true;
  }

  _hint(k) {
    if (k === this.hintKey) return;
    this.hintKey = k;
    this.painter.hint(k);
  }
}
