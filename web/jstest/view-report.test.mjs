// What a subscriber reports as shown (web/static/js/view-report.js): sizes in device
// pixels, the set as the server gets it, and when it goes out (debounced on a fake
// clock, about three messages a second at most, nothing repeated).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  ViewReporter, deviceSize, normalizeView, sameView,
  DEBOUNCE_MS, MAX_WAIT_MS, MIN_INTERVAL_MS, MAX_VIEW_TRACKS, MAX_SIDE,
} from '../static/js/view-report.js';
import { FakeClock } from './harness.mjs';

const cam = (participantId, width, height) => ({ participantId, source: 'camera', width, height });

test('sizes are CSS pixels times devicePixelRatio, rounded and bounded', () => {
  assert.deepEqual(deviceSize(320, 180, 1), { width: 320, height: 180 });
  assert.deepEqual(deviceSize(320.4, 180.6, 2), { width: 641, height: 361 });
  assert.deepEqual(deviceSize(100, 50, 1.25), { width: 125, height: 63 });
  assert.deepEqual(deviceSize(0.2, 0.2, 1), { width: 1, height: 1 });
  assert.deepEqual(deviceSize(5000, 3000, 3), { width: MAX_SIDE, height: MAX_SIDE });
  // A bad ratio counts as 1; a tile without area is not shown.
  assert.deepEqual(deviceSize(200, 100, NaN), { width: 200, height: 100 });
  assert.deepEqual(deviceSize(200, 100, 0), { width: 200, height: 100 });
  for (const [w, h] of [[0, 100], [100, 0], [-1, 5], [NaN, 5], [undefined, 5]]) assert.equal(deviceSize(w, h, 1), null);
});

test('the set has each tile once, valid entries only, in a fixed order', () => {
  const list = normalizeView([
    cam('p-b', 320, 180),
    cam('p-a', 640, 360),
    { participantId: 'p-a', source: 'screen', width: 1280, height: 720 },
    cam('p-b', 160, 90), // the same tile twice: its larger size counts
    cam('p-c', 0, 90),
    cam('p-c', 100.5, 90),
    cam('p-c', MAX_SIDE + 1, 90),
    { participantId: 'p-d', source: 'microphone', width: 10, height: 10 },
    { participantId: '', source: 'camera', width: 10, height: 10 },
    cam('p-'.padEnd(65, 'x'), 10, 10),
    // The server counts an id's UTF-8 bytes (64 at most), not its UTF-16 units: 34
    // units, 66 bytes, would have it refuse the whole view; 33 units, 64 bytes, it takes.
    cam('p-'.padEnd(34, 'é'), 10, 10),
    cam('p-'.padEnd(33, 'é'), 10, 10),
    null,
  ]);
  assert.deepEqual(list, [
    cam('p-a', 640, 360),
    { participantId: 'p-a', source: 'screen', width: 1280, height: 720 },
    cam('p-b', 320, 180),
    cam('p-'.padEnd(33, 'é'), 10, 10),
  ]);
  assert.ok(sameView(list, normalizeView([...list].reverse())));
  assert.ok(!sameView(list, normalizeView([cam('p-a', 640, 360)])));
  assert.ok(!sameView(list, normalizeView([cam('p-a', 640, 361), list[1], list[2]])));
  assert.ok(sameView([], normalizeView([])));
  assert.deepEqual(normalizeView(undefined), []);
});

test('more tiles than a view may carry: the largest are kept', () => {
  const many = [];
  for (let i = 0; i < MAX_VIEW_TRACKS + 10; i++) many.push(cam(`p-${String(i).padStart(3, '0')}`, 100 + i, 100));
  const list = normalizeView(many);
  assert.equal(list.length, MAX_VIEW_TRACKS);
  assert.ok(list.every((e) => e.width >= 110), 'the ten smallest are the ones left out');
});

function reporter() {
  const clock = new FakeClock();
  const sent = [];
  const r = new ViewReporter({ send: (tracks) => sent.push({ at: clock.now(), tracks }), clock });
  return { clock, sent, r };
}

test('the first report goes at once, a new size after the view has been still', () => {
  const { clock, sent, r } = reporter();
  r.update([]);
  assert.deepEqual(sent.map((s) => s.tracks), [[]], 'an empty set is a set too: nothing is shown');
  clock.advance(5000);
  r.update([cam('p-a', 640, 360)]);
  clock.advance(0);
  assert.equal(sent.length, 2, 'a tile newly shown goes at once');
  clock.advance(5000);
  r.update([cam('p-a', 620, 350)]);
  clock.advance(DEBOUNCE_MS - 1);
  assert.equal(sent.length, 2);
  r.update([cam('p-a', 600, 340)]); // still being resized: the wait starts over
  clock.advance(DEBOUNCE_MS - 1);
  assert.equal(sent.length, 2);
  clock.advance(1);
  assert.equal(sent.length, 3);
  assert.deepEqual(sent[2].tracks, [cam('p-a', 600, 340)]);
  clock.advance(10_000);
  assert.equal(sent.length, 3, 'nothing more without a change');
});

test('a tile newly shown does not wait for the view to be still, a tile gone does', () => {
  const { clock, sent, r } = reporter();
  r.update([cam('p-a', 640, 360)]);
  clock.advance(5000);
  // Someone joins: the layout shrinks the tile there was and adds one, then settles.
  r.update([cam('p-a', 320, 180), cam('p-b', 320, 180)]);
  clock.advance(0);
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[1].tracks, [cam('p-a', 320, 180), cam('p-b', 320, 180)]);
  r.update([cam('p-a', 318, 180), cam('p-b', 318, 180)]); // a size settling after it
  clock.advance(MIN_INTERVAL_MS - 1);
  assert.equal(sent.length, 2, 'sizes wait for the view to be still and the minimum interval');
  // A third tile while the interval runs goes as soon as the interval allows.
  r.update([cam('p-a', 318, 180), cam('p-b', 318, 180), cam('p-c', 318, 180)]);
  clock.advance(1);
  assert.equal(sent.length, 3);
  assert.equal(sent[2].at - sent[1].at, MIN_INTERVAL_MS);
  assert.equal(sent[2].tracks.length, 3);
  clock.advance(5000);
  r.update([cam('p-a', 318, 180), cam('p-b', 318, 180)]); // someone left
  clock.advance(DEBOUNCE_MS - 1);
  assert.equal(sent.length, 3, 'a tile gone waits like a size');
  clock.advance(1);
  assert.equal(sent.length, 4);
});

test('a set equal to what the server has is not sent again', () => {
  const { clock, sent, r } = reporter();
  r.update([cam('p-a', 640, 360)]);
  r.update([cam('p-a', 640, 360)]);
  clock.advance(1000);
  assert.equal(sent.length, 1);
  r.update([cam('p-a', 641, 360)]);
  r.update([cam('p-a', 640, 360)]); // it wobbled back before going out
  clock.advance(1000);
  assert.equal(sent.length, 1);
});

test('a view that keeps changing still goes out, about three times a second at most', () => {
  const { clock, sent, r } = reporter();
  r.update([]);
  const start = clock.now();
  for (let i = 0; i < 300; i++) { // a window dragged for 3 s, a new size every 10 ms
    r.update([cam('p-a', 300 + i, 200)]);
    clock.advance(10);
  }
  clock.advance(DEBOUNCE_MS);
  const times = sent.map((s) => s.at);
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= MIN_INTERVAL_MS, `gap ${times[i] - times[i - 1]}`);
  assert.ok(times[1] - start <= MAX_WAIT_MS, 'the first change did not wait for the drag to end');
  assert.ok(sent.length >= 3 && sent.length <= 1 + 3300 / MIN_INTERVAL_MS, `${sent.length} messages`);
  assert.deepEqual(sent.at(-1).tracks, [cam('p-a', 599, 200)], 'the last one is the final size');
});

test('changes right after a message wait for the minimum interval', () => {
  const { clock, sent, r } = reporter();
  r.update([cam('p-a', 100, 100)]);
  r.update([cam('p-b', 100, 100)]);
  clock.advance(DEBOUNCE_MS);
  assert.equal(sent.length, 1);
  clock.advance(MIN_INTERVAL_MS - DEBOUNCE_MS);
  assert.equal(sent.length, 2);
  assert.equal(sent[1].at - sent[0].at, MIN_INTERVAL_MS);
});

test('resend repeats the current set at once; close stops everything', () => {
  const { clock, sent, r } = reporter();
  r.resend();
  assert.equal(sent.length, 0, 'nothing to resend before the first report');
  r.update([cam('p-a', 100, 100)]);
  r.update([cam('p-a', 200, 100)]);
  r.resend();
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[1].tracks, [cam('p-a', 200, 100)]);
  clock.advance(1000);
  assert.equal(sent.length, 2, 'the pending change went out with the resend');
  r.update([cam('p-b', 100, 100)]);
  r.close();
  clock.advance(5000);
  r.update([cam('p-c', 100, 100)]);
  r.resend();
  assert.equal(sent.length, 2);
});

test('what is sent cannot be changed by the receiver of the message', () => {
  const { clock, sent, r } = reporter();
  r.update([cam('p-a', 100, 100)]);
  sent[0].tracks[0].width = 5;
  r.update([cam('p-a', 100, 100)]);
  clock.advance(1000);
  assert.equal(sent.length, 1);
});
