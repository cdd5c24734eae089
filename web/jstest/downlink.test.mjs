// What the page makes of `downlink` (web/static/js/downlink.js): the hint while the
// downlink is limited ("paused" wins over "reduced"), a mark on each affected tile,
// nothing left over once everything fits, once a tile leaves, or once the session
// closes for a reconnect; malformed messages change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { DownlinkState, DownlinkView, HINT_PAUSED, HINT_REDUCED, parseDownlink } from '../static/js/downlink.js';

class FakeGrid {
  constructor() {
    this.tiles = new Map();
    this.listeners = new Set();
  }
  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  get(participantId, source = 'camera') { return this.tiles.get(`${participantId}/${source}`) || null; }
  add(participantId, source = 'camera') {
    const tile = { participantId, source };
    this.tiles.set(`${participantId}/${source}`, tile);
    for (const fn of this.listeners) fn();
    return tile;
  }
  remove(participantId, source = 'camera') {
    this.tiles.delete(`${participantId}/${source}`);
    for (const fn of this.listeners) fn();
  }
}

// FakePainter records what the page would show: the hint's key and each tile's mark.
class FakePainter {
  constructor() {
    this.shown = null;
    this.hints = [];
    this.marks = new Map(); // tile -> state
  }
  hint(key) {
    this.shown = key;
    this.hints.push(key);
  }
  markTile(tile, state) {
    if (state) this.marks.set(tile, state);
    else this.marks.delete(tile);
  }
  markOf(tile) { return this.marks.get(tile) || null; }
}

const entry = (participantId, state, source = 'camera') => ({ participantId, source, state });

function setup(...ids) {
  const grid = new FakeGrid();
  const tiles = Object.fromEntries(ids.map((id) => [id, grid.add(id)]));
  const painter = new FakePainter();
  const view = new DownlinkView(grid, painter);
  return { grid, tiles, painter, view };
}

test('a limited downlink shows the hint and marks the affected tiles only', () => {
  const { tiles, painter, view } = setup('p1', 'p2', 'p3');
  assert.equal(view.receive({ limited: true, tracks: [entry('p1', 'reduced')] }), true);
  assert.equal(painter.shown, HINT_REDUCED);
  assert.equal(painter.markOf(tiles.p1), 'reduced');
  assert.equal(painter.markOf(tiles.p2), null);

  view.receive({ limited: true, tracks: [entry('p1', 'reduced'), entry('p2', 'paused')] });
  assert.equal(painter.shown, HINT_PAUSED, 'a paused tile makes the hint say so');
  assert.equal(painter.markOf(tiles.p2), 'paused');
  assert.equal(painter.markOf(tiles.p3), null);

  // The newest message is the whole state: p1 no longer listed loses its mark.
  view.receive({ limited: true, tracks: [entry('p2', 'paused')] });
  assert.equal(painter.markOf(tiles.p1), null);
  assert.equal(painter.markOf(tiles.p2), 'paused');
});

test('limited:false clears the hint and every mark', () => {
  const { tiles, painter, view } = setup('p1', 'p2');
  view.receive({ limited: true, tracks: [entry('p1', 'paused'), entry('p2', 'reduced')] });
  view.receive({ limited: false, tracks: [] });
  assert.equal(painter.shown, null);
  assert.equal(painter.marks.size, 0);
  assert.equal(painter.markOf(tiles.p1), null);
  // Nothing fits and everything fits again: the hint came and went once each.
  assert.deepEqual(painter.hints, [HINT_PAUSED, null]);
});

test('a tile that leaves loses its mark; its return starts unmarked', () => {
  const { grid, tiles, painter, view } = setup('p1', 'p2');
  view.receive({ limited: true, tracks: [entry('p1', 'paused'), entry('p2', 'reduced')] });
  grid.remove('p1');
  assert.equal(painter.markOf(tiles.p1), null);
  assert.equal(painter.shown, HINT_REDUCED, 'still limited, but no paused tile is left');
  const back = grid.add('p1');
  assert.equal(painter.markOf(back), null, 'an old message does not pause a new tile');
  // Until the server says it is fine, the hint stays (limited is the server's word).
  grid.remove('p2');
  assert.equal(painter.shown, HINT_REDUCED);
  view.receive({ limited: false });
  assert.equal(painter.shown, null);
});

test('a new tile of the same person is marked afresh by the next message', () => {
  const { grid, tiles, painter, view } = setup('p1');
  view.receive({ limited: true, tracks: [entry('p1', 'paused')] });
  grid.remove('p1');
  const back = grid.add('p1');
  view.receive({ limited: true, tracks: [entry('p1', 'paused')] });
  assert.equal(painter.markOf(back), 'paused');
  assert.equal(painter.markOf(tiles.p1), null);
});

test('screen and camera tiles of one person are told apart', () => {
  const { grid, tiles, painter, view } = setup('p1');
  const screen = grid.add('p1', 'screen');
  view.receive({ limited: true, tracks: [entry('p1', 'paused', 'screen')] });
  assert.equal(painter.markOf(screen), 'paused');
  assert.equal(painter.markOf(tiles.p1), null);
});

test('close (reconnect, resume, leave) takes the hint and marks away and ignores later messages', () => {
  const { grid, tiles, painter, view } = setup('p1');
  view.receive({ limited: true, tracks: [entry('p1', 'paused')] });
  view.close();
  assert.equal(painter.shown, null);
  assert.equal(painter.marks.size, 0);
  assert.equal(grid.listeners.size, 0, 'the grid listener is gone');
  assert.equal(view.receive({ limited: true, tracks: [entry('p1', 'paused')] }), false);
  assert.equal(painter.markOf(tiles.p1), null);
  // The next session's view starts clean.
  const next = new DownlinkView(grid, painter);
  assert.equal(painter.shown, null);
  next.receive({ limited: true, tracks: [entry('p1', 'reduced')] });
  assert.equal(painter.markOf(tiles.p1), 'reduced');
});

test('tiles the page does not have are not marked, and the message is kept for none', () => {
  const { painter, view } = setup('p1');
  view.receive({ limited: true, tracks: [entry('gone', 'paused')] });
  assert.equal(painter.marks.size, 0);
  assert.equal(painter.shown, HINT_REDUCED);
});

test('malformed messages change nothing', () => {
  const { tiles, painter, view } = setup('p1');
  view.receive({ limited: true, tracks: [entry('p1', 'paused')] });
  const bad = [
    null, 'x', 7, {}, { limited: 'yes', tracks: [] }, { limited: 1 },
    { limited: true, tracks: {} }, { limited: true, tracks: [null] },
    { limited: true, tracks: [entry('p1', 'blurry')] }, { limited: true, tracks: [entry('p1', 'paused', 'mic')] },
    { limited: true, tracks: [entry('', 'paused')] }, { limited: true, tracks: [entry(5, 'paused')] },
    { limited: true, tracks: [entry('x'.repeat(200), 'paused')] },
    { limited: true, tracks: Array.from({ length: 600 }, (_, i) => entry(`p${i}`, 'reduced')) },
  ];
  for (const b of bad) {
    assert.equal(parseDownlink(b), null, JSON.stringify(b)?.slice(0, 80));
    assert.equal(view.receive(b), false);
  }
  assert.equal(painter.shown, HINT_PAUSED);
  assert.equal(painter.markOf(tiles.p1), 'paused');
});

test('parseDownlink: null or missing tracks, duplicates keep the worse state, limited:false ignores tracks', () => {
  assert.deepEqual(parseDownlink({ limited: true, tracks: null }), { limited: true, tracks: new Map() });
  assert.deepEqual(parseDownlink({ limited: false }), { limited: false, tracks: new Map() });
  const dup = parseDownlink({ limited: true, tracks: [entry('p', 'paused'), entry('p', 'reduced')] });
  assert.equal(dup.tracks.get('p/camera'), 'paused');
  assert.equal(parseDownlink({ limited: false, tracks: [entry('p', 'paused')] }).tracks.size, 0);
  // Ids may hold a slash; the source is what follows the last one.
  const s = new DownlinkState();
  s.apply({ limited: true, tracks: [entry('a/b', 'reduced')] });
  assert.equal(s.stateOf('a/b', 'camera'), 'reduced');
  s.keepOnly((id, source) => id === 'a/b' && source === 'camera');
  assert.equal(s.stateOf('a/b', 'camera'), 'reduced');
  assert.equal(s.hint, HINT_REDUCED);
  s.reset();
  assert.equal(s.hint, null);
});
