// The E2EE worker started ahead of the join (prewarmMediaWorker in
// web/static/js/e2ee-hooks.js): the session's MediaCrypto takes it instead of starting
// another, is ready at once when the worker said so before, still waits when it did
// not, and starts a worker of its own when the warm one failed or was discarded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeWorker } from './fake-worker.mjs';

import { MediaCrypto, discardWarmWorker, prewarmMediaWorker } from '../static/js/e2ee-hooks.js';

// isReady: the session holds the worker's 'ready' (its flag, set with the promise's
// resolution, so no timer decides the verdict).
async function isReady(mc) {
  if (!mc.isReady) return false;
  await mc.ready;
  return true;
}

function session(selfId) {
  return new MediaCrypto({ api: 'script', selfId });
}

test('a worker that loaded ahead is taken, once, and is ready at once', async () => {
  discardWarmWorker();
  FakeWorker.made = [];
  prewarmMediaWorker();
  prewarmMediaWorker(); // one ahead is enough
  assert.equal(FakeWorker.made.length, 1);
  const w = FakeWorker.made[0];
  assert.equal(w.url, '/static/js/e2ee/worker.js');
  assert.equal(w.opts.type, 'module');
  assert.deepEqual(w.posted, [], 'nothing (no id, no key) goes to it before a session takes it');
  w.say({ t: 'ready' });

  const mc = session('p-aaaa');
  assert.equal(mc.worker, w, 'the session started a worker of its own');
  assert.deepEqual(w.posted[0], { t: 'self', pid: 'p-aaaa' });
  assert.equal(await isReady(mc), true);
  // Once it runs, a spare loads for the page's next session (a resume).
  assert.equal(FakeWorker.made.length, 2);
  const spare = FakeWorker.made[1];
  assert.deepEqual(spare.posted, [], 'nothing (no id, no key) goes to the spare');
  mc.close();

  const next = session('p-bbbb'); // the warm worker went with the first session: the spare
  assert.equal(FakeWorker.made.length, 2, 'the next session started a worker of its own');
  assert.equal(next.worker, spare);
  assert.equal(await isReady(next), false, 'the spare has not said it runs');
  spare.say({ t: 'ready' });
  assert.equal(await isReady(next), true);
  next.close();
  assert.equal(discardWarmWorker(), true, 'the next spare');
});

test('a resume after the network died takes the spare: no module is fetched then', async () => {
  // A path that died without a close leaves the browser's pooled connections dead too:
  // the worker's modules (revalidated, no-cache) never came, and the resumed member
  // sent and received nothing (TestDeadPathNoticedByTheHeartbeat, Firefox).
  discardWarmWorker();
  FakeWorker.made = [];
  const first = session('p-1111');
  FakeWorker.made[0].say({ t: 'ready' });
  assert.equal(await isReady(first), true);
  first.close(); // the drop
  const made = FakeWorker.made.length;
  const resumed = session('p-1111');
  assert.equal(FakeWorker.made.length, made, 'the resumed session loaded a worker over the network');
  FakeWorker.made[made - 1].say({ t: 'ready' });
  assert.equal(await isReady(resumed), true);
  resumed.close();
  discardWarmWorker();
});

test('a worker still loading its modules is given the start\'s 30 s, not the 10 s of silence', () => {
  discardWarmWorker();
  FakeWorker.made = [];
  const realSetInterval = globalThis.setInterval;
  const realNow = performance.now;
  let tick = null;
  let now = 1_000_000;
  globalThis.setInterval = (fn) => { tick = fn; return 0; };
  performance.now = () => now; // the page's monotonic clock (monotonic.js)
  try {
    const errors = [];
    const mc = new MediaCrypto({ api: 'script', selfId: 'p-slow', onError: (e) => errors.push(e) });
    for (let i = 0; i < 10; i++) { now += 2000; tick(); } // 20 s of a slow line
    assert.deepEqual(errors, [], 'a worker loading for 20 s was said to have stopped');
    FakeWorker.made[0].say({ t: 'ready' });
    for (let i = 0; i < 6; i++) { now += 2000; tick(); } // then silent for 12 s
    assert.deepEqual(errors, ['the encryption worker stopped']);
    discardWarmWorker();
    const never = new MediaCrypto({ api: 'script', selfId: 'p-never', onError: (e) => errors.push(e) });
    for (let i = 0; i < 16; i++) { now += 2000; tick(); }
    assert.deepEqual(errors.slice(1), ['the encryption worker did not start']);
    never.close();
  } finally {
    globalThis.setInterval = realSetInterval;
    performance.now = realNow;
  }
});

test('a wall clock set back an hour does not take the hour off a stopped worker\'s silence', () => {
  // The watchdog counted the time between its ticks on Date.now(), each step capped but
  // not floored: the wall clock set back an hour (NTP after a wake, a changed system
  // time) made one step of minus an hour, and a worker that stopped then went unnoticed
  // for that hour. The monotonic clock it reads now does not step.
  discardWarmWorker();
  FakeWorker.made = [];
  const realSetInterval = globalThis.setInterval;
  const realMono = performance.now;
  const realWall = Date.now;
  let tick = null;
  let mono = 1_000_000;
  let wall = 1_700_000_000_000;
  globalThis.setInterval = (fn) => { tick = fn; return 0; };
  performance.now = () => mono;
  Date.now = () => wall;
  const pass = (ms) => { mono += ms; wall += ms; tick(); };
  try {
    const errors = [];
    const mc = new MediaCrypto({ api: 'script', selfId: 'p-step', onError: (e) => errors.push(e) });
    FakeWorker.made[0].say({ t: 'ready' });
    pass(2000);
    wall -= 3_600_000; // the wall clock set back an hour; the worker says nothing from now on
    for (let i = 0; i < 6; i++) pass(2000); // 12 s of silence
    assert.deepEqual(errors, ['the encryption worker stopped'], 'a worker silent for 12 s after the wall clock went back was not noticed');
    mc.close();
  } finally {
    globalThis.setInterval = realSetInterval;
    performance.now = realMono;
    Date.now = realWall;
  }
});

test('a warm worker that has not loaded yet is waited for', async () => {
  discardWarmWorker();
  FakeWorker.made = [];
  prewarmMediaWorker();
  const mc = session('p-cccc');
  const w = FakeWorker.made[0];
  assert.equal(mc.worker, w);
  assert.equal(await isReady(mc), false);
  w.say({ t: 'ready' }); // comes to the session's handler now
  assert.equal(await isReady(mc), true);
  mc.close();
  discardWarmWorker(); // its spare
});

test('a warm worker that failed, or was discarded, is ended and not used', async () => {
  discardWarmWorker();
  FakeWorker.made = [];
  prewarmMediaWorker();
  const failed = FakeWorker.made[0];
  failed.fail();
  const mc = session('p-dddd');
  assert.equal(failed.terminated, true);
  assert.notEqual(mc.worker, failed);
  assert.equal(FakeWorker.made.length, 2);
  mc.close();

  prewarmMediaWorker();
  const unused = FakeWorker.made[2];
  assert.equal(discardWarmWorker(), true); // the meeting turned out not to be encrypted
  assert.equal(unused.terminated, true);
  assert.equal(discardWarmWorker(), false);
  const later = session('p-eeee');
  assert.notEqual(later.worker, unused);
  later.close();
});
