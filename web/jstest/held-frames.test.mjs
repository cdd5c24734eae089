// The media worker's held run (web/static/js/e2ee/held-frames.js): a newcomer's first
// keyframe of a sender that arrives just before the sender's key is decrypted once the
// key is there, with the frames after it, instead of lost; nothing is ever passed on
// that does not authenticate under the sender's key. The worker itself runs here, fed
// encoded frames through the same transform a browser's RTCRtpScriptTransform uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { HeldRun, MAX_AGE_MS, MAX_FRAMES } from '../static/js/e2ee/held-frames.js';
import { MediaRings } from '../static/js/e2ee/media-rings.js';
import { CAMERA, VP8 } from '../static/js/e2ee/frame.js';
import { eventually, loadMediaWorker, tick } from './harness.mjs';

const A = 'p-alice'; // the sender
const B = 'p-bob'; // the receiver (the worker's page)
const C = 'p-carol'; // another member, whose frames the server may pass off as A's
// Each worker test has a sender of its own, so that no key of an earlier test is held
// for it (a held key would make a later index a ratchet guess, not a missing key).
const D = 'p-dave';
const E = 'p-erin';

const range = (n, start = 0) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
// VP8 payloads: a keyframe (key bit clear) and delta frames (set), each made unique.
const keyframe = (n) => new Uint8Array([0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, n, ...range(60, n)]);
const delta = (n) => new Uint8Array([0x31, n, ...range(40, n)]);
const hex = (x) => Buffer.from(new Uint8Array(x)).toString('hex');

test('held run: starts at a keyframe, one sender, bounded, let go when it cannot be needed', () => {
  const h = new HeldRun();
  h.failed('d0', false, A, 0);
  assert.equal(h.size, 0, 'a delta frame before any keyframe is not kept');
  h.failed('k1', true, A, 10);
  h.failed('d1', false, A, 20);
  assert.equal(h.size, 2);
  assert.equal(h.usable(B, 30), false, 'another sender: not usable');
  assert.equal(h.usable(A, 30), true);

  h.failed('k2', true, A, 30);
  assert.deepEqual(h.frames, ['k2'], 'a later keyframe starts the run again');
  assert.equal(h.usable(A, 30 + MAX_AGE_MS), true);
  assert.equal(h.usable(A, 30 + MAX_AGE_MS + 1), false, 'too old');
  h.clear();
  assert.equal(h.size, 0);
  assert.equal(h.usable(A, 30), false, 'an empty run is not usable');

  h.failed('k1', true, A, 10);
  h.failed('x', false, C, 20);
  assert.equal(h.size, 0, 'a frame of another sender ends the run');

  h.failed('k1', true, A, 10);
  for (let i = 1; i < MAX_FRAMES; i++) h.failed(`d${i}`, false, A, 10 + i);
  assert.equal(h.size, MAX_FRAMES);
  h.failed('one too many', false, A, 50);
  assert.equal(h.size, 0, 'a run too long to hold is let go whole');
});

// The worker, loaded as a browser loads it (harness.mjs).
await loadMediaWorker();

// sender makes participant pid's key ring with key index `index`, and its raw key.
async function sender(pid, index) {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const rings = new MediaRings();
  rings.setSelf(pid);
  await rings.setOwn(index, raw);
  return { raw, rings, index };
}

// receiver attaches a video receiver on slot to the worker and returns a function that
// feeds it one encoded frame and the plain payloads it has passed on so far.
let slots = 0;
function receiver() {
  const slot = ++slots;
  let feed;
  const readable = new ReadableStream({ start: (c) => { feed = c; } });
  const out = [];
  const writable = new WritableStream({ write: (frame) => { out.push(hex(frame.data)); } });
  self.onrtctransform({ transformer: { readable, writable, options: { dir: 'recv', kind: 'video', slot, id: `r${slot}` } } });
  return { slot, out, push: (data, type) => feed.enqueue({ data, type }) };
}

async function encrypted(s, plain) {
  return s.rings.encrypt(plain.buffer.slice(0), VP8, CAMERA);
}

// message hands the worker a page message and lets its queue apply it (route and self
// are applied at once; a key, see giveKey).
async function message(msg) {
  self.onmessage({ data: msg });
  await tick(20);
}

// giveKey hands the worker s's key and waits until it is installed: a receiver of its
// own, routed to the same sender, is fed delta frames (never held) until one decrypts.
async function giveKey(pid, s) {
  self.onmessage({ data: { t: 'key', pid, index: s.index, raw: s.raw } });
  const probe = receiver();
  await message({ t: 'route', slot: probe.slot, pid, source: 'camera' });
  await eventually(async () => {
    probe.push(await encrypted(s, delta(0)), 'delta');
    await tick(5);
    return probe.out.length > 0;
  }, `${pid}'s key installed`);
}

test('worker: a keyframe that came before its key is passed on once the key comes, with what followed', async () => {
  await message({ t: 'self', pid: B });
  const a = await sender(A, 1);
  const r = receiver();
  await message({ t: 'route', slot: r.slot, pid: A, source: 'camera' });

  const k = keyframe(1), d1 = delta(2), d2 = delta(3);
  r.push(await encrypted(a, k), 'key');
  r.push(await encrypted(a, d1), 'delta');
  await tick(20);
  assert.deepEqual(r.out, [], 'nothing passed on without the key');

  await giveKey(A, a);
  r.push(await encrypted(a, d2), 'delta');
  await eventually(() => r.out.includes(hex(d2)), 'the frame after the key');
  assert.deepEqual(r.out, [hex(k), hex(d1), hex(d2)], 'in order, decrypted');
});

test('worker: a held run under a key that never comes is dropped, and live frames pass', async () => {
  await message({ t: 'self', pid: B });
  const before = await sender(D, 4); // the sender's key before the newcomer's join
  const after = await sender(D, 5); // the ratcheted one the newcomer is given
  const r = receiver();
  await message({ t: 'route', slot: r.slot, pid: D, source: 'camera' });

  r.push(await encrypted(before, keyframe(9)), 'key');
  await tick(20);
  await giveKey(D, after);
  const d = delta(10), k = keyframe(11), d2 = delta(12);
  r.push(await encrypted(after, d), 'delta');
  r.push(await encrypted(after, k), 'key');
  r.push(await encrypted(after, d2), 'delta');
  await eventually(() => r.out.includes(hex(d2)), 'the live frames');
  assert.deepEqual(r.out, [hex(d), hex(k), hex(d2)], 'the frame under the old key is never passed on');
});

test('worker: a forged keyframe held for want of a key is dropped when the key comes', async () => {
  await message({ t: 'self', pid: B });
  const a = await sender(E, 7);
  const c = await sender(C, 7); // Carol's frame, same key index, forwarded as Erin's
  const r = receiver();
  await message({ t: 'route', slot: r.slot, pid: E, source: 'camera' });

  r.push(await encrypted(c, keyframe(20)), 'key');
  r.push(await encrypted(c, delta(21)), 'delta');
  await tick(20);
  await giveKey(E, a);
  const k = keyframe(22);
  r.push(await encrypted(a, k), 'key');
  await eventually(() => r.out.includes(hex(k)), "Erin's own keyframe");
  assert.deepEqual(r.out, [hex(k)], "nothing of Carol's frames");
});
