// The E2EE worker started ahead of the join (prewarmMediaWorker in
// web/static/js/e2ee-hooks.js): the session's MediaCrypto takes it instead of starting
// another, is ready at once when the worker said so before, still waits when it did
// not, and starts a worker of its own when the warm one failed or was discarded.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MediaCrypto, discardWarmWorker, prewarmMediaWorker } from '../static/js/e2ee-hooks.js';

/** FakeWorker records what is posted to it; say() delivers a message from the worker. */
class FakeWorker {
  static made = [];
  constructor(url, opts) {
    this.url = url;
    this.opts = opts;
    this.posted = [];
    this.terminated = false;
    this.onmessage = null;
    this.onerror = null;
    FakeWorker.made.push(this);
  }
  postMessage(msg) { this.posted.push(msg); }
  terminate() { this.terminated = true; }
  say(data) { if (this.onmessage) this.onmessage({ data }); }
  fail() { if (this.onerror) this.onerror({ preventDefault() {} }); }
}
globalThis.Worker = FakeWorker;

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
  assert.equal(FakeWorker.made.length, 1, 'the session started no worker of its own');
  assert.equal(mc.worker, w);
  assert.deepEqual(w.posted[0], { t: 'self', pid: 'p-aaaa' });
  assert.equal(await isReady(mc), true);
  mc.close();

  const next = session('p-bbbb'); // the warm worker went with the first session
  assert.equal(FakeWorker.made.length, 2);
  assert.equal(await isReady(next), false);
  next.close();
});

test('a warm worker that has not loaded yet is waited for', async () => {
  FakeWorker.made = [];
  prewarmMediaWorker();
  const mc = session('p-cccc');
  const w = FakeWorker.made[0];
  assert.equal(mc.worker, w);
  assert.equal(await isReady(mc), false);
  w.say({ t: 'ready' }); // comes to the session's handler now
  assert.equal(await isReady(mc), true);
  mc.close();
});

test('a warm worker that failed, or was discarded, is ended and not used', async () => {
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
