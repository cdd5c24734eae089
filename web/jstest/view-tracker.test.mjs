// Which remote tiles the page reports as shown (web/static/js/view-tracker.js), with
// the page's observers, document and window played by fakes: remote tiles in the
// viewport with an area count, at their size in device pixels; the own tile, a tile
// the layout hid, one scrolled out of view and everything in a hidden tab do not.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { FakeClock } from './harness.mjs';
import { DEBOUNCE_MS, MIN_INTERVAL_MS } from '../static/js/view-report.js';

class FakeObserver {
  static all = [];
  constructor(cb) {
    this.cb = cb;
    this.targets = new Set();
    FakeObserver.all.push(this);
  }
  observe(t) { this.targets.add(t); }
  unobserve(t) { this.targets.delete(t); }
  disconnect() { this.targets.clear(); }
}
class FakeIO extends FakeObserver {
  fire(node, isIntersecting) { if (this.targets.has(node)) this.cb([{ target: node, isIntersecting }]); }
}
class FakeRO extends FakeObserver {
  fire(node, width, height) { if (this.targets.has(node)) this.cb([{ target: node, contentRect: { width, height } }]); }
}

class FakeEvents {
  constructor(extra) {
    Object.assign(this, extra);
    this.listeners = new Map();
  }
  addEventListener(type, fn) { this.listeners.set(type, fn); }
  removeEventListener(type) { this.listeners.delete(type); }
  emit(type) { const fn = this.listeners.get(type); if (fn) fn(); }
}

globalThis.IntersectionObserver = FakeIO;
globalThis.ResizeObserver = FakeRO;
globalThis.document = new FakeEvents({ visibilityState: 'visible' });
globalThis.window = new FakeEvents({ devicePixelRatio: 2 });
const { ViewTracker } = await import('../static/js/view-tracker.js');

class FakeGrid {
  constructor() {
    this.tiles = new Map();
    this.hidden = new Set();
    this.listeners = new Set();
  }
  add(participantId, source = 'camera', self = false) {
    const tile = { participantId, source, self, node: { isConnected: true, name: `${participantId}/${source}` } };
    this.tiles.set(`${participantId}/${source}`, tile);
    this.changed();
    return tile;
  }
  remove(key) {
    this.tiles.get(key).node.isConnected = false;
    this.tiles.delete(key);
    this.changed();
  }
  onChange(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  isHidden(tile) { return this.hidden.has(tile); }
  changed() { for (const fn of this.listeners) fn(); }
}

function setup() {
  FakeObserver.all = [];
  document.visibilityState = 'visible';
  window.devicePixelRatio = 2;
  const clock = new FakeClock();
  const grid = new FakeGrid();
  const sent = [];
  const self = grid.add('p-self', 'camera', true);
  const ann = grid.add('p-ann');
  const ben = grid.add('p-ben');
  const tracker = new ViewTracker(grid, (tracks) => sent.push(tracks), { clock });
  const [io, ro] = FakeObserver.all;
  const show = (tile, w, h) => { io.fire(tile.node, true); ro.fire(tile.node, w, h); };
  return { clock, grid, sent, self, ann, ben, tracker, io, ro, show };
}

const later = (clock) => clock.advance(DEBOUNCE_MS + MIN_INTERVAL_MS);

test('the first report waits for the observers, then lists the remote tiles in device pixels', () => {
  const { clock, sent, self, ann, ben, io, show } = setup();
  assert.ok(!io.targets.has(self.node), 'the own tile is not observed');
  assert.equal(sent.length, 0);
  show(ann, 320, 180);
  io.fire(ben.node, true);
  assert.equal(sent.length, 0, 'Ben\'s size is not known yet');
  show(ben, 100.3, 56.2);
  assert.deepEqual(sent, [[
    { participantId: 'p-ann', source: 'camera', width: 640, height: 360 },
    { participantId: 'p-ben', source: 'camera', width: 201, height: 112 },
  ]]);
});

test('observers that never report do not hold the first report for long', () => {
  const { clock, sent, ann, show } = setup();
  show(ann, 320, 180);
  clock.advance(1000);
  assert.deepEqual(sent, [[{ participantId: 'p-ann', source: 'camera', width: 640, height: 360 }]]);
});

test('with no tiles to look at, an empty view still goes out', () => {
  FakeObserver.all = [];
  const clock = new FakeClock();
  const grid = new FakeGrid();
  const sent = [];
  grid.add('p-self', 'camera', true);
  new ViewTracker(grid, (tracks) => sent.push(tracks), { clock });
  clock.advance(1000);
  assert.deepEqual(sent, [[]]);
});

test('out of the viewport, hidden by the layout, collapsed or removed: not shown', () => {
  const { clock, grid, sent, ann, ben, io, ro, show } = setup();
  show(ann, 320, 180);
  show(ben, 320, 180);
  later(clock);
  assert.equal(sent.at(-1).length, 2);

  io.fire(ben.node, false); // scrolled out of the strip
  later(clock);
  assert.deepEqual(sent.at(-1).map((e) => e.participantId), ['p-ann']);
  io.fire(ben.node, true);
  grid.hidden.add(ben);
  grid.changed();
  later(clock);
  assert.deepEqual(sent.at(-1).map((e) => e.participantId), ['p-ann'], 'the layout hid it');
  grid.hidden.delete(ben);
  ro.fire(ben.node, 0, 0); // display: none
  later(clock);
  assert.deepEqual(sent.at(-1).map((e) => e.participantId), ['p-ann']);
  ro.fire(ben.node, 320, 180);
  later(clock);
  assert.equal(sent.at(-1).length, 2);

  grid.remove('p-ben/camera');
  assert.ok(!io.targets.has(ben.node) && !ro.targets.has(ben.node), 'a removed tile is no longer observed');
  later(clock);
  assert.deepEqual(sent.at(-1).map((e) => e.participantId), ['p-ann']);
});

test('a new tile and a screen share are reported once seen', () => {
  const { clock, grid, sent, ann, io, show } = setup();
  show(ann, 320, 180);
  const screen = grid.add('p-ann', 'screen');
  assert.ok(io.targets.has(screen.node));
  later(clock);
  assert.equal(sent.length, 1, 'not before the observers saw it');
  show(screen, 960, 540);
  later(clock);
  assert.deepEqual(sent.at(-1).map((e) => `${e.participantId}/${e.source}/${e.width}`), ['p-ann/camera/640', 'p-ann/screen/1920']);
});

test('a hidden tab shows nothing; back in front, the tiles are back', () => {
  const { clock, sent, ann, show } = setup();
  show(ann, 320, 180);
  document.visibilityState = 'hidden';
  document.emit('visibilitychange');
  later(clock);
  assert.deepEqual(sent.at(-1), []);
  document.visibilityState = 'visible';
  document.emit('visibilitychange');
  later(clock);
  assert.deepEqual(sent.at(-1), [{ participantId: 'p-ann', source: 'camera', width: 640, height: 360 }]);
});

test('a zoom that changes devicePixelRatio changes the sizes', () => {
  const { clock, sent, ann, show } = setup();
  show(ann, 320, 180);
  window.devicePixelRatio = 1;
  window.emit('resize');
  later(clock);
  assert.deepEqual(sent.at(-1), [{ participantId: 'p-ann', source: 'camera', width: 320, height: 180 }]);
});

test('close stops observing and reporting', () => {
  const { clock, sent, ann, ben, io, show, tracker } = setup();
  show(ann, 320, 180);
  show(ben, 320, 180);
  tracker.close();
  assert.equal(io.targets.size, 0);
  assert.ok(!document.listeners.has('visibilitychange') && !window.listeners.has('resize'));
  show(ben, 640, 360);
  later(clock);
  assert.equal(sent.length, 1);
});
